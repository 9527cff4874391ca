package io.pgvault.server.config;

import io.micronaut.context.env.PropertySource;
import io.micronaut.context.env.yaml.YamlPropertySourceLoader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The server's configuration file: {@code --config FILE}, else {@code PGVAULT_CONFIG}, else
 * {@value #STANDARD} when it exists. YAML with the keys of application.yml. It ranks above the
 * built-in defaults and below environment variables and system properties, so a systemd
 * drop-in's {@code Environment=} still overrides the file, as DBAs expect from
 * pgBackRest's and Barman's packages.
 */
public final class ConfigFile {

    /** Where a package puts it; read when present and nothing else names a file. */
    public static final String STANDARD = "/etc/pgvault/pgvault.yml";

    /** The property that tells the rest of the server which file was read (for its start-up report). */
    public static final String LOCATION_PROPERTY = "pgvault.config-file";

    /** application.yml is at -300 and environment variables at -200 (Micronaut's positions): between them. */
    static final int PRIORITY = -250;

    /** Just above the environment's -200, below system properties (-100). */
    static final int ALIAS_PRIORITY = -199;

    private static final String OPTION = "--config";

    private ConfigFile() {
    }

    /** The server's arguments split into the configuration file they name (if any) and the rest, which go to Micronaut. */
    public record Arguments(Optional<Path> file, String[] rest) {
    }

    /**
     * Which file to read: {@code --config FILE} or {@code --config=FILE} among {@code args}, else
     * {@code PGVAULT_CONFIG} in {@code env}, else {@code standard} when it is a file.
     */
    public static Arguments locate(String[] args, Map<String, String> env, Path standard) {
        List<String> rest = new ArrayList<>();
        Path named = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals(OPTION)) {
                if (i + 1 >= args.length || args[i + 1].isBlank()) {
                    throw new IllegalArgumentException("--config needs a file: --config /etc/pgvault/pgvault.yml");
                }
                named = Path.of(args[++i]);
            } else if (a.startsWith(OPTION + "=")) {
                named = Path.of(a.substring(OPTION.length() + 1));
            } else {
                rest.add(a);
            }
        }
        if (named == null) {
            String fromEnv = env.get("PGVAULT_CONFIG");
            if (fromEnv != null && !fromEnv.isBlank()) {
                named = Path.of(fromEnv);
            } else if (Files.isRegularFile(standard)) {
                named = standard;
            }
        }
        return new Arguments(Optional.ofNullable(named).map(p -> p.toAbsolutePath().normalize()), rest.toArray(String[]::new));
    }

    /**
     * {@code PGVAULT_HOST}, the README's name for the listening address, as a setting that ranks
     * with the environment: application.yml's {@code ${PGVAULT_HOST:127.0.0.1}} alone would lose
     * to a configuration file's {@code micronaut.server.host}.
     */
    public static Optional<PropertySource> environmentAliases(Map<String, String> env) {
        String host = env.get("PGVAULT_HOST");
        if (host == null || host.isBlank()) {
            return Optional.empty();
        }
        return Optional.of(PropertySource.of("PGVAULT_HOST", Map.of("micronaut.server.host", host), ALIAS_PRIORITY));
    }

    /**
     * The file's settings as a property source. A file that was named but cannot be read stops
     * the server: starting on defaults instead would archive into a repository nobody meant.
     */
    public static PropertySource load(Path file) {
        Map<String, Object> values;
        try (InputStream in = Files.newInputStream(file)) {
            values = new HashMap<>(new YamlPropertySourceLoader().read(file.toString(), in));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("the configuration file " + file + " does not exist (named by --config or PGVAULT_CONFIG)"
                    + "; create it (the distribution's etc/pgvault.yml is a template) or name another one");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the configuration file " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            // The parser's first line only: the rest quotes the file, which may hold a password.
            String reason = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            throw new IllegalArgumentException("the configuration file " + file + " is not valid YAML: " + reason, e);
        }
        values.put(LOCATION_PROPERTY, file.toString());
        return PropertySource.of("config file " + file, values, PRIORITY);
    }
}

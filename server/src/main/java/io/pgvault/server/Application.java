package io.pgvault.server;

import io.micronaut.runtime.Micronaut;
import io.pgvault.server.config.ConfigFile;

import java.nio.file.Path;

/**
 * Starts the pgvault server (see the README's first command). {@code --config FILE} (or
 * {@code PGVAULT_CONFIG}, or {@value ConfigFile#STANDARD}) adds a configuration file.
 */
public final class Application {

    private Application() {
    }

    public static void main(String[] args) {
        ConfigFile.Arguments arguments;
        Micronaut server;
        try {
            arguments = ConfigFile.locate(args, System.getenv(), Path.of(ConfigFile.STANDARD));
            server = Micronaut.build(arguments.rest()).mainClass(Application.class);
            arguments.file().ifPresent(file -> server.propertySources(ConfigFile.load(file)));
            ConfigFile.environmentAliases(System.getenv()).ifPresent(server::propertySources);
        } catch (IllegalArgumentException e) {
            System.err.println("pgvault-server: " + e.getMessage());
            System.exit(2);
            return;
        }
        server.start();
    }
}

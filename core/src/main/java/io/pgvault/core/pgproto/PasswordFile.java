package io.pgvault.core.pgproto;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * libpq's password file: {@code passfile} in the conninfo, else {@code PGPASSFILE}, else
 * {@code ~/.pgpass}. Lines are {@code hostname:port:database:username:password}; {@code *}
 * matches anything, {@code \:} and {@code \\} escape, {@code #} starts a comment, and the
 * first matching line wins. As libpq does, a file that is not a regular file or that the
 * group or others can access is ignored with a warning, so a password others can read is
 * never used.
 */
public final class PasswordFile {

    private static final EnumSet<PosixFilePermission> GROUP_OR_OTHERS = EnumSet.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

    private PasswordFile() {
    }

    /** Which file libpq would read for this conninfo. */
    public static Path location(Conninfo conninfo, ClientEnvironment env) {
        return env.setting(conninfo, "passfile", "PGPASSFILE").map(Path::of).orElse(env.home().resolve(".pgpass"));
    }

    /**
     * @param database what the connection asks for: {@code replication} for a physical replication connection, as pg_basebackup does
     * @param warn told why a file was skipped
     */
    public static Optional<String> lookup(Conninfo conninfo, String database, ClientEnvironment env, Consumer<String> warn) {
        Path file = location(conninfo, env);
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        if (!Files.isRegularFile(file)) {
            warn.accept("password file " + file + " is not a plain file: ignored");
            return Optional.empty();
        }
        try {
            if (Files.getPosixFilePermissions(file).stream().anyMatch(GROUP_OR_OTHERS::contains)) {
                warn.accept("password file " + file + " has group or world access; permissions should be u=rw (0600) or less: ignored");
                return Optional.empty();
            }
        } catch (UnsupportedOperationException e) {
            // no POSIX permissions on this file system: nothing to check
        } catch (IOException e) {
            warn.accept("cannot read password file " + file + ": " + e.getMessage());
            return Optional.empty();
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            warn.accept("cannot read password file " + file + ": " + e.getMessage());
            return Optional.empty();
        }
        // libpq matches the host as written (host, else hostaddr) and the port as text.
        String host = conninfo.get("host").filter(h -> !h.isEmpty()).or(() -> conninfo.get("hostaddr")).orElse("localhost");
        List<String> wanted = List.of(host, Integer.toString(conninfo.port()), database, conninfo.user());
        for (String line : lines) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            List<String> fields = fields(line);
            if (fields.size() < 5) {
                continue;
            }
            boolean matches = true;
            for (int i = 0; i < 4 && matches; i++) {
                matches = fields.get(i).equals("*") || fields.get(i).equals(wanted.get(i));
            }
            if (matches) {
                return Optional.of(fields.get(4));
            }
        }
        return Optional.empty();
    }

    /** The four match fields and the password (the rest of the line), unescaped. */
    private static List<String> fields(String line) {
        List<String> fields = new ArrayList<>(5);
        StringBuilder field = new StringBuilder();
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\\' && i + 1 < line.length()) {
                field.append(line.charAt(++i));
            } else if (c == ':') {
                if (fields.size() == 4) {
                    break; // libpq ends the password at an unescaped colon
                }
                fields.add(field.toString());
                field.setLength(0);
            } else {
                field.append(c);
            }
        }
        fields.add(field.toString());
        return fields;
    }
}

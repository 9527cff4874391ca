package io.pgvault.core.pgproto;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * What libpq reads besides the connection string: its environment variables
 * ({@code PGSSLMODE}, {@code PGPASSFILE}, ...) and the home directory that holds
 * {@code ~/.pgpass} and {@code ~/.postgresql/}. A value, so tests can give their own.
 */
public record ClientEnvironment(Map<String, String> variables, Path home) {

    public static ClientEnvironment system() {
        return new ClientEnvironment(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    /** A conninfo keyword's value, else its libpq environment variable's (empty values count as unset, as in libpq). */
    Optional<String> setting(Conninfo conninfo, String keyword, String variable) {
        return conninfo.get(keyword).filter(v -> !v.isEmpty()).or(() -> Optional.ofNullable(variables.get(variable)).filter(v -> !v.isEmpty()));
    }

    /** A file under {@code ~/.postgresql}, where libpq looks for certificates and keys by default. */
    Path postgresqlDirectory(String file) {
        return home.resolve(".postgresql").resolve(file);
    }
}

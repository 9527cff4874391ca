package io.pgvault.server.datadir;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/** Where an embedded H2 database named by a JDBC URL keeps its files. */
public final class H2Location {

    private static final String PREFIX = "jdbc:h2:";

    private H2Location() {
    }

    /**
     * The database's path without H2's suffixes ({@code .../catalog} for {@code catalog.mv.db}),
     * or empty when the URL is not H2's or keeps nothing in a local file (mem:, tcp:, ssl:,
     * or another of H2's file systems, which pgvault leaves alone).
     */
    public static Optional<Path> of(String jdbcUrl) {
        if (jdbcUrl == null || !jdbcUrl.toLowerCase(Locale.ROOT).startsWith(PREFIX)) {
            return Optional.empty();
        }
        String name = jdbcUrl.substring(PREFIX.length());
        int settings = name.indexOf(';');
        if (settings >= 0) {
            name = name.substring(0, settings);
        }
        if (name.startsWith("file:")) {
            name = name.substring("file:".length());
        } else if (name.matches("[A-Za-z][A-Za-z0-9]+:.*")) {
            return Optional.empty();
        }
        if (name.isEmpty()) {
            return Optional.empty();
        }
        if (name.equals("~") || name.startsWith("~/")) {
            name = System.getProperty("user.home") + name.substring(1);
        }
        return Optional.of(Path.of(name).toAbsolutePath().normalize());
    }
}

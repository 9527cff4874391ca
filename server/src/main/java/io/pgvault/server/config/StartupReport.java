package io.pgvault.server.config;

import io.micronaut.context.annotation.Value;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import io.pgvault.core.storage.RepositoryUrl;
import io.pgvault.server.datadir.H2Location;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;

/**
 * Says at start, with absolute paths, what this server reads and writes: a server started from
 * another directory on the built-in defaults would otherwise quietly archive into a new, empty
 * {@code ./pgvault-data} there, and the DBA learns it on the day of a restore.
 */
@Singleton
public class StartupReport implements ApplicationEventListener<ServerStartupEvent> {

    private static final Logger LOG = LoggerFactory.getLogger(StartupReport.class);

    private final String configFile;
    private final String repository;
    private final String catalog;
    private final Path dataDir;

    public StartupReport(ServerConfig server, RepositoryConfig repository, @Value("${pgvault.catalog.url}") String catalog,
                         @Value("${" + ConfigFile.LOCATION_PROPERTY + ":}") @Nullable String configFile) {
        this.configFile = configFile == null ? "" : configFile;
        this.repository = repository.getUrl();
        this.catalog = catalog;
        this.dataDir = Path.of(server.getDataDir()).toAbsolutePath().normalize();
    }

    @Override
    public void onApplicationEvent(ServerStartupEvent event) {
        LOG.info("pgvault server on port {}: configuration {}; repository {}; catalog {}; data directory (spool, backups in flight) {}",
                event.getSource().getPort(),
                configFile.isEmpty() ? "built-in defaults and environment (no --config, PGVAULT_CONFIG or " + ConfigFile.STANDARD + ")"
                        : "file " + configFile + " and environment",
                RepositoryUrl.parse(repository), redacted(catalog), dataDir);
        Path oldDefault = Path.of("pgvault-data").toAbsolutePath().normalize();
        if (!oldDefault.equals(dataDir) && java.nio.file.Files.isDirectory(oldDefault)) {
            LOG.warn("{} exists here but this server uses {}: if it holds the repository or catalog of an earlier start, set "
                    + "pgvault.data-dir (or the repository and catalog URLs) to it, or move it, before clusters archive into an empty one",
                    oldDefault, dataDir);
        }
    }

    /** A JDBC URL as it may be logged: without a password parameter. */
    static String redacted(String jdbcUrl) {
        String shown = jdbcUrl.replaceAll("(?i)(password=)[^;&]*", "$1***");
        return H2Location.of(jdbcUrl).map(file -> shown + " (embedded H2, files " + file + ".*)").orElse(shown);
    }
}

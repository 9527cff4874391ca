package io.pgvault.server.datadir;

import io.micronaut.context.event.BeanCreatedEvent;
import io.micronaut.context.event.BeanCreatedEventListener;
import io.micronaut.context.event.StartupEvent;
import io.micronaut.jdbc.BasicJdbcConfiguration;
import io.micronaut.runtime.event.annotation.EventListener;
import io.pgvault.server.config.ServerConfig;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * Keeps the server's local data to the user running it: {@code pgvault.data-dir} (backup
 * pieces and WAL in flight) and the embedded H2 catalog's directory (cluster conninfo) are
 * made 0700 as the datasource's settings are created, that is before the pool opens the
 * first connection and H2 creates a file; H2 creates its files with the umask, so they are
 * made 0600 once the server has started (until then the directory shuts others out).
 */
@Singleton
public class DataDirectoryPermissions implements BeanCreatedEventListener<BasicJdbcConfiguration> {

    private static final Logger LOG = LoggerFactory.getLogger(DataDirectoryPermissions.class);
    private static final String CATALOG_SETTING = "pgvault.catalog.url";

    private final Path dataDir;
    /** The embedded databases the datasources open, whose files are narrowed at start-up. */
    private final List<Path> h2Databases = new CopyOnWriteArrayList<>();

    public DataDirectoryPermissions(ServerConfig config) {
        this.dataDir = Path.of(config.getDataDir()).toAbsolutePath().normalize();
    }

    @Override
    public BasicJdbcConfiguration onCreated(BeanCreatedEvent<BasicJdbcConfiguration> event) {
        BasicJdbcConfiguration jdbc = event.getBean();
        if (!dataDir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            return jdbc;
        }
        try {
            report(dataDir, "pgvault.data-dir", PrivateDirectory.ensure(dataDir, "pgvault.data-dir"));
            Optional<Path> database = H2Location.of(jdbc.getUrl());
            if (database.isPresent()) {
                h2Databases.add(database.get());
                Path catalogDir = database.get().getParent();
                if (!catalogDir.equals(dataDir)) {
                    report(catalogDir, CATALOG_SETTING, PrivateDirectory.ensure(catalogDir, CATALOG_SETTING));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make the server's local directories private (0700): " + e.getMessage()
                    + "; check that pgvault.data-dir and the catalog's directory are on a local file system the server's user owns", e);
        }
        return jdbc;
    }

    private static void report(Path directory, String setting, PrivateDirectory.Outcome outcome) {
        if (outcome == PrivateDirectory.Outcome.NARROWED) {
            LOG.warn("{} {} was open to other users; it is rwx------ now, as it holds the catalog's secrets or backups in flight", setting,
                    directory);
        } else if (outcome == PrivateDirectory.Outcome.CREATED) {
            LOG.info("Created {} {} (rwx------)", setting, directory);
        }
    }

    @EventListener
    void onStartup(StartupEvent event) {
        // The pool and Flyway have opened the database by now, so H2 has created its files.
        h2Databases.forEach(DataDirectoryPermissions::restrictFiles);
    }

    /** Makes {@code database}'s files (catalog.mv.db, catalog.trace.db, ...) 0600. */
    private static void restrictFiles(Path database) {
        String prefix = database.getFileName() + ".";
        try (Stream<Path> files = Files.list(database.getParent())) {
            for (Path file : files.filter(f -> f.getFileName().toString().startsWith(prefix) && Files.isRegularFile(f)).toList()) {
                Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make the catalog's files " + database + ".* readable by the server's user only: "
                    + e.getMessage(), e);
        }
    }
}

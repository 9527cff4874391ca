package io.pgvault.server;

import io.micronaut.context.ApplicationContext;
import io.micronaut.core.convert.ConversionService;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.client.HttpClient;
import io.micronaut.http.client.annotation.Client;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.support.TestPropertyProvider;
import io.pgvault.server.config.RetentionConfig;
import io.pgvault.testkit.Fixtures;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import javax.sql.DataSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The server on its embedded defaults (local repository, H2 catalog) comes up healthy. */
@MicronautTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServerStartupTest implements TestPropertyProvider {

    private Path dir;

    @Inject
    @Client("/")
    HttpClient client;

    @Inject
    DataSource dataSource;

    @Inject
    RetentionConfig retention;

    @Override
    public Map<String, String> getProperties() {
        try {
            dir = Files.createTempDirectory("pgvault-server-test");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        // Directories the server must create itself, under the usual umask 022.
        return Map.of(
                "micronaut.server.port", "-1",
                "pgvault.data-dir", dir.resolve("data").toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog/pgvault") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
    }

    @AfterAll
    void removeDirectory() {
        Fixtures.deleteTree(dir);
    }

    private static String mode(Path path) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
    }

    /** A server on {@code dataDir} with its H2 catalog in {@code catalogDir}, started and stopped. */
    private static void startAndStop(Path dataDir, Path catalogDir) {
        ApplicationContext.run(EmbeddedServer.class, Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dataDir.toString(),
                "pgvault.repository.url", dataDir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + catalogDir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH"))
                .close();
    }

    @Test
    void healthIsUpAndNamesTheRepository() {
        String health = client.toBlocking().retrieve(HttpRequest.GET("/health"));
        assertThat(health).contains("\"status\":\"UP\"").contains("repository").contains("formatVersion");
        assertThat(dir.resolve("repo/pgvault-format.json")).exists();
    }

    /** A server started with one bad setting stops, naming it. */
    private static void assertStartStops(String setting, String value, String message) throws Exception {
        Path other = Files.createTempDirectory("pgvault-server-test");
        assertStartStops(other, setting, value, message);
    }

    /** As above, on the repository that {@code other} may already hold under {@code repo/}; removes {@code other}. */
    private static void assertStartStops(Path other, String setting, String value, String message) throws Exception {
        Map<String, Object> props = Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", other.toString(),
                "pgvault.repository.url", other.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + other.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH",
                setting, value);
        try {
            assertThatThrownBy(() -> io.micronaut.context.ApplicationContext.run(io.micronaut.runtime.server.EmbeddedServer.class, props).close())
                    .hasStackTraceContaining(message);
        } finally {
            io.pgvault.testkit.Fixtures.deleteTree(other);
        }
    }

    @Test
    void anEncryptedRepositoryWithoutItsKeyOrAClearOneWithAKeyStopsTheStart() throws Exception {
        Path encrypted = Files.createTempDirectory("pgvault-server-test");
        Path key = encrypted.resolve("repo.key");
        io.pgvault.core.crypto.KeyEncryptionKey.generate(key);
        try (io.pgvault.core.storage.local.LocalDirectoryStore store = new io.pgvault.core.storage.local.LocalDirectoryStore(encrypted.resolve("repo"))) {
            io.pgvault.core.crypto.RepositoryEncryption.initialize(store, key, "test");
        }
        assertStartStops(encrypted, "pgvault.server-id", "test", "is encrypted (key id");
        Path clear = Files.createTempDirectory("pgvault-server-test");
        try (io.pgvault.core.storage.local.LocalDirectoryStore store = new io.pgvault.core.storage.local.LocalDirectoryStore(clear.resolve("repo"))) {
            io.pgvault.core.repo.RepositoryFormat.initialize(store, "test");
        }
        Path clearKey = Files.createTempFile("pgvault-key", "");
        Files.delete(clearKey);
        io.pgvault.core.crypto.KeyEncryptionKey.generate(clearKey);
        try {
            assertStartStops(clear, "pgvault.repository.encryption.key-file", clearKey.toString(), "exists and is not encrypted");
        } finally {
            Files.deleteIfExists(clearKey);
        }
    }

    @Test
    void aPieceSizeTooSmallToBeSaneStopsTheStartWithTheSetting() throws Exception {
        assertStartStops("pgvault.backup.piece-size", "100KB", "pgvault.backup.piece-size is 100KB; use at least 1MB");
    }

    @Test
    void aNegativeRetentionGraceStopsTheStartWithTheSetting() throws Exception {
        assertStartStops("pgvault.retention.grace", "-1h", "pgvault.retention.grace is PT-1H, a negative duration");
    }

    @Test
    void theRetentionGraceIsADayUnlessSetAndReadsAsTheReadmeWritesIt() {
        assertThat(retention.getGrace()).isEqualTo(Duration.ofDays(1));
        // PGVAULT_RETENTION_GRACE=36h reaches the setter through this conversion.
        assertThat(ConversionService.SHARED.convertRequired("36h", Duration.class)).isEqualTo(Duration.ofHours(36));
    }

    @Test
    void theDataDirectoryTheCatalogsDirectoryAndTheCatalogsFilesAreTheServerUsersAlone() throws Exception {
        assertThat(mode(dir.resolve("data"))).isEqualTo("rwx------");
        assertThat(mode(dir.resolve("catalog"))).isEqualTo("rwx------");
        List<Path> h2Files;
        try (Stream<Path> files = Files.list(dir.resolve("catalog"))) {
            h2Files = files.toList();
        }
        assertThat(h2Files).extracting(f -> f.getFileName().toString()).contains("pgvault.mv.db");
        for (Path file : h2Files) {
            assertThat(mode(file)).as(file.toString()).isEqualTo("rw-------");
        }
    }

    @Test
    void anExistingDataDirectoryOpenToOthersIsNarrowedAndOneEveryoneMayWriteIsRefused() throws Exception {
        Path other = Files.createTempDirectory("pgvault-server-test");
        try {
            Path open = Files.createDirectory(other.resolve("open"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
            startAndStop(open, open);
            assertThat(mode(open)).isEqualTo("rwx------");
            assertThat(mode(open.resolve("catalog.mv.db"))).isEqualTo("rw-------");

            Path shared = Files.createDirectory(other.resolve("shared"));
            Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
            assertThatThrownBy(() -> startAndStop(other.resolve("data"), shared))
                    .hasStackTraceContaining("pgvault.catalog.url names " + shared + ", which every user may write to (rwxrwxrwx)");
            assertThat(mode(shared)).as("left as it was").isEqualTo("rwxrwxrwx");
            assertThat(shared).isEmptyDirectory();
        } finally {
            Fixtures.deleteTree(other);
        }
    }

    @Test
    void metricsAreExposed() {
        assertThat(client.toBlocking().retrieve(HttpRequest.GET("/prometheus"))).contains("jvm_memory_used_bytes");
    }

    @Test
    void theCatalogIsMigrated() throws Exception {
        List<String> tables = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             ResultSet rs = c.getMetaData().getTables(null, null, "%", new String[] {"TABLE"})) {
            while (rs.next()) {
                tables.add(rs.getString("TABLE_NAME").toLowerCase());
            }
        }
        assertThat(tables).contains("clusters", "timelines", "wal_files");
    }
}

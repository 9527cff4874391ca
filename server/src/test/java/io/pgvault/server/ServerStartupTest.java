package io.pgvault.server;

import io.micronaut.core.convert.ConversionService;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.client.HttpClient;
import io.micronaut.http.client.annotation.Client;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.test.support.TestPropertyProvider;
import io.pgvault.server.config.RetentionConfig;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import javax.sql.DataSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

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
        return Map.of(
                "micronaut.server.port", "-1",
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
    }

    @Test
    void healthIsUpAndNamesTheRepository() {
        String health = client.toBlocking().retrieve(HttpRequest.GET("/health"));
        assertThat(health).contains("\"status\":\"UP\"").contains("repository").contains("formatVersion");
        assertThat(dir.resolve("repo/pgvault-format.json")).exists();
    }

    @Test
    void aPieceSizeTooSmallToBeSaneStopsTheStartWithTheSetting() throws Exception {
        Path other = Files.createTempDirectory("pgvault-server-test");
        Map<String, Object> props = Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", other.toString(),
                "pgvault.repository.url", other.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + other.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH",
                "pgvault.backup.piece-size", "100KB");
        try {
            assertThatThrownBy(() -> io.micronaut.context.ApplicationContext.run(io.micronaut.runtime.server.EmbeddedServer.class, props).close())
                    .hasStackTraceContaining("pgvault.backup.piece-size is 100KB; use at least 1MB");
        } finally {
            io.pgvault.testkit.Fixtures.deleteTree(other);
        }
    }

    @Test
    void aNegativeRetentionGraceStopsTheStartWithTheSetting() throws Exception {
        Path other = Files.createTempDirectory("pgvault-server-test");
        Map<String, Object> props = Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", other.toString(),
                "pgvault.repository.url", other.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + other.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH",
                "pgvault.retention.grace", "-1h");
        try {
            assertThatThrownBy(() -> io.micronaut.context.ApplicationContext.run(io.micronaut.runtime.server.EmbeddedServer.class, props).close())
                    .hasStackTraceContaining("pgvault.retention.grace is PT-1H, a negative duration");
        } finally {
            io.pgvault.testkit.Fixtures.deleteTree(other);
        }
    }

    @Test
    void theRetentionGraceIsADayUnlessSetAndReadsAsTheReadmeWritesIt() {
        assertThat(retention.getGrace()).isEqualTo(Duration.ofDays(1));
        // PGVAULT_RETENTION_GRACE=36h reaches the setter through this conversion.
        assertThat(ConversionService.SHARED.convertRequired("36h", Duration.class)).isEqualTo(Duration.ofHours(36));
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

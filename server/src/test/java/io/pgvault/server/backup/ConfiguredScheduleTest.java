package io.pgvault.server.backup;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code pgvault.clusters.NAME.backup.schedule} and {@code ...backup.incremental-schedule} in the server's configuration
 * start backups of their type.
 */
class ConfiguredScheduleTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({"schedule, full", "incremental-schedule, incremental"})
    void aScheduleFromConfigurationFires(String key, String type) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-schedule-");
        Map<String, Object> props = new HashMap<>(Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dir.toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH"));
        try {
            // Register first (the schedule applies to registered clusters), pointing at nothing that listens.
            try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props)) {
                server.getApplicationContext().getBean(ClusterService.class).add("main", "host=127.0.0.1 port=" + Fixtures.freePort());
            }
            props.put("pgvault.clusters.main.backup." + key, "*/1 * * * * *");
            try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props)) {
                BackupService backups = server.getApplicationContext().getBean(BackupService.class);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (backups.list("main").isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                // It fired; with no server listening the attempt fails and says why.
                assertThat(backups.list("main")).isNotEmpty();
                assertThat(backups.list("main").get(0).status()).isIn("running", "failed");
                assertThat(backups.list("main").get(0).type()).isEqualTo(type);
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }
}

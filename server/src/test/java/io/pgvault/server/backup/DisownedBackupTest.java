package io.pgvault.server.backup;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.server.catalog.BackupHistory;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A backup's heartbeat learns when another server sharing the catalog recorded it as failed
 * (it judged this server gone, e.g. after a catalog outage longer than the timeout): that
 * server may have removed its pieces, so the backup is not completed, and nothing is kept.
 */
class DisownedBackupTest {

    @Test
    void aBackupAnotherServerFailedIsNotCompleted() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-disowned-");
        Map<String, Object> props = Map.of(
                "micronaut.server.port", -1,
                "pgvault.backup.heartbeat-interval", "100ms",
                "pgvault.data-dir", dir.toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        try (PgCluster pg = PgCluster.builder(17).start(); EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props)) {
            // Enough data that the backup outlasts a few heartbeats.
            pg.execute("CREATE TABLE t (id int, v text)", "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 300000) g");
            ClusterRow main = server.getApplicationContext().getBean(ClusterService.class).add("main", "host=127.0.0.1 port=" + pg.port() + " user=postgres");
            BackupService backups = server.getApplicationContext().getBean(BackupService.class);
            BackupHistory history = server.getApplicationContext().getBean(BackupHistory.class);

            String id = backups.start("main").id();
            assertThat(history.abandoned(main.id(), id, Instant.now(), "judged gone by another server")).isTrue();

            BackupView ended = backups.get("main", id, Duration.ofSeconds(60));
            assertThat(ended.status()).isEqualTo("failed");
            assertThat(ended.reason()).contains("another pgvault server recorded this backup as failed", "judged gone by another server");
            ObjectStore store = server.getApplicationContext().getBean(ObjectStore.class);
            assertThat(store.list(RepositoryLayout.backupPrefix("main", id))).as("nothing of it is kept").isEmpty();
        } finally {
            Fixtures.deleteTree(dir);
        }
    }
}

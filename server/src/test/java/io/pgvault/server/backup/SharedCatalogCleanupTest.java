package io.pgvault.server.backup;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.server.catalog.BackupHistory;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two servers on one repository and one PostgreSQL catalog (issue #20): a server starting
 * must not fail or delete a backup the other one is taking. It fails a running backup only
 * when that backup's server stopped heartbeating, or ran under its own id (it restarted),
 * and deletes pieces without a manifest only of failed backups, or of unknown ones once old.
 */
class SharedCatalogCleanupTest {

    private static final String OF_A = "20261205T010000Z-aaaaaa";
    private static final String OF_B = "20261205T010500Z-bbbbbb";
    private static final String RECENT_UNKNOWN = "20261205T011000Z-0e0e0e";
    private static final String OLD_UNKNOWN = "20261204T000000Z-01d01d";

    @Test
    void aServerStartingLeavesTheOtherServersBackupInProgressAlone() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-shared-");
        try (PgCluster pg = PgCluster.builder(17).start()) {
            pg.execute("CREATE DATABASE catalog");
            try (EmbeddedServer a = ApplicationContext.run(EmbeddedServer.class, props(dir, "a", pg))) {
                ClusterRow main = a.getApplicationContext().getBean(ClusterService.class).add("main", "host=127.0.0.1");
                BackupHistory history = a.getApplicationContext().getBean(BackupHistory.class);
                // Server A is taking a backup: a running row under its id with a fresh heartbeat, pieces and no manifest yet.
                history.started(main.id(), OF_A, Instant.now(), "a");
                piece(dir, OF_A, Instant.now());
                piece(dir, RECENT_UNKNOWN, Instant.now());
                piece(dir, OLD_UNKNOWN, Instant.now().minus(Duration.ofHours(2)));

                try (EmbeddedServer b = ApplicationContext.run(EmbeddedServer.class, props(dir, "b", pg))) {
                    List<BackupView> listed = b.getApplicationContext().getBean(BackupService.class).list("main");
                    assertThat(listed).extracting(BackupView::id).containsExactly(OF_A);
                    assertThat(listed.get(0).status()).as("A's backup is still running").isEqualTo("running");
                    assertThat(exists(dir, OF_A)).as("A's pieces survive B's start").isTrue();
                    assertThat(exists(dir, RECENT_UNKNOWN)).as("unknown, but maybe being written: kept").isTrue();
                    assertThat(exists(dir, OLD_UNKNOWN)).as("unknown and old: removed").isFalse();
                    // B is taking a backup when it stops.
                    history.started(main.id(), OF_B, Instant.now(), "b");
                    piece(dir, OF_B, Instant.now());
                }

                // A stops heartbeating (it died); B starts again under its own id.
                assertThat(history.heartbeat(OF_A, "a", Instant.now().minus(Duration.ofMinutes(10)))).isTrue();
                try (EmbeddedServer b = ApplicationContext.run(EmbeddedServer.class, props(dir, "b", pg))) {
                    List<BackupView> listed = b.getApplicationContext().getBean(BackupService.class).list("main");
                    assertThat(listed).extracting(BackupView::id).containsExactly(OF_A, OF_B);
                    assertThat(listed).extracting(BackupView::status).containsOnly("failed");
                    assertThat(listed.get(0).reason()).contains("pgvault server a stopped while this backup ran", "no heartbeat since",
                            "pgvault.backup.heartbeat-timeout");
                    assertThat(listed.get(1).reason()).contains("server id b", "restarted");
                    assertThat(exists(dir, OF_A)).isFalse();
                    assertThat(exists(dir, OF_B)).isFalse();
                    assertThat(exists(dir, RECENT_UNKNOWN)).isTrue();
                }
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /** A server that dies mid-backup and never comes back: a live server fails its backup once the heartbeat is stale, without a restart. */
    @Test
    void aLiveServerFailsABackupWhoseServerStoppedHeartbeating() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-shared-");
        Map<String, Object> props = Map.of(
                "micronaut.server.port", -1,
                "pgvault.server-id", "b",
                "pgvault.backup.heartbeat-interval", "1s",
                "pgvault.backup.heartbeat-timeout", "3s",
                "pgvault.data-dir", dir.resolve("data").toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        try (EmbeddedServer b = ApplicationContext.run(EmbeddedServer.class, props)) {
            ClusterRow main = b.getApplicationContext().getBean(ClusterService.class).add("main", "host=127.0.0.1");
            b.getApplicationContext().getBean(BackupHistory.class).started(main.id(), OF_A, Instant.now(), "a");
            piece(dir, OF_A, Instant.now());
            BackupService backups = b.getApplicationContext().getBean(BackupService.class);
            assertThat(backups.get("main", OF_A).status()).isEqualTo("running");
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (!"failed".equals(backups.get("main", OF_A).status()) && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertThat(backups.get("main", OF_A).reason()).contains("pgvault server a stopped while this backup ran", "no heartbeat since");
            while (exists(dir, OF_A) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(exists(dir, OF_A)).as("its pieces are removed").isFalse();
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static Map<String, Object> props(Path dir, String serverId, PgCluster pg) {
        return Map.of(
                "micronaut.server.port", -1,
                "pgvault.server-id", serverId,
                "pgvault.data-dir", dir.resolve("data-" + serverId).toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", pg.jdbcUrl("catalog"),
                "pgvault.catalog.user", "postgres",
                "pgvault.catalog.password", "");
    }

    private static String pieceKey(String id) {
        return "clusters/main/backups/" + id + "/pieces/base.tar.00000";
    }

    private static void piece(Path dir, String id, Instant writtenAt) throws Exception {
        try (LocalDirectoryStore repo = new LocalDirectoryStore(dir.resolve("repo"))) {
            repo.put(pieceKey(id), new ByteArrayInputStream(new byte[100]), 100);
        }
        Files.setLastModifiedTime(dir.resolve("repo").resolve(pieceKey(id)), FileTime.from(writtenAt));
    }

    private static boolean exists(Path dir, String id) throws Exception {
        try (LocalDirectoryStore repo = new LocalDirectoryStore(dir.resolve("repo"))) {
            return repo.stat(pieceKey(id)).isPresent();
        }
    }
}

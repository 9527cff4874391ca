package io.pgvault.server.backup;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.server.api.ApiException;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Deleting a backup that incremental backups build on, directly or through others, finds every
 * one of them whatever their ids: backups started in the same second have ids that sort by a
 * random suffix, so a grandchild may sort before its parent (the search once went in id order
 * and missed it, and --cascade left it without its chain).
 */
class BackupDeleteTest {

    private static final String FULL = "20261206T020000Z-aaaaaa";
    private static final String CHILD = "20261206T020000Z-bbbbbb";
    private static final String GRANDCHILD = "20261206T020000Z-000000";

    @Test
    void everyBackupBuildingOnTheDeletedOneIsFoundAndGoesFirst() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-delete-");
        Map<String, Object> props = Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dir.toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:mem:delete-test;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props)) {
            server.getApplicationContext().getBean(ClusterService.class).add("main", "host=127.0.0.1 port=" + Fixtures.freePort());
            ObjectStore store = server.getApplicationContext().getBean(ObjectStore.class);
            manifest(FULL, "0/2000028", null).write(store);
            manifest(CHILD, "0/4000028", manifest(FULL, "0/2000028", null)).write(store);
            manifest(GRANDCHILD, "0/6000028", manifest(CHILD, "0/4000028", null)).write(store);
            BackupService backups = server.getApplicationContext().getBean(BackupService.class);

            assertThatThrownBy(() -> backups.delete("main", FULL, false)).isInstanceOf(ApiException.class)
                    .hasMessageContaining("is the parent of incremental backup(s) " + CHILD + ", " + GRANDCHILD);
            assertThat(backups.delete("main", FULL, true)).as("children before their parents").containsExactly(GRANDCHILD, CHILD, FULL);
            assertThat(BackupManifest.idsInRepository(store, "main")).isEmpty();
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static BackupManifest manifest(String id, String start, BackupManifest parent) {
        BackupManifest.Piece piece = new BackupManifest.Piece("base.tar", null, 0, RepositoryLayout.backupPiece("main", id, "base.tar", 0), 0, 0,
                "0".repeat(64), 0);
        return new BackupManifest(parent == null ? 2 : 3, id, "main", id, null, 17, 16L << 20, 1, start, 1,
                start.replace("028", "100"), "2026-12-06T02:00:00Z", "2026-12-06T02:00:01Z", "zstd", 0, 0, List.of(piece),
                parent == null ? null : "0".repeat(64),
                parent == null ? null : new BackupManifest.Parent(parent.backupId(), parent.startLsn(), parent.startTimeline()));
    }
}

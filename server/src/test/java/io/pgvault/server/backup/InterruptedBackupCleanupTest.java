package io.pgvault.server.backup;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.server.catalog.BackupHistory;
import io.pgvault.server.catalog.BackupRow;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A server killed mid-backup leaves pieces without a manifest and a running backup in the
 * catalog's history; the next start removes the pieces and records the backup as failed,
 * with why. Failed backups stay in the history across restarts.
 */
class InterruptedBackupCleanupTest {

    @Test
    void piecesWithoutAManifestAreRemovedAtStartUp() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-cleanup-");
        Map<String, Object> props = Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dir.toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        try {
            try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props)) {
                ClusterRow main = server.getApplicationContext().getBean(ClusterService.class).add("main", "host=127.0.0.1");
                BackupHistory history = server.getApplicationContext().getBean(BackupHistory.class);
                history.started(main.id(), "20261125T000000Z-fa11ed", Instant.parse("2026-11-25T00:00:00Z"));
                history.failed(main.id(), BackupRow.running("20261125T000000Z-fa11ed", Instant.parse("2026-11-25T00:00:00Z")),
                        Instant.parse("2026-11-25T00:00:05Z"), "cannot connect to PostgreSQL");
                history.started(main.id(), "20261125T010000Z-abcdef", Instant.parse("2026-11-25T01:00:00Z"));
            }
            String leftover = "clusters/main/backups/20261125T010000Z-abcdef/pieces/base.tar.00000";
            // A crafted manifest (sorted before the leftover): left out and kept, and the others still handled.
            String crafted = "clusters/main/backups/20261125T003000Z-c0ffee/manifest.json";
            try (LocalDirectoryStore repo = new LocalDirectoryStore(dir.resolve("repo"))) {
                repo.put(leftover, new ByteArrayInputStream(new byte[100]), 100);
                repo.put(crafted, new ByteArrayInputStream("{\"not\": a manifest".getBytes()), 18);
            }
            try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props)) {
                BackupService backups = server.getApplicationContext().getBean(BackupService.class);
                List<BackupView> listed = backups.list("main");
                assertThat(listed).extracting(BackupView::id).containsExactly("20261125T000000Z-fa11ed", "20261125T010000Z-abcdef");
                assertThat(listed).extracting(BackupView::status).containsOnly("failed");
                assertThat(listed.get(0).reason()).isEqualTo("cannot connect to PostgreSQL");
                assertThat(listed.get(1).reason()).contains("stopped while this backup ran");
                try (LocalDirectoryStore repo = new LocalDirectoryStore(dir.resolve("repo"))) {
                    assertThat(repo.stat(leftover)).isEmpty();
                    assertThat(repo.stat(crafted)).isPresent();
                }
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }
}

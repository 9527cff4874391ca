package io.pgvault.server.backup;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A server killed mid-backup leaves pieces without a manifest; the next start removes them and never lists them. */
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
                server.getApplicationContext().getBean(ClusterService.class).add("main", "host=127.0.0.1");
            }
            String leftover = "clusters/main/backups/20261125T010000Z-abcdef/pieces/base.tar.00000";
            try (LocalDirectoryStore repo = new LocalDirectoryStore(dir.resolve("repo"))) {
                repo.put(leftover, new ByteArrayInputStream(new byte[100]), 100);
            }
            try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props)) {
                BackupService backups = server.getApplicationContext().getBean(BackupService.class);
                assertThat(backups.list("main")).isEmpty();
                try (LocalDirectoryStore repo = new LocalDirectoryStore(dir.resolve("repo"))) {
                    assertThat(repo.stat(leftover)).isEmpty();
                }
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }
}

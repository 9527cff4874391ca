package io.pgvault.restore;

import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The archive a recovery plans from lists streamed heads in both forms the repository holds:
 * under a stream's fencing token (several servers, one after the other, each with its own)
 * and the older form without one; a segment archived whole is a segment, not a head.
 */
class ClusterArchiveHeadsTest {

    @Test
    void headsUnderTokensAndWithoutAreListedOncePerSegment() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-heads-");
        try (LocalDirectoryStore store = new LocalDirectoryStore(dir.resolve("repo"))) {
            io.pgvault.core.repo.RepositoryFormat.initialize(store, "test");
            new ClusterDescriptor("main", "host=db1", "7", 16L << 20, 17, "2026-12-05T00:00:00Z").write(store);
            WalFileName five = WalFileName.parse("000000010000000000000005");
            WalFileName six = WalFileName.parse("000000010000000000000006");
            WalFileName seven = WalFileName.parse("000000010000000000000007");
            put(store, RepositoryLayout.streamingHead("main", six, 3));
            put(store, RepositoryLayout.streamingHead("main", six, 4));
            put(store, RepositoryLayout.streamingPartial("main", seven));
            // A head left behind for a segment another server archived whole.
            put(store, RepositoryLayout.streamingHead("main", five, 2));
            put(store, RepositoryLayout.walKey("main", five));

            ClusterArchive archive = ClusterArchive.load(store, "main");
            assertThat(archive.streamedHeads()).containsExactlyInAnyOrder(six, seven);
            assertThat(archive.segments()).containsExactly(five, six, seven);
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static void put(LocalDirectoryStore store, String key) throws Exception {
        store.put(key, new ByteArrayInputStream(new byte[] {1}), 1);
    }
}

package io.pgvault.core.archive;

import io.pgvault.core.archive.ClusterIdentity;
import io.pgvault.core.archive.WalArchiver;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.stream.ArchiveSink;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalPageHeader;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WalSourceTest {

    @Test
    void aStreamedHeadStandsInForItsSegmentPaddedToFullSizeButNotForThePrefetcher() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-source-");
        try (LocalDirectoryStore store = new LocalDirectoryStore(dir.resolve("repo"))) {
            WalSegmentSize size = WalSegmentSize.DEFAULT;
            ClusterIdentity identity = ClusterIdentity.of(7L, size);
            ArchiveSink sink = new ArchiveSink(store, ArchiveSink.Ingest.into(new WalArchiver(store, Codecs.parse("zstd"), dir.resolve("spool"), "t", Clock.systemUTC()), "main", identity),
                    Codecs.parse("zstd"), "main", dir.resolve("spool"), "t", 1);
            new ClusterDescriptor("main", "host=db1", "7", size.bytes(), 17, "2026-11-25T00:00:00Z").write(store);
            WalFileName segment = WalFileName.parse("000000010000000000000007");
            byte[] head = new byte[3 * 8192 + 100];
            new Random(1).nextBytes(head);
            // The head opens with its segment's long page header, as streamed WAL does.
            java.nio.ByteBuffer.wrap(head).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .putShort(0, (short) io.pgvault.core.wal.PgMajor.of(17).pageMagic()).putShort(2, (short) WalPageHeader.XLP_LONG_HEADER)
                    .putInt(4, 1).putLong(8, segment.startLsn(size).value()).putInt(16, 0).putLong(24, 7L)
                    .putInt(32, (int) size.bytes()).putInt(36, 8192);
            sink.partial(segment, head, head.length);

            try (InputStream in = new WalSource(store, "main", true).open(segment).orElseThrow()) {
                byte[] served = in.readAllBytes();
                assertThat(served).hasSize((int) size.bytes());
                assertThat(Arrays.copyOf(served, head.length)).isEqualTo(head);
                assertThat(Arrays.copyOfRange(served, head.length, served.length)).containsOnly((byte) 0);
            }
            assertThat(new WalSource(store, "main", false).open(segment)).isEmpty();
            assertThat(new WalSource(store, "main", true).open(WalFileName.parse("000000010000000000000008"))).isEmpty();
            // A cluster the repository does not have is an error, never "not archived" (which would end a recovery).
            assertThatThrownBy(() -> new WalSource(store, "mian", true).open(segment)).hasMessageContaining("has no cluster 'mian'");
        } finally {
            Fixtures.deleteTree(dir);
        }
    }
}

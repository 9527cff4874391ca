package io.pgvault.core.archive;

import io.pgvault.core.compress.Codecs;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.InvalidWalException;
import io.pgvault.core.wal.PgMajor;
import io.pgvault.core.wal.WalPageHeader;
import io.pgvault.core.wal.WalProblem;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WalArchiverTest {

    /**
     * A chunked body for a cluster's first segment (whose size pgvault does not know yet) is
     * held to the size its header declares: one longer is refused as soon as it is, not after
     * a gibibyte, the largest segment size.
     */
    @Test
    void aChunkedBodyLongerThanItsHeaderSaysIsRefusedAsItArrives() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-archiver-test");
        try {
            WalArchiver archiver = new WalArchiver(new LocalDirectoryStore(dir.resolve("repo")), Codecs.parse("zstd"), dir.resolve("spool"),
                    "test", Clock.systemUTC());
            WalFileName name = WalFileName.parse("000000010000000000000005");
            long segment = 16L << 20;
            java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(WalPageHeader.LONG_HEADER_BYTES).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            header.putShort(0, (short) PgMajor.PG17.pageMagic()).putShort(2, (short) WalPageHeader.XLP_LONG_HEADER).putInt(4, 1)
                    .putLong(8, name.startLsn(WalSegmentSize.DEFAULT).value()).putLong(24, 7440000000000000001L).putInt(32, (int) segment)
                    .putInt(36, 8192);
            long[] read = {0};
            InputStream zeros = new InputStream() {
                @Override
                public int read() {
                    throw new UnsupportedOperationException();
                }

                @Override
                public int read(byte[] b, int off, int len) {
                    int n = Math.min(len, 65536);
                    java.util.Arrays.fill(b, off, off + n, (byte) 0);
                    read[0] += n;
                    if (read[0] > 4 * segment) {
                        throw new AssertionError("read " + read[0] + " bytes of a body whose header says " + segment);
                    }
                    return n;
                }
            };
            InputStream body = new SequenceInputStream(new ByteArrayInputStream(header.array()), zeros);
            assertThatThrownBy(() -> archiver.archive("main", ClusterIdentity.UNKNOWN, name, body, -1))
                    .isInstanceOfSatisfying(InvalidWalException.class, e -> assertThat(e.problem()).isEqualTo(WalProblem.TOO_LONG))
                    .hasMessageContaining("longer than " + segment);
            assertThat(read[0]).isLessThan(segment + (1 << 20));
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /** Announced (Content-Length) or not (a chunked PUT): the first page decides either way. */
    @ParameterizedTest(name = "declared length {0}")
    @ValueSource(longs = {16 << 20, -1})
    void aBodyThatIsNotTheSegmentIsRefusedFromItsFirstPageBeforeTheRestIsRead(long declaredLength) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-archiver-test");
        try {
            WalArchiver archiver = new WalArchiver(new LocalDirectoryStore(dir.resolve("repo")), Codecs.parse("zstd"), dir.resolve("spool"),
                    "test", Clock.systemUTC());
            // 40 bytes of text, then a sender that would take 16 MiB more: the refusal must not wait for (or compress) them.
            InputStream rest = new InputStream() {
                @Override
                public int read() {
                    throw new AssertionError("read past the page header of a body already known not to be WAL");
                }

                @Override
                public int read(byte[] b, int off, int len) {
                    return read();
                }
            };
            InputStream body = new SequenceInputStream(new ByteArrayInputStream("this is a log file, not a WAL segment....".getBytes()), rest);
            assertThatThrownBy(() -> archiver.archive("main", ClusterIdentity.UNKNOWN, WalFileName.parse("000000010000000000000005"), body,
                    declaredLength)).isInstanceOf(InvalidWalException.class).hasMessageContaining("page magic");
            try (var left = Files.list(dir.resolve("spool"))) {
                assertThat(left).as("nothing left in the spool").isEmpty();
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }
}

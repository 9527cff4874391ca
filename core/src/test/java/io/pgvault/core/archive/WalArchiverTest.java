package io.pgvault.core.archive;

import io.pgvault.core.compress.Codecs;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.InvalidWalException;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.testkit.Fixtures;
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

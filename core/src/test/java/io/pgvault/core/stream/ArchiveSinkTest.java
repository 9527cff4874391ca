package io.pgvault.core.stream;

import io.pgvault.core.archive.ClusterIdentity;
import io.pgvault.core.archive.WalArchiver;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.crypto.KeyEncryptionKey;
import io.pgvault.core.crypto.RepositoryEncryption;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.PgMajor;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalPageHeader;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A receiver that reconnects streams its segment again from the start: its first flushes
 * are shorter than the head already stored, which holds WAL the primary may no longer
 * have. The stored head is replaced only by a longer one, in clear and encrypted
 * repositories alike (there the length is read from the decrypted header).
 */
class ArchiveSinkTest {

    private static final WalSegmentSize SIZE = WalSegmentSize.DEFAULT;
    private static final WalFileName SEGMENT = WalFileName.parse("000000010000000000000007");

    @ParameterizedTest(name = "encrypted: {0}")
    @ValueSource(booleans = {false, true})
    void aShorterHeadNeverReplacesALongerOne(boolean encrypted) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-sink-");
        try (ObjectStore store = open(dir, encrypted)) {
            ArchiveSink sink = new ArchiveSink(store, ArchiveSink.Ingest.into(new WalArchiver(store, Codecs.parse("zstd"), dir.resolve("spool"), "t",
                    Clock.systemUTC()), "main", ClusterIdentity.of(7L, SIZE)), Codecs.parse("zstd"), "main", dir.resolve("spool"), "t");
            byte[] wal = walHead(5 * 8192);

            sink.partial(SEGMENT, wal, 4 * 8192);
            assertThat(storedHead(store)).isEqualTo(Arrays.copyOf(wal, 4 * 8192));

            // The reconnected receiver's first flushes: shorter, then as long as the stored head.
            sink.partial(SEGMENT, wal, 8192);
            assertThat(storedHead(store)).as("a shorter head is not stored").hasSize(4 * 8192);
            sink.partial(SEGMENT, wal, 4 * 8192);
            assertThat(storedHead(store)).hasSize(4 * 8192);

            sink.partial(SEGMENT, wal, 5 * 8192);
            assertThat(storedHead(store)).as("a longer head replaces it").isEqualTo(wal);
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    @ParameterizedTest(name = "encrypted: {0}")
    @ValueSource(booleans = {false, true})
    void anUnreadableStoredHeadIsReplaced(boolean encrypted) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-sink-");
        try (ObjectStore store = open(dir, encrypted)) {
            ArchiveSink sink = new ArchiveSink(store, (name, content) -> { }, Codecs.parse("zstd"), "main", dir.resolve("spool"), "t");
            byte[] damaged = "not a pgvault object at all".getBytes();
            store.put(RepositoryLayout.streamingPartial("main", SEGMENT), new java.io.ByteArrayInputStream(damaged), damaged.length);
            byte[] wal = walHead(8192);
            sink.partial(SEGMENT, wal, wal.length);
            assertThat(storedHead(store)).isEqualTo(wal);
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static ObjectStore open(Path dir, boolean encrypted) throws Exception {
        LocalDirectoryStore local = new LocalDirectoryStore(dir.resolve("repo"));
        if (!encrypted) {
            return local;
        }
        Path key = dir.resolve("repo.key");
        KeyEncryptionKey.generate(key);
        return RepositoryEncryption.initialize(local, key, "test");
    }

    /** Random bytes that open with the segment's long page header, as streamed WAL does. */
    private static byte[] walHead(int length) {
        byte[] head = new byte[length];
        new Random(1).nextBytes(head);
        ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN)
                .putShort(0, (short) PgMajor.of(17).pageMagic()).putShort(2, (short) WalPageHeader.XLP_LONG_HEADER)
                .putInt(4, 1).putLong(8, SEGMENT.startLsn(SIZE).value()).putInt(16, 0).putLong(24, 7L)
                .putInt(32, (int) SIZE.bytes()).putInt(36, 8192);
        return head;
    }

    private static byte[] storedHead(ObjectStore store) throws Exception {
        String key = RepositoryLayout.streamingPartial("main", SEGMENT);
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, store.get(key).orElseThrow()); InputStream in = opened.content()) {
            return in.readAllBytes();
        }
    }
}

package io.pgvault.core.stream;

import io.pgvault.core.archive.ClusterIdentity;
import io.pgvault.core.archive.WalArchiver;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.crypto.KeyEncryptionKey;
import io.pgvault.core.crypto.RepositoryEncryption;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.repo.StreamedHeads;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.PgMajor;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalPageHeader;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.FaultInjectingStore;
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
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A receiver that reconnects streams its segment again from the start: its first flushes
 * are shorter than the head already stored, which holds WAL the primary may no longer
 * have. Heads are written under each stream's token and only when longer than every stored
 * head, so nothing stored ever shrinks, not even when a stream that lost its lease writes
 * between another stream's check and its write. In clear and encrypted repositories alike
 * (there the length is read from the decrypted header).
 */
class ArchiveSinkTest {

    private static final WalSegmentSize SIZE = WalSegmentSize.DEFAULT;
    private static final WalFileName SEGMENT = WalFileName.parse("000000010000000000000007");

    @ParameterizedTest(name = "encrypted: {0}")
    @ValueSource(booleans = {false, true})
    void aShorterHeadNeverReplacesALongerOne(boolean encrypted) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-sink-");
        try (ObjectStore store = open(dir, encrypted, null)) {
            ArchiveSink sink = new ArchiveSink(store, ArchiveSink.Ingest.into(new WalArchiver(store, Codecs.parse("zstd"), dir.resolve("spool"), "t",
                    Clock.systemUTC()), "main", ClusterIdentity.of(7L, SIZE)), Codecs.parse("zstd"), "main", dir.resolve("spool"), "t", 1);
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
            assertThat(heads(store)).containsExactly(RepositoryLayout.streamingHead("main", SEGMENT, 1));
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * The race fencing is for: the stream that lost its lease (paused past it, then woken)
     * checked the stored heads, and before its write lands the new holder stores a longer
     * head. The old stream's write goes under its own token: the new holder's head is intact,
     * and readers take the longest.
     */
    @ParameterizedTest(name = "encrypted: {0}")
    @ValueSource(booleans = {false, true})
    void aStreamThatLostItsLeaseCannotShrinkTheNewHoldersHead(boolean encrypted) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-sink-");
        FaultInjectingStore[] faulty = new FaultInjectingStore[1];
        try (ObjectStore store = open(dir, encrypted, faulty)) {
            ArchiveSink stale = new ArchiveSink(store, (name, content) -> { }, Codecs.parse("zstd"), "main", dir.resolve("spool-a"), "server-a", 4);
            ArchiveSink holder = new ArchiveSink(store, (name, content) -> { }, Codecs.parse("zstd"), "main", dir.resolve("spool-b"), "server-b", 5);
            byte[] wal = walHead(6 * 8192);
            stale.partial(SEGMENT, wal, 2 * 8192);

            // The stale stream's next write passed its check (2 pages stored, 3 to write); the holder writes 6 pages meanwhile.
            faulty[0].meanwhile(FaultInjectingStore.Op.PUT, 1, () -> holder.partial(SEGMENT, wal, 6 * 8192));
            stale.partial(SEGMENT, wal, 3 * 8192);

            assertThat(storedHead(store)).as("the longest head is the new holder's, whole").isEqualTo(wal);
            assertThat(headLength(store, RepositoryLayout.streamingHead("main", SEGMENT, 5))).isEqualTo(6 * 8192);
            assertThat(headLength(store, RepositoryLayout.streamingHead("main", SEGMENT, 4))).isEqualTo(3 * 8192);

            // Once the holder archives the segment whole, every head of it (and the stale stream's) is gone.
            holder.segment(SEGMENT, wal);
            stale.partial(WalFileName.parse("000000010000000000000006"), walHead(8192, WalFileName.parse("000000010000000000000006")), 8192);
            holder.segment(WalFileName.parse("000000010000000000000008"), new byte[0]);
            assertThat(heads(store)).isEmpty();
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    @ParameterizedTest(name = "encrypted: {0}")
    @ValueSource(booleans = {false, true})
    void anUnreadableStoredHeadIsPassedOver(boolean encrypted) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-sink-");
        try (ObjectStore store = open(dir, encrypted, null)) {
            ArchiveSink sink = new ArchiveSink(store, (name, content) -> { }, Codecs.parse("zstd"), "main", dir.resolve("spool"), "t", 1);
            byte[] damaged = "not a pgvault object at all".getBytes();
            store.put(RepositoryLayout.streamingPartial("main", SEGMENT), new java.io.ByteArrayInputStream(damaged), damaged.length);
            byte[] wal = walHead(8192);
            sink.partial(SEGMENT, wal, wal.length);
            assertThat(storedHead(store)).isEqualTo(wal);
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /** A local repository, encrypted or not, through a fault-injecting store handed back in {@code faulty[0]} when asked. */
    private static ObjectStore open(Path dir, boolean encrypted, FaultInjectingStore[] faulty) throws Exception {
        ObjectStore local = new LocalDirectoryStore(dir.resolve("repo"));
        if (faulty != null) {
            faulty[0] = new FaultInjectingStore(local);
            local = faulty[0];
        }
        if (!encrypted) {
            return local;
        }
        Path key = dir.resolve("repo.key");
        KeyEncryptionKey.generate(key);
        return RepositoryEncryption.initialize(local, key, "test");
    }

    /** Random bytes that open with the segment's long page header, as streamed WAL does. */
    private static byte[] walHead(int length) {
        return walHead(length, SEGMENT);
    }

    private static byte[] walHead(int length, WalFileName segment) {
        byte[] head = new byte[length];
        new Random(1).nextBytes(head);
        ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN)
                .putShort(0, (short) PgMajor.of(17).pageMagic()).putShort(2, (short) WalPageHeader.XLP_LONG_HEADER)
                .putInt(4, 1).putLong(8, segment.startLsn(SIZE).value()).putInt(16, 0).putLong(24, 7L)
                .putInt(32, (int) SIZE.bytes()).putInt(36, 8192);
        return head;
    }

    private static List<String> heads(ObjectStore store) throws Exception {
        return StreamedHeads.list(store, "main").stream().map(ObjectStat::key).toList();
    }

    private static long headLength(ObjectStore store, String key) throws Exception {
        return ObjectEnvelope.readHeader(store, key).orElseThrow().rawSize();
    }

    /** The head a reader takes: the longest. */
    private static byte[] storedHead(ObjectStore store) throws Exception {
        String key = StreamedHeads.longest(store, "main", SEGMENT).orElseThrow().key();
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, store.get(key).orElseThrow()); InputStream in = opened.content()) {
            return in.readAllBytes();
        }
    }
}

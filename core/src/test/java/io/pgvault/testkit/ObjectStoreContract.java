package io.pgvault.testkit;

import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.StorageException;
import io.pgvault.core.storage.StorageFeature;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The {@link ObjectStore} contract, as tests every driver runs: subclass it and return a
 * fresh, empty store from {@link #openStore()}.
 */
public abstract class ObjectStoreContract {

    /** Objects at least this large exercise the driver's multipart path, if it has one. */
    protected static final int LARGE = 12 << 20;

    protected ObjectStore store;

    @TempDir
    protected Path temp;

    protected abstract ObjectStore openStore() throws Exception;

    /** What the store reports as the stored size of {@code contentLength} bytes (an encrypting store adds its overhead). */
    protected long storedSize(long contentLength) {
        return contentLength;
    }

    /** Keys the store holds before a test writes anything (an encrypted repository's format object). */
    protected List<String> preexisting() {
        return List.of();
    }

    /** The store's listing without {@link #preexisting()} keys. */
    private List<ObjectStat> listed(String prefix) throws IOException {
        return store.list(prefix).stream().filter(o -> !preexisting().contains(o.key())).toList();
    }

    /**
     * Why the server behind the store cannot decide concurrent conditional creates
     * atomically, or null when it can (real S3, MinIO and the local directory can).
     */
    protected String conditionalCreateNotAtomic() {
        return null;
    }

    @BeforeEach
    void open() throws Exception {
        store = openStore();
    }

    @AfterEach
    void closeStore() throws Exception {
        if (store != null) {
            store.close();
        }
    }

    protected static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    protected void put(String key, byte[] data) throws IOException {
        store.put(key, new ByteArrayInputStream(data), data.length);
    }

    protected byte[] read(String key) throws IOException {
        try (InputStream in = store.get(key).orElseThrow(() -> new AssertionError("no object " + key))) {
            return in.readAllBytes();
        }
    }

    @Test
    void putThenGetReturnsTheSameBytes() throws Exception {
        put("a/b/object-1", bytes("hello"));
        assertThat(read("a/b/object-1")).isEqualTo(bytes("hello"));
        assertThat(store.stat("a/b/object-1")).get().extracting(ObjectStat::size).isEqualTo(storedSize(5));
    }

    @Test
    void putReplacesAnExistingObject() throws Exception {
        put("k", bytes("first"));
        put("k", bytes("second version"));
        assertThat(read("k")).isEqualTo(bytes("second version"));
    }

    @Test
    void emptyObjectsAreObjects() throws Exception {
        put("empty", new byte[0]);
        assertThat(read("empty")).isEmpty();
        assertThat(store.stat("empty")).get().extracting(ObjectStat::size).isEqualTo(storedSize(0));
    }

    @Test
    void missingObjectsAreEmptyNotErrors() throws Exception {
        assertThat(store.get("no/such/key")).isEmpty();
        assertThat(store.stat("no/such/key")).isEmpty();
    }

    @Test
    void putOfUnknownLength() throws Exception {
        store.put("unknown-length", new ByteArrayInputStream(bytes("streamed")), -1);
        assertThat(read("unknown-length")).isEqualTo(bytes("streamed"));
    }

    @Test
    void aStreamThatEndsEarlyStoresNothingAndKeepsTheOldObject() throws Exception {
        put("k", bytes("old content"));
        assertThatThrownBy(() -> store.put("k", new ByteArrayInputStream(bytes("short")), 100))
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("k");
        assertThat(read("k")).isEqualTo(bytes("old content"));
        assertThatThrownBy(() -> store.put("fresh", new ByteArrayInputStream(bytes("short")), 100))
                .isInstanceOf(StorageException.class);
        assertThat(store.stat("fresh")).isEmpty();
        assertThat(listed("")).extracting(ObjectStat::key).containsExactly("k");
    }

    @Test
    void aStreamThatRunsLongStoresNothing() throws Exception {
        assertThatThrownBy(() -> store.put("long", new ByteArrayInputStream(bytes("more than four")), 4))
                .isInstanceOf(StorageException.class);
        assertThat(store.stat("long")).isEmpty();
    }

    @Test
    void putIfAbsentCreatesOnceAndNeverOverwrites() throws Exception {
        assertThat(store.putIfAbsent("once", new ByteArrayInputStream(bytes("one")), 3)).isTrue();
        assertThat(store.putIfAbsent("once", new ByteArrayInputStream(bytes("two")), 3)).isFalse();
        assertThat(read("once")).isEqualTo(bytes("one"));
    }

    @Test
    void concurrentPutIfAbsentHasExactlyOneWinner() throws Exception {
        assumeTrue(store.features().contains(StorageFeature.CONDITIONAL_CREATE), store.describe() + " has no conditional create");
        assumeTrue(conditionalCreateNotAtomic() == null, conditionalCreateNotAtomic());
        int writers = 6;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        CountDownLatch go = new CountDownLatch(1);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < writers; i++) {
                byte[] content = bytes("writer-" + i);
                Callable<Boolean> attempt = () -> {
                    go.await();
                    return store.putIfAbsent("contended", new ByteArrayInputStream(content), content.length);
                };
                results.add(pool.submit(attempt));
            }
            go.countDown();
            int winners = 0;
            int winner = -1;
            for (int i = 0; i < writers; i++) {
                if (results.get(i).get()) {
                    winners++;
                    winner = i;
                }
            }
            assertThat(winners).isEqualTo(1);
            assertThat(read("contended")).isEqualTo(bytes("writer-" + winner));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void listIsSortedAndByPlainPrefix() throws Exception {
        put("clusters/main/wal/b", bytes("2"));
        put("clusters/main/wal/a", bytes("1"));
        put("clusters/mainly/x", bytes("3"));
        put("clusters/other/y", bytes("4"));
        assertThat(store.list("clusters/main/")).extracting(ObjectStat::key)
                .containsExactly("clusters/main/wal/a", "clusters/main/wal/b");
        assertThat(store.list("clusters/main")).extracting(ObjectStat::key)
                .containsExactly("clusters/main/wal/a", "clusters/main/wal/b", "clusters/mainly/x");
        assertThat(listed("")).hasSize(4);
        assertThat(store.list("clusters/main/wal/a")).extracting(ObjectStat::size).containsExactly(storedSize(1));
        assertThat(store.list("nothing/here/")).isEmpty();
    }

    @Test
    void deleteRemovesAndIgnoresMissingKeys() throws Exception {
        put("d/1", bytes("1"));
        put("d/2", bytes("2"));
        put("keep", bytes("k"));
        store.delete(List.of("d/1", "d/2", "d/never-existed"));
        assertThat(listed("")).extracting(ObjectStat::key).containsExactly("keep");
    }

    @Test
    void deleteManyKeysInBatches() throws Exception {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < 1005; i++) {
            String key = String.format("many/%04d", i);
            put(key, new byte[] {(byte) i});
            keys.add(key);
        }
        assertThat(store.list("many/")).hasSize(1005);
        store.delete(keys);
        assertThat(store.list("many/")).isEmpty();
    }

    @Test
    void badKeysAreRefusedWithTheKeyNamed() {
        for (String bad : List.of("", "/absolute", "a//b", "../escape", "a/./b", "with space", "trailing/")) {
            assertThatThrownBy(() -> put(bad, bytes("x")), bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(bad.isEmpty() ? "empty" : "'" + bad + "'");
        }
        assertThatThrownBy(() -> store.get("../etc/passwd")).hasMessageContaining("../etc/passwd");
    }

    @Test
    void largeObjectsFromFilesAndStreams() throws Exception {
        byte[] data = new byte[LARGE + 12345];
        new Random(7).nextBytes(data);
        Path file = temp.resolve("large.bin");
        Files.write(file, data);
        store.putFile("large/from-file", file);
        store.put("large/from-stream", new ByteArrayInputStream(data), data.length);
        MessageDigest expected = MessageDigest.getInstance("SHA-256");
        byte[] want = expected.digest(data);
        for (String key : List.of("large/from-file", "large/from-stream")) {
            assertThat(store.stat(key)).get().extracting(ObjectStat::size).isEqualTo(storedSize(data.length));
            assertThat(MessageDigest.getInstance("SHA-256").digest(read(key))).as(key).isEqualTo(want);
        }
    }
}

package io.pgvault.server.wal;

import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Replaces;
import io.micronaut.context.annotation.Requires;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.test.support.TestPropertyProvider;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.StorageFullException;
import io.pgvault.core.storage.StorageUnavailableException;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.server.SyntheticWal;
import io.pgvault.server.config.RepositoryConfig;
import io.pgvault.server.repository.RepositoryFactory;
import io.pgvault.testkit.FaultInjectingStore;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The archive endpoints as PostgreSQL's curl one-liners meet them: every refusal, and
 * that the archive stays intact after each.
 */
@MicronautTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WalArchiveApiTest implements TestPropertyProvider {

    private static final long SYSID = 7441234567890123456L;
    private static final long FOREIGN = 7449999999999999999L;

    private Path dir;
    private final HttpClient http = HttpClient.newHttpClient();

    @Inject
    EmbeddedServer server;

    @Inject
    FaultInjectingStore store;

    /** The server's store, wrapped so tests can make the repository full or unreachable. */
    @Factory
    @Requires(property = "test.faulty-store", value = "true")
    static class FaultyRepository {
        @Singleton
        @Replaces(bean = ObjectStore.class, factory = RepositoryFactory.class)
        FaultInjectingStore faultyStore(RepositoryConfig config) throws IOException {
            return new FaultInjectingStore(new LocalDirectoryStore(Path.of(URI.create(config.getUrl()))));
        }
    }

    @Override
    public Map<String, String> getProperties() {
        try {
            dir = Files.createTempDirectory("pgvault-api-test");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Map.of(
                "micronaut.server.port", "-1",
                "test.faulty-store", "true",
                "pgvault.data-dir", dir.toString());
    }

    @BeforeAll
    void registerCluster() throws Exception {
        HttpResponse<String> r = send(HttpRequest.newBuilder(uri("/v1/clusters")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"main\",\"conninfo\":\"host=127.0.0.1 user=postgres password=hunter2\"}")));
        assertThat(r.statusCode()).isEqualTo(201);
        assertThat(r.body()).doesNotContain("hunter2");
        assertThat(put("000000010000000000000001", segment(1, 11))).isEqualTo(201);
    }

    @AfterEach
    void heal() {
        store.heal();
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.getPort() + path);
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> putResponse(String cluster, String file, byte[] body) throws Exception {
        // Like curl -T with a large file: Expect: 100-continue, so a refusal arrives before the body is sent.
        return send(HttpRequest.newBuilder(uri("/v1/clusters/" + cluster + "/wal/" + file)).expectContinue(true)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(body)));
    }

    private int put(String file, byte[] body) throws Exception {
        return putResponse("main", file, body).statusCode();
    }

    private static byte[] segment(long segno, long seed) {
        return SyntheticWal.segment(segno, 16, SYSID, 1, seed);
    }

    private byte[] get(String file) throws Exception {
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/" + file)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).as("GET " + file).isEqualTo(200);
        return r.body();
    }

    private long objectFiles() throws IOException {
        try (Stream<Path> files = Files.walk(dir.resolve("repo/clusters/main/wal"))) {
            return files.filter(Files::isRegularFile).count();
        }
    }

    @Test
    void storesAndServesTheExactBytes() throws Exception {
        byte[] seg = segment(2, 21);
        assertThat(put("000000010000000000000002", seg)).isEqualTo(201);
        assertThat(get("000000010000000000000002")).isEqualTo(seg);
        assertThat(Files.size(dir.resolve("repo/clusters/main/wal/0000000100000000/000000010000000000000002"))).isLessThan(seg.length + 1000L);
    }

    @Test
    void theSameContentTwiceIsASuccessAndOtherContentIsAConflict() throws Exception {
        byte[] seg = segment(3, 31);
        assertThat(put("000000010000000000000003", seg)).isEqualTo(201);
        assertThat(put("000000010000000000000003", seg)).isEqualTo(200);
        HttpResponse<String> conflict = putResponse("main", "000000010000000000000003", segment(3, 32));
        assertThat(conflict.statusCode()).isEqualTo(409);
        assertThat(conflict.body()).contains("other content").contains("Nothing was overwritten");
        // Under a name stored already, a body that is not WAL is refused as such, not called a conflict.
        byte[] noise = new byte[16 << 20];
        new java.util.Random(3).nextBytes(noise);
        HttpResponse<String> notWal = putResponse("main", "000000010000000000000003", noise);
        assertThat(notWal.statusCode()).isEqualTo(400);
        assertThat(notWal.body()).contains("page magic");
        assertThat(get("000000010000000000000003")).isEqualTo(seg);
    }

    @Test
    void historyFilesAreParsedAndNeverOverwritten() throws Exception {
        byte[] history = "1\t0/5000000\tno recovery target specified\n".getBytes(StandardCharsets.UTF_8);
        assertThat(put("00000002.history", history)).isEqualTo(201);
        assertThat(put("00000002.history", history)).isEqualTo(200);
        assertThat(put("00000002.history", "1\t0/6000000\tother\n".getBytes(StandardCharsets.UTF_8))).isEqualTo(409);
        assertThat(get("00000002.history")).isEqualTo(history);
        HttpResponse<String> bad = putResponse("main", "00000003.history", "garbage\n".getBytes(StandardCharsets.UTF_8));
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).contains("00000003.history line 1");
    }

    @Test
    void partialAndBackupFilesAreKeptAsSuch() throws Exception {
        byte[] partial = segment(4, 41);
        assertThat(put("000000010000000000000004.partial", partial)).isEqualTo(201);
        assertThat(get("000000010000000000000004.partial")).isEqualTo(partial);
        byte[] label = "START WAL LOCATION: 0/4000028 (file 000000010000000000000004)\nSTOP WAL LOCATION: 0/4000100\n".getBytes(StandardCharsets.UTF_8);
        assertThat(put("000000010000000000000004.00000028.backup", label)).isEqualTo(201);
        assertThat(get("000000010000000000000004.00000028.backup")).isEqualTo(label);
    }

    private HttpResponse<String> putEncoded(String file, byte[] body, String encoding, Long rawLength) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri("/v1/clusters/main/wal/" + file)).PUT(HttpRequest.BodyPublishers.ofByteArray(body));
        if (encoding != null) {
            request.header(io.pgvault.core.archive.PushHeaders.ENCODING, encoding);
        }
        if (rawLength != null) {
            request.header(io.pgvault.core.archive.PushHeaders.RAW_LENGTH, Long.toString(rawLength));
        }
        return send(request);
    }

    /** zstd frames of {@code raw} as wal-push makes them. */
    private static byte[] frames(byte[] raw) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (OutputStream z = new io.pgvault.core.compress.ZstdCodec(io.pgvault.core.archive.ZstdUpload.LEVEL).compress(out)) {
            z.write(raw);
        }
        return out.toByteArray();
    }

    @Test
    void zstdFramesAreStoredAsTheyCameAndServedAsTheFile() throws Exception {
        byte[] seg = segment(0x20, 201);
        byte[] frames = frames(seg);
        HttpResponse<String> stored = putEncoded("000000010000000000000020", frames, "zstd", (long) seg.length);
        assertThat(stored.statusCode()).as(stored.body()).isEqualTo(201);
        assertThat(get("000000010000000000000020")).isEqualTo(seg);
        // The frames as received, in their envelope: not compressed a second time.
        assertThat(Files.size(dir.resolve("repo/clusters/main/wal/0000000100000000/000000010000000000000020")))
                .isBetween((long) frames.length, frames.length + 1000L);
        assertThat(putEncoded("000000010000000000000020", frames, "zstd", (long) seg.length).statusCode()).isEqualTo(200);
        assertThat(put("000000010000000000000020", seg)).as("the same file sent as it is").isEqualTo(200);
        HttpResponse<String> other = putEncoded("000000010000000000000020", frames(segment(0x20, 202)), "zstd", (long) seg.length);
        assertThat(other.statusCode()).isEqualTo(409);
        assertThat(get("000000010000000000000020")).isEqualTo(seg);
    }

    private HttpResponse<String> putByReference(String cluster, String file, String sha256, long rawLength) throws Exception {
        return send(HttpRequest.newBuilder(uri("/v1/clusters/" + cluster + "/wal/" + file)).PUT(HttpRequest.BodyPublishers.noBody())
                .header(io.pgvault.core.archive.PushHeaders.SHA256, sha256)
                .header(io.pgvault.core.archive.PushHeaders.RAW_LENGTH, Long.toString(rawLength)));
    }

    @Test
    void aPushByReferenceIsADuplicateOnlyForExactlyTheStoredFile() throws Exception {
        String file = "000000010000000000000031";
        byte[] seg = segment(0x31, 311);
        String sha = io.pgvault.core.util.Sha256.of(seg);
        HttpResponse<String> notYet = putByReference("main", file, sha, seg.length);
        assertThat(notYet.statusCode()).as("not stored yet: send it").isEqualTo(412);
        assertThat(put(file, seg)).isEqualTo(201);
        long before = objectFiles();

        HttpResponse<String> same = putByReference("main", file, sha, seg.length);
        assertThat(same.statusCode()).isEqualTo(200);
        assertThat(same.body()).contains("already archived, identical");
        assertThat(putByReference("main", file, io.pgvault.core.util.Sha256.of(segment(0x31, 312)), seg.length).statusCode())
                .as("other content under the name: send it (and meet the conflict)").isEqualTo(412);
        assertThat(putByReference("main", file, sha, seg.length - 1).statusCode()).as("another length").isEqualTo(412);
        assertThat(putByReference("main", file, "not-a-checksum", seg.length).statusCode()).isEqualTo(400);
        assertThat(putByReference("nosuch", file, sha, seg.length).statusCode()).isEqualTo(404);
        HttpResponse<String> withBody = send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/" + file))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(seg)).header(io.pgvault.core.archive.PushHeaders.SHA256, sha)
                .header(io.pgvault.core.archive.PushHeaders.RAW_LENGTH, Long.toString(seg.length)));
        assertThat(withBody.statusCode()).isEqualTo(400);
        assertThat(objectFiles()).isEqualTo(before);
        assertThat(get(file)).isEqualTo(seg);
    }

    @Test
    void aDamagedOrCraftedZstdBodyIsRefusedAndNothingIsStored() throws Exception {
        long before = objectFiles();
        String file = "000000010000000000000030";
        byte[] seg = segment(0x30, 211);
        byte[] frames = frames(seg);

        HttpResponse<String> gzip = putEncoded(file, frames, "gzip", (long) seg.length);
        assertThat(gzip.statusCode()).isEqualTo(400);
        assertThat(gzip.body()).contains("not an encoding pgvault reads");
        HttpResponse<String> unsized = putEncoded(file, frames, "zstd", null);
        assertThat(unsized.statusCode()).isEqualTo(400);
        assertThat(unsized.body()).contains("X-Pgvault-Raw-Length");

        byte[] flipped = frames.clone();
        flipped[frames.length / 2] ^= 0x5A;
        HttpResponse<String> damaged = putEncoded(file, flipped, "zstd", (long) seg.length);
        assertThat(damaged.statusCode()).as(damaged.body()).isEqualTo(400);

        byte[] trailing = java.util.Arrays.copyOf(frames, frames.length + 100);
        HttpResponse<String> garbage = putEncoded(file, trailing, "zstd", (long) seg.length);
        assertThat(garbage.statusCode()).as(garbage.body()).isEqualTo(400);
        assertThat(garbage.body()).contains("does not decode");

        HttpResponse<String> cut = putEncoded(file, java.util.Arrays.copyOf(frames, frames.length / 2), "zstd", (long) seg.length);
        assertThat(cut.statusCode()).as(cut.body()).isEqualTo(400);

        // Whole frames of the file, then the start of one more: the decoder must not take the body's end for the file's.
        for (int extra : new int[] {3, 40}) {
            byte[] random = new byte[4096];
            new java.util.Random(extra).nextBytes(random);
            byte[] next = frames(random);
            byte[] tail = new byte[frames.length + extra];
            System.arraycopy(frames, 0, tail, 0, frames.length);
            System.arraycopy(next, 0, tail, frames.length, extra);
            HttpResponse<String> unfinished = putEncoded(file, tail, "zstd", (long) seg.length);
            assertThat(unfinished.statusCode()).as(extra + " bytes of another frame: " + unfinished.body()).isEqualTo(400);
            assertThat(unfinished.body()).containsAnyOf("ends inside a frame", "is longer than");
        }

        // More than a segment once decoded, announced as one.
        byte[] doubled = new byte[seg.length * 2];
        System.arraycopy(seg, 0, doubled, 0, seg.length);
        System.arraycopy(seg, 0, doubled, seg.length, seg.length);
        HttpResponse<String> bomb = putEncoded(file, frames(doubled), "zstd", (long) seg.length);
        assertThat(bomb.statusCode()).as(bomb.body()).isEqualTo(400);
        assertThat(bomb.body()).contains("longer than");

        // A frame that asks the decoder for a 128 MiB window.
        java.io.ByteArrayOutputStream wide = new java.io.ByteArrayOutputStream();
        try (com.github.luben.zstd.ZstdOutputStreamNoFinalizer z = new com.github.luben.zstd.ZstdOutputStreamNoFinalizer(wide, 1)) {
            z.setLong(27);
            z.write(seg);
        }
        HttpResponse<String> window = putEncoded(file, wide.toByteArray(), "zstd", (long) seg.length);
        assertThat(window.statusCode()).as(window.body()).isEqualTo(400);
        assertThat(window.body()).contains("does not decode");

        // Empty frames without end: nothing decoded, every byte spooled, until the cap.
        byte[] empty = com.github.luben.zstd.Zstd.compress(new byte[0]);
        byte[] endless = new byte[(17 << 20) + 512 * 1024];
        for (int i = 0; i + empty.length <= endless.length; i += empty.length) {
            System.arraycopy(empty, 0, endless, i, empty.length);
        }
        HttpResponse<String> emptyFrames = putEncoded(file, endless, "zstd", (long) seg.length);
        assertThat(emptyFrames.statusCode()).as(emptyFrames.body()).isEqualTo(400);
        assertThat(emptyFrames.body()).contains("compressed body is longer");

        assertThat(objectFiles()).isEqualTo(before);
        HttpResponse<String> after = http.send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/" + file)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(after.statusCode()).as(after.body().length() + " " + after.headers().map()).isEqualTo(404);
        try (Stream<Path> spool = Files.list(dir.resolve("spool"))) {
            assertThat(spool).as("nothing left in the spool").isEmpty();
        }
    }

    @Test
    void badInputIsRefusedWithTheReasonAndNothingIsStored() throws Exception {
        long before = objectFiles();
        HttpResponse<String> unknown = putResponse("nosuch", "000000010000000000000005", segment(5, 1));
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(unknown.body()).contains("pgvault cluster add nosuch");

        assertThat(putResponse("main", "00000001000000000000005", segment(5, 1)).statusCode()).isEqualTo(400);
        assertThat(putResponse("main", "RECOVERYXLOG", segment(5, 1)).body()).contains("not a WAL file name");

        HttpResponse<String> shortOne = putResponse("main", "000000010000000000000005", java.util.Arrays.copyOf(segment(5, 1), 1 << 20));
        assertThat(shortOne.statusCode()).isEqualTo(400);
        assertThat(shortOne.body()).contains("16777216");

        byte[] random = new byte[16 << 20];
        new java.util.Random(5).nextBytes(random);
        HttpResponse<String> noise = putResponse("main", "000000010000000000000005", random);
        assertThat(noise.statusCode()).isEqualTo(400);
        assertThat(noise.body()).contains("page magic");

        HttpResponse<String> moved = putResponse("main", "000000010000000000000006", segment(5, 1));
        assertThat(moved.statusCode()).isEqualTo(400);
        assertThat(moved.body()).contains("0/5000000").contains("0/6000000");

        HttpResponse<String> laterTimeline = putResponse("main", "000000010000000000000005", SyntheticWal.segment(5, 16, SYSID, 3, 1));
        assertThat(laterTimeline.statusCode()).isEqualTo(400);
        assertThat(laterTimeline.body()).contains("timeline 3");

        HttpResponse<String> foreign = putResponse("main", "000000010000000000000005", SyntheticWal.segment(5, 16, FOREIGN, 1, 1));
        assertThat(foreign.statusCode()).isEqualTo(409);
        assertThat(foreign.body()).contains(Long.toUnsignedString(FOREIGN)).contains(Long.toUnsignedString(SYSID));

        // An empty file, as curl -T sends one (no Expect: 100-continue for a small body), one request after the other.
        for (String file : new String[] {"000000010000000000000005", "00000002.history", "00000001.history"}) {
            HttpResponse<String> empty = send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/" + file)).PUT(HttpRequest.BodyPublishers.noBody()));
            assertThat(empty.statusCode()).as("an empty " + file).isEqualTo(400);
        }
        // PostgreSQL never writes one: whatever arrives under that name is not a history file of this cluster.
        HttpResponse<String> firstHistory = putResponse("main", "00000001.history",
                "1\t0/5000000\tno recovery target specified\n".getBytes(StandardCharsets.UTF_8));
        assertThat(firstHistory.statusCode()).isEqualTo(400);
        assertThat(firstHistory.body()).contains("no history file for timeline 1");

        HttpResponse<String> otherSize = putResponse("main", "000000010000000000000050", SyntheticWal.segment(0x50, 1, SYSID, 1, 1));
        assertThat(otherSize.statusCode()).isEqualTo(400);
        assertThat(otherSize.body()).contains("wal_segment_size 1MB");

        assertThat(objectFiles()).isEqualTo(before);
    }

    @Test
    void aBodyCutOffMidUploadStoresNothing() throws Exception {
        long before = objectFiles();
        byte[] seg = segment(7, 71);
        try (Socket socket = new Socket("127.0.0.1", server.getPort())) {
            OutputStream out = socket.getOutputStream();
            out.write(("PUT /v1/clusters/main/wal/000000010000000000000007 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + seg.length
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(seg, 0, seg.length / 3);
            out.flush();
            Thread.sleep(300);
        }
        Thread.sleep(1000);
        assertThat(objectFiles()).isEqualTo(before);
        assertThat(http.send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/000000010000000000000007")).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(404);
        try (Stream<Path> spool = Files.list(dir.resolve("spool"))) {
            assertThat(spool).isEmpty();
        }
        assertThat(put("000000010000000000000007", seg)).isEqualTo(201);
    }

    @Test
    void aFullRepositoryIs507AndAnUnreachableOne503SoPostgresRetries() throws Exception {
        byte[] seg = segment(8, 81);
        store.failFrom(FaultInjectingStore.Op.PUT_IF_ABSENT, 1, (op, key) -> new StorageFullException("no space left for " + key, null));
        HttpResponse<String> full = putResponse("main", "000000010000000000000008", seg);
        assertThat(full.statusCode()).isEqualTo(507);
        assertThat(full.body()).contains("no space left");

        store.heal().failFrom(FaultInjectingStore.Op.PUT_IF_ABSENT, 1,
                (op, key) -> new StorageUnavailableException("bucket unreachable for " + key, null));
        assertThat(put("000000010000000000000008", seg)).isEqualTo(503);
        store.heal().failFrom(FaultInjectingStore.Op.GET, 1, (op, key) -> new StorageUnavailableException("bucket unreachable", null));
        assertThat(http.send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/000000010000000000000001")).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(503);

        store.heal();
        assertThat(put("000000010000000000000008", seg)).isEqualTo(201);
        assertThat(get("000000010000000000000008")).isEqualTo(seg);
    }

    @Test
    void archiveCountersAreExposedAsMetrics() throws Exception {
        assertThat(put("000000010000000000000010", segment(0x10, 101))).isEqualTo(201);
        String metrics = send(HttpRequest.newBuilder(uri("/prometheus")).GET()).body();
        assertThat(metrics).contains("pgvault_wal_pushes_total{cluster=\"main\",outcome=\"stored\"}")
                .contains("pgvault_wal_raw_bytes_total{cluster=\"main\"}")
                .contains("pgvault_wal_push_duration_seconds_count{cluster=\"main\"}");
    }

    @Test
    void aDamagedObjectIsNeverServedAsComplete() throws Exception {
        byte[] seg = segment(9, 91);
        assertThat(put("000000010000000000000009", seg)).isEqualTo(201);
        Path object = dir.resolve("repo/clusters/main/wal/0000000100000000/000000010000000000000009");
        byte[] stored = Files.readAllBytes(object);
        // Flip a byte inside the compressed payload: zstd's frame checksum or our SHA-256 must catch it.
        stored[stored.length - 10] ^= 0x20;
        Files.write(object, stored);
        // A segment is read and verified whole before the response starts: a clean error, not a cut body.
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/000000010000000000000009")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(500);
        assertThat(r.body()).contains("000000010000000000000009");
    }

    @Test
    void onlyWalPushesMaySendLargeOrUnsizedBodies() throws Exception {
        byte[] big = new byte[(1 << 20) + 1];
        HttpResponse<String> tooLarge = send(HttpRequest.newBuilder(uri("/v1/clusters")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(big)));
        assertThat(tooLarge.statusCode()).isEqualTo(413);
        assertThat(tooLarge.body()).contains("at most 1048576 bytes of JSON");
        HttpResponse<String> unsized = send(HttpRequest.newBuilder(uri("/v1/clusters")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream("{\"name\":\"x\"}".getBytes()))));
        assertThat(unsized.statusCode()).isEqualTo(411);
        // A segment, sent chunked as curl -T - would: taken.
        byte[] seg = segment(0x21, 211);
        HttpResponse<String> chunked = send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/000000010000000000000021"))
                .PUT(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(seg))));
        assertThat(chunked.statusCode()).as(chunked.body()).isEqualTo(201);
    }
}

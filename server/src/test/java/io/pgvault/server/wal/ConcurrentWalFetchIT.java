package io.pgvault.server.wal;

import io.pgvault.server.SyntheticWal;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.ServerProcess;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A storm of restores: rounds of 16 parallel GETs of 64 MiB segments against a server whose
 * heap is 256 MiB (ServerProcess's). Every answer must be 200 with the exact bytes, and the
 * server must not run out of memory (#22: each GET used to read its whole segment into the
 * heap, with no bound on how many at once).
 */
class ConcurrentWalFetchIT {

    private static final int SEGMENT_MB = 64;
    private static final long SYSTEM_ID = 7400000000000000001L;

    @Test
    void sixteenParallelFetchesOf64MiBSegmentsFitA256MiBHeap() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-fetch-storm-");
        int port = Fixtures.freePort();
        Map<String, String> props = Map.of(
                "pgvault.data-dir", dir.toString(),
                "pgvault.repository.compression", "lz4");
        Path log = dir.resolve("server.log");
        HttpClient http = HttpClient.newHttpClient();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try (ServerProcess server = ServerProcess.start(port, props, log)) {
            http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/clusters")).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"big\"}")).build(), HttpResponse.BodyHandlers.discarding());
            List<String> names = new ArrayList<>();
            List<String> digests = new ArrayList<>();
            for (long n = 1; n <= 4; n++) {
                byte[] segment = SyntheticWal.segment(n, SEGMENT_MB, SYSTEM_ID, 1, n);
                String name = SyntheticWal.name(1, n, SEGMENT_MB);
                HttpResponse<String> put = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/clusters/big/wal/" + name))
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(segment)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(put.statusCode()).as(put.body()).isEqualTo(201);
                names.add(name);
                digests.add(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(segment)));
            }
            for (int round = 0; round < 3; round++) {
                List<Future<String>> answers = new ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    String name = names.get(i % names.size());
                    answers.add(pool.submit(() -> fetchDigest(http, server.url() + "/v1/clusters/big/wal/" + name)));
                }
                for (int i = 0; i < answers.size(); i++) {
                    assertThat(answers.get(i).get()).as("round " + round + ", GET " + i + "\n" + tail(log)).isEqualTo(digests.get(i % names.size()));
                }
            }
            assertThat(Files.readString(log)).doesNotContain("OutOfMemoryError");
            // Every whole body's room came back once written.
            String metrics = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/prometheus")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics).containsPattern("(?m)^pgvault_wal_fetch_buffered_bytes(\\{[^}]*\\})? 0\\.0$");
        } finally {
            pool.shutdownNow();
            Fixtures.deleteTree(dir);
        }
    }

    /** The body's SHA-256, read as it arrives (the test's heap is not the point), or the status when it is not 200. */
    private static String fetchDigest(HttpClient http, String url) throws Exception {
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofInputStream());
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        try (InputStream in = r.body()) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                sha.update(buffer, 0, n);
            }
        }
        return r.statusCode() == 200 ? HexFormat.of().formatHex(sha.digest()) : "HTTP " + r.statusCode();
    }

    private static String tail(Path log) throws java.io.IOException {
        String all = Files.readString(log);
        return all.substring(Math.max(0, all.length() - 3000));
    }
}

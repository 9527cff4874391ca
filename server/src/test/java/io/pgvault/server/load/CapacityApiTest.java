package io.pgvault.server.load;

import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.test.support.TestPropertyProvider;
import io.pgvault.core.spool.SpoolBudget;
import io.pgvault.server.SyntheticWal;
import jakarta.inject.Inject;
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
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server at its limits, met as PostgreSQL's archiver meets it: pushes beyond the
 * concurrency limit queue and are then refused, a push the spool has no room for is
 * refused at once, both with 503 and Retry-After; nothing is stored half, the spool is
 * left empty, and the same push succeeds once room is back.
 */
@MicronautTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CapacityApiTest implements TestPropertyProvider {

    private static final long SYSID = 7441234567890123456L;

    private Path dir;
    private final HttpClient http = HttpClient.newHttpClient();

    @Inject
    EmbeddedServer server;

    @Inject
    RequestLimits limits;

    @Inject
    SpoolBudget spool;

    @Override
    public Map<String, String> getProperties() {
        try {
            dir = Files.createTempDirectory("pgvault-capacity-test");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Map.of(
                "micronaut.server.port", "-1",
                "pgvault.data-dir", dir.toString(),
                "pgvault.limits.concurrent-pushes", "2",
                "pgvault.limits.queue-wait", "2s",
                "pgvault.limits.spool-bytes", "20MB");
    }

    @BeforeAll
    void registerCluster() throws Exception {
        assertThat(send(HttpRequest.newBuilder(uri("/v1/clusters")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"main\"}"))).statusCode()).isEqualTo(201);
        assertThat(put("000000010000000000000001", segment(1)).statusCode()).isEqualTo(201);
    }

    @Test
    void fetchesGiveTheirTurnBackHoweverTheyEnd() throws Exception {
        String wal = "/v1/clusters/main/wal/000000010000000000000001";
        String object = "/v1/repository/object?key=clusters/main/wal/0000000100000000/000000010000000000000001";
        for (String path : new String[] {wal, object}) {
            // A revalidating client or proxy: a server that answered 304 here without closing the body leaked the turn.
            HttpResponse<byte[]> conditional = http.send(HttpRequest.newBuilder(uri(path))
                    .header("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT").build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(conditional.statusCode()).as(path).isEqualTo(200);
            assertThat(conditional.body()).as(path).hasSizeGreaterThan(1 << 20);

            // A HEAD: headers only, the body never written (asking for the GET's type, as a download client may).
            HttpResponse<Void> head = http.send(HttpRequest.newBuilder(uri(path)).header("Accept", "application/octet-stream")
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
            assertThat(head.statusCode()).as(path).isEqualTo(200);
            assertThat(head.headers().firstValueAsLong("Content-Length")).as(path).hasValue(conditional.body().length);
            await(() -> limits.fetches().running() == 0);

            // A client that goes away after the headers.
            try (Socket gone = new Socket("127.0.0.1", server.getPort())) {
                gone.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                gone.getOutputStream().flush();
                assertThat(gone.getInputStream().read()).isNotNegative();
            }
            await(() -> limits.fetches().running() == 0);
        }
        assertThat(http.send(HttpRequest.newBuilder(uri(wal)).build(), HttpResponse.BodyHandlers.ofByteArray()).body()).isEqualTo(segment(1));
    }

    @Test
    void pushesBeyondTheLimitsAreRefusedWithRetryAfterAndSucceedLater() throws Exception {

        // Two uploads that stall mid-body, as a slow network would: they hold both turns, and the segment its 16 MiB of spool.
        try (Socket slowSegment = startUpload("000000010000000000000002", 16 << 20)) {
            await(() -> spool.reservedBytes() >= 16 << 20);
            try (Socket slowHistory = startUpload("00000002.history", 100)) {
                await(() -> limits.pushes().running() == 2);

                HttpResponse<String> busy = put("000000010000000000000003", segment(3));
                assertThat(busy.statusCode()).isEqualTo(503);
                assertThat(busy.headers().firstValue("Retry-After")).hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isPositive());
                assertThat(busy.body()).contains("limit of 2 concurrent pushes").contains("pgvault.limits.concurrent-pushes")
                        .contains("nothing was read or changed");
            }
            await(() -> limits.pushes().running() == 1);

            // A turn is free now, but 16 of the spool's 20 MiB are promised to the stalled segment.
            HttpResponse<String> full = put("000000010000000000000003", segment(3));
            assertThat(full.statusCode()).isEqualTo(503);
            assertThat(full.headers().firstValue("Retry-After")).isPresent();
            assertThat(full.body()).contains("no room in the spool").contains("000000010000000000000003")
                    .contains("pgvault.limits.spool-bytes");

            // A file stored already (a streamed cluster's archive_command sends each segment again) is only
            // compared with the stored one: no spool room needed, none taken.
            HttpResponse<String> again = put("000000010000000000000001", segment(1));
            assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
            assertThat(again.body()).contains("already archived, identical");
        }
        await(() -> spool.reservedBytes() == 0 && limits.pushes().running() == 0);

        byte[] three = segment(3);
        assertThat(put("000000010000000000000003", three).statusCode()).isEqualTo(201);
        HttpResponse<byte[]> back = http.send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/000000010000000000000003")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(back.body()).isEqualTo(three);
        // The stalled uploads were never stored, and left nothing in the spool.
        assertThat(send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/000000010000000000000002"))).statusCode()).isEqualTo(404);
        try (Stream<Path> left = Files.list(spool.directory())) {
            assertThat(left).isEmpty();
        }
        assertThat(limits.pushes().refused()).isEqualTo(1);
        assertThat(spool.refusals()).isEqualTo(1);
    }

    /** Sends the headers and the first bytes of an upload of {@code length}, then stalls. */
    private Socket startUpload(String file, int length) throws IOException {
        Socket socket = new Socket("127.0.0.1", server.getPort());
        OutputStream out = socket.getOutputStream();
        out.write(("PUT /v1/clusters/main/wal/" + file + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + length + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.write(new byte[10]);
        out.flush();
        return socket;
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("the server reaches the expected state").isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.getPort() + path);
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> put(String file, byte[] body) throws Exception {
        return send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/" + file)).PUT(HttpRequest.BodyPublishers.ofByteArray(body)));
    }

    private static byte[] segment(long segno) {
        return SyntheticWal.segment(segno, 16, SYSID, 1, segno * 7);
    }
}

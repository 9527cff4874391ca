package io.pgvault.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.test.support.TestPropertyProvider;
import io.pgvault.server.SyntheticWal;
import io.pgvault.testkit.Fixtures;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A cluster's life through the API: changed, removed (the repository keeps its WAL and the
 * catalog rebuild does not bring it back), added again with the identity it had.
 */
@MicronautTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterLifecycleTest implements TestPropertyProvider {

    private static final long SYSID = 7441234567890123456L;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private Path dir;

    @Inject
    EmbeddedServer server;

    @Override
    public Map<String, String> getProperties() {
        try {
            dir = Files.createTempDirectory("pgvault-cluster-lifecycle");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Map.of(
                "micronaut.server.port", "-1",
                "pgvault.data-dir", dir.toString());
    }

    @AfterAll
    void cleanUp() {
        Fixtures.deleteTree(dir);
    }

    @Test
    void removedClustersKeepTheirArchiveAndComeBackWithTheirIdentity() throws Exception {
        String segment = SyntheticWal.name(1, 1, 16);
        byte[] content = SyntheticWal.segment(1, 16, SYSID, 1, 5);
        assertThat(send("POST", "/v1/clusters", Map.of("name", "main", "conninfo", "host=db1 user=pgvault password=hunter2")).statusCode()).isEqualTo(201);
        assertThat(put(segment, content)).isEqualTo(201);

        // Streaming needs somewhere to connect; a new connection string is kept, its password not shown.
        HttpResponse<String> noConninfo = send("POST", "/v1/clusters", Map.of("name", "other", "stream", true));
        assertThat(noConninfo.statusCode()).isEqualTo(400);
        assertThat(noConninfo.body()).contains("streaming needs --conninfo");
        HttpResponse<String> slotWithoutStream = send("PATCH", "/v1/clusters/main", Map.of("slot", "mine"));
        assertThat(slotWithoutStream.statusCode()).isEqualTo(400);
        assertThat(slotWithoutStream.body()).contains("add --stream");
        HttpResponse<String> badSlot = send("PATCH", "/v1/clusters/main", Map.of("stream", true, "slot", "Bad-Slot"));
        assertThat(badSlot.statusCode()).isEqualTo(400);
        assertThat(badSlot.body()).contains("not a replication slot name");
        HttpResponse<String> changed = send("PATCH", "/v1/clusters/main", Map.of("conninfo", "host=db2 user=pgvault password=s3cret"));
        assertThat(changed.statusCode()).isEqualTo(200);
        assertThat(changed.body()).contains("host=db2").doesNotContain("s3cret");
        assertThat(JSON.readTree(changed.body()).path("stream").asBoolean()).isFalse();
        // Streaming on (the receiver retries against the unreachable host), then off again: the slot name goes with it.
        JsonNode on = JSON.readTree(send("PATCH", "/v1/clusters/main", Map.of("stream", true)).body());
        assertThat(on.path("slot").asText()).isEqualTo("pgvault_main");
        HttpResponse<String> off = send("PATCH", "/v1/clusters/main", Map.of("stream", false));
        assertThat(off.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(off.body()).path("stream").asBoolean()).isFalse();
        assertThat(JSON.readTree(off.body()).hasNonNull("slot")).isFalse();

        HttpResponse<String> removed = send("DELETE", "/v1/clusters/main", null);
        assertThat(removed.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(removed.body()).path("warnings")).isEmpty();
        assertThat(send("GET", "/v1/clusters/main", null).statusCode()).isEqualTo(404);
        assertThat(put(SyntheticWal.name(1, 2, 16), SyntheticWal.segment(2, 16, SYSID, 1, 6))).as("unknown after removal").isEqualTo(404);
        JsonNode descriptor = JSON.readTree(dir.resolve("repo/clusters/main/cluster.json").toFile());
        assertThat(descriptor.path("removedAt").asText()).isNotBlank();
        assertThat(dir.resolve("repo/clusters/main/wal/0000000100000000/" + segment)).exists();

        JsonNode rebuilt = JSON.readTree(send("POST", "/v1/catalog/rebuild", Map.of()).body());
        assertThat(rebuilt.path("clusters").asInt()).as("a removed cluster stays removed").isZero();

        assertThat(send("POST", "/v1/clusters", Map.of("name", "main", "conninfo", "host=db2 user=pgvault")).statusCode()).isEqualTo(201);
        JsonNode back = JSON.readTree(send("GET", "/v1/clusters/main", null).body());
        assertThat(back.path("systemIdentifier").asText()).isEqualTo(Long.toUnsignedString(SYSID));
        assertThat(JSON.readTree(dir.resolve("repo/clusters/main/cluster.json").toFile()).has("removedAt")).isFalse();
        HttpResponse<byte[]> served = http.send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/" + segment)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(served.body()).isEqualTo(content);
        assertThat(put(SyntheticWal.name(1, 2, 16), SyntheticWal.segment(2, 16, 7449999999999999999L, 1, 6)))
                .as("the identity fixed before the removal still holds").isEqualTo(409);
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.getPort() + path);
    }

    private HttpResponse<String> send(String method, String path, Object body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path));
        if (body != null) {
            b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private int put(String file, byte[] body) throws Exception {
        return http.send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/" + file)).PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }
}

package io.pgvault.server.backup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Replaces;
import io.micronaut.context.annotation.Requires;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.test.support.TestPropertyProvider;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.server.ClockFactory;
import io.pgvault.server.SyntheticWal;
import io.pgvault.testkit.Fixtures;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With the default grace (a day), a backup superseded an hour ago is still listed, and its
 * WAL still served, after retention ran: a recovery started from it an hour ago goes on.
 * Two days on, retention removes both. The server's clock is moved, not the files' times:
 * WAL arrives now, the manifests say the backups ended later.
 */
@MicronautTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RetentionGraceTest implements TestPropertyProvider {

    private static final long SYSID = 7441234567890123456L;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Path dir;
    private final HttpClient http = HttpClient.newHttpClient();

    @Inject
    EmbeddedServer server;

    @Inject
    ObjectStore store;

    @Inject
    MovableClock clock;

    /** A real clock the test moves forward, as days passing would. */
    static final class MovableClock extends Clock {
        private volatile Instant now = Instant.now();

        void set(Instant instant) {
            now = instant;
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }
    }

    @Factory
    @Requires(property = "test.movable-clock", value = "true")
    static class Clocks {
        @Singleton
        @Replaces(bean = Clock.class, factory = ClockFactory.class)
        MovableClock clock() {
            return new MovableClock();
        }
    }

    @Override
    public Map<String, String> getProperties() {
        try {
            dir = Files.createTempDirectory("pgvault-grace-test");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // No pgvault.retention.grace: the default is what is tested.
        return Map.of(
                "micronaut.server.port", "-1",
                "test.movable-clock", "true",
                "pgvault.data-dir", dir.toString());
    }

    @AfterAll
    void removeDirectory() {
        Fixtures.deleteTree(dir);
    }

    private HttpResponse<String> send(String method, String path, HttpRequest.BodyPublisher body) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getPort() + path))
                .header("Content-Type", "application/json").method(method, body).build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode json(String method, String path, String body, int expectedStatus) throws Exception {
        HttpResponse<String> r = send(method, path, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(expectedStatus);
        return JSON.readTree(r.body());
    }

    /** The segments whose index the repository holds. */
    private List<String> indexedSegments() throws IOException {
        return store.list(RepositoryLayout.walIndexPrefix("main")).stream()
                .map(o -> RepositoryLayout.indexedSegment(o.key()).orElseThrow().toString()).toList();
    }

    private int walStatus(long segment) throws Exception {
        return send("GET", "/v1/clusters/main/wal/" + SyntheticWal.name(1, segment, 16), HttpRequest.BodyPublishers.noBody()).statusCode();
    }

    /**
     * What a backup from {@code segment} to its end in the same segment, finished at
     * {@code finishedAt}, leaves: one piece and the manifest, which is all retention reads.
     */
    private void storeBackup(String id, long segment, Instant finishedAt) throws Exception {
        byte[] piece = new byte[512];
        String pieceKey = RepositoryLayout.backupPiece("main", id, "base.tar", 0);
        store.put(pieceKey, new ByteArrayInputStream(piece), piece.length);
        String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(piece));
        String start = Long.toHexString(segment * 16 * 1024 * 1024 + 0x28).toUpperCase();
        String end = Long.toHexString(segment * 16 * 1024 * 1024 + 0x100).toUpperCase();
        new BackupManifest(BackupManifest.FORMAT, id, "main", "pgvault " + id, Long.toString(SYSID), 17, 16L << 20, 1, "0/" + start, 1,
                "0/" + end, finishedAt.minusSeconds(60).toString(), finishedAt.toString(), "none", piece.length, piece.length,
                List.of(new BackupManifest.Piece("base.tar", null, 0, pieceKey, piece.length, piece.length, sha256, 1)), null).write(store);
    }

    @Test
    void aJustSupersededBackupAndItsWalStayUntilTheGraceHasPassed() throws Exception {
        json("POST", "/v1/clusters", "{\"name\":\"main\",\"conninfo\":\"host=127.0.0.1 user=postgres\",\"retainFull\":1}", 201);
        for (long segment = 1; segment <= 5; segment++) {
            HttpResponse<String> put = send("PUT", "/v1/clusters/main/wal/" + SyntheticWal.name(1, segment, 16),
                    HttpRequest.BodyPublishers.ofByteArray(SyntheticWal.segment(segment, 16, SYSID, 1, segment)));
            assertThat(put.statusCode()).as(put.body()).isEqualTo(201);
        }
        assertThat(indexedSegments()).as("indexed on arrival").hasSize(5);
        Instant start = Instant.now();
        storeBackup("20261120T000000Z-0a0a0a", 2, start.plusSeconds(60));
        storeBackup("20261123T000000Z-0b0b0b", 5, start.plus(Duration.ofDays(3)));
        // Written behind the server's back: a catalog rebuild makes its backup history see them.
        json("POST", "/v1/catalog/rebuild", null, 200);

        // "new" superseded "old" an hour ago.
        clock.set(start.plus(Duration.ofDays(3)).plus(Duration.ofHours(1)));
        JsonNode report = json("POST", "/v1/clusters/main/expire", null, 200);
        assertThat(report.path("deletedBackups")).isEmpty();
        // Only the WAL before "old" went: a recovery from "old" needs segment 2 onwards.
        assertThat(report.path("deletedWal").toString()).contains(SyntheticWal.name(1, 1, 16)).doesNotContain(SyntheticWal.name(1, 2, 16));
        JsonNode listed = json("GET", "/v1/clusters/main/backups", null, 200);
        assertThat(listed.findValuesAsText("id")).containsExactly("20261120T000000Z-0a0a0a", "20261123T000000Z-0b0b0b");
        assertThat(listed.findValuesAsText("status")).containsOnly("complete");
        assertThat(walStatus(1)).isEqualTo(404);
        assertThat(walStatus(2)).isEqualTo(200);
        assertThat(indexedSegments()).as("indexes go with their segments").doesNotContain(SyntheticWal.name(1, 1, 16))
                .contains(SyntheticWal.name(1, 2, 16));

        // A day and more later, the grace has passed: "old" goes, and the WAL only it needed.
        clock.set(start.plus(Duration.ofDays(4)).plus(Duration.ofHours(2)));
        JsonNode later = json("POST", "/v1/clusters/main/expire", null, 200);
        assertThat(later.path("deletedBackups").toString()).contains("20261120T000000Z-0a0a0a");
        assertThat(json("GET", "/v1/clusters/main/backups", null, 200).findValuesAsText("id")).containsExactly("20261123T000000Z-0b0b0b");
        assertThat(store.list(RepositoryLayout.backupPrefix("main", "20261120T000000Z-0a0a0a"))).isEmpty();
        assertThat(walStatus(2)).isEqualTo(404);
        assertThat(walStatus(5)).isEqualTo(200);
        assertThat(indexedSegments()).doesNotContain(SyntheticWal.name(1, 2, 16)).contains(SyntheticWal.name(1, 5, 16));
    }
}

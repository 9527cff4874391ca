package io.pgvault.server.stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.PhysicalStream;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.S3ProxyFixture;
import io.pgvault.testkit.ServerProcess;
import io.pgvault.testkit.TcpRelay;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server follows real PostgreSQL over streaming replication: it keeps streaming
 * through its own SIGKILL and a primary restart without a gap, never lets the slot run
 * ahead of the repository (also while the bucket is unreachable, when it warns that
 * the slot holds WAL on the cluster), reports slot health and metrics, explains the usual setup mistakes, and drops its slot on removal.
 */
class StreamingIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();

    private static Map<String, String> serverProperties(Path dir) {
        Map<String, String> props = new HashMap<>();
        props.put("pgvault.data-dir", dir.toString());
        props.put("pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        props.put("pgvault.streaming.retry-min", "200ms");
        props.put("pgvault.streaming.retry-max", "2s");
        props.put("pgvault.streaming.slot-check-interval", "1s");
        return props;
    }

    @Test
    void streamingSurvivesServerKillAndPrimaryRestartWithoutAGap() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-streaming-");
        Map<String, String> props = serverProperties(dir);
        props.put("pgvault.repository.url", dir.resolve("repo").toUri().toString());
        Path log = dir.resolve("server.log");
        int port = Fixtures.freePort();
        ServerProcess server = ServerProcess.start(port, props, log);
        try (PgCluster pg = PgCluster.builder(15).start()) {
            String conninfo = "host=127.0.0.1 port=" + pg.port() + " user=postgres";
            JsonNode added = send(server, "POST", "/v1/clusters", Map.of("name", "main", "conninfo", conninfo, "stream", true), 201);
            assertThat(added.path("slot").asText()).isEqualTo("pgvault_main");
            awaitStatus(server, "main", s -> s.path("state").asText().equals("streaming") && s.hasNonNull("flushedLsn"), "streaming");

            String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
            Process load = new ProcessBuilder("bash", "-c", "pgbench -i -q -s 4 " + conn + " postgres && pgbench -n -T 10 -c 2 -j 2 " + conn + " postgres")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                awaitSegments(server, 2);
                server.kill();
                // While pgvault is down the slot holds the WAL it has not stored.
                pg.execute("CREATE TABLE IF NOT EXISTS marks (id int)", "INSERT INTO marks VALUES (1)");
                server = ServerProcess.start(port, props, log);
                awaitStatus(server, "main", s -> s.path("state").asText().equals("streaming"), "streaming again after the kill");
                assertThat(load.waitFor(3, TimeUnit.MINUTES)).isTrue();
                assertThat(load.exitValue()).isZero();
            } finally {
                load.destroyForcibly();
            }

            pg.stop();
            awaitStatus(server, "main", s -> s.path("state").asText().equals("retrying"), "retrying while the primary is down");
            pg.start();
            pg.execute("INSERT INTO marks VALUES (2)");
            Lsn end = Lsn.parse(pg.queryValue("SELECT pg_switch_wal()"));
            JsonNode status = awaitStatus(server, "main", s -> s.hasNonNull("flushedLsn") && !Lsn.parse(s.path("flushedLsn").asText()).isBefore(end),
                    "stored up to the switched segment");
            assertThat(status.path("reconnects").asLong()).isGreaterThanOrEqualTo(1);

            // No gap: every segment from the first streamed one to the switched one, byte for byte the primary's.
            // (Read from the repository, the truth: an H2 catalog may lose its last rows to a SIGKILL.)
            List<String> names = new ArrayList<>();
            try (LocalDirectoryStore repo = new LocalDirectoryStore(dir.resolve("repo"))) {
                for (ObjectStat o : repo.list("clusters/main/wal/0000000100000000/")) {
                    names.add(o.key().substring(o.key().lastIndexOf('/') + 1));
                }
            }
            names.sort(null);
            assertThat(names).hasSizeGreaterThanOrEqualTo(3);
            long first = Long.parseLong(names.get(0).substring(8), 16);
            long last = Long.parseLong(names.get(names.size() - 1).substring(8), 16);
            assertThat(names).as("contiguous").hasSize((int) (last - first + 1));
            for (String name : names) {
                Path onDisk = pg.dataDirectory().resolve("pg_wal").resolve(name);
                if (Files.exists(onDisk)) {
                    HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/clusters/main/wal/" + name)).build(),
                            HttpResponse.BodyHandlers.ofByteArray());
                    assertThat(r.body()).as(name).isEqualTo(Files.readAllBytes(onDisk));
                }
            }
            // The slot first, then what the server stored: streaming goes on between the two reads.
            Lsn restart = Lsn.parse(pg.queryValue("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'pgvault_main'"));
            JsonNode stored = send(server, "GET", "/v1/clusters/main/stream", null, 200);
            assertThat(restart).as("the slot never runs ahead of the repository").isLessThanOrEqualTo(Lsn.parse(stored.path("flushedLsn").asText()));

            JsonNode health = awaitStatus(server, "main", s -> s.path("slotHealth").path("active").asBoolean(), "slot health").path("slotHealth");
            assertThat(health.path("walStatus").asText()).isIn("reserved", "extended");
            assertThat(health.path("lagBytes").isNumber()).isTrue();
            String metrics = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/prometheus")).build(), HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics).contains("pgvault_stream_connected{cluster=\"main\"").contains("pgvault_stream_slot_retained_bytes{cluster=\"main\"");

            // Removing the cluster drops the slot, so the primary stops keeping WAL for pgvault.
            JsonNode removal = send(server, "DELETE", "/v1/clusters/main", null, 200);
            assertThat(removal.path("warnings")).isEmpty();
            assertThat(pg.queryValue("SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            send(server, "GET", "/v1/clusters/main", null, 404);
        } finally {
            server.close();
            Fixtures.deleteTree(dir);
        }
    }

    @Test
    void theBucketUnreachableStopsTheSlotNotTheCluster() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-streaming-s3-");
        try (S3ProxyFixture s3 = S3ProxyFixture.start(); TcpRelay network = TcpRelay.to("127.0.0.1", s3.endpoint().getPort());
             PgCluster pg = PgCluster.builder(17).start()) {
            s3.createBucket("wal");
            Map<String, String> props = serverProperties(dir);
            props.put("pgvault.repository.url", "s3://wal/pgvault");
            props.put("pgvault.repository.s3.endpoint", "http://127.0.0.1:" + network.port());
            props.put("pgvault.repository.s3.path-style", "true");
            props.put("pgvault.repository.s3.access-key", S3ProxyFixture.ACCESS_KEY);
            props.put("pgvault.repository.s3.secret-key", S3ProxyFixture.SECRET_KEY);
            props.put("pgvault.streaming.retained-wal-warning-bytes", Long.toString(8L << 20));
            try (ServerProcess server = ServerProcess.start(Fixtures.freePort(), props, dir.resolve("server.log"))) {
                send(server, "POST", "/v1/clusters", Map.of("name", "main", "conninfo", "host=127.0.0.1 port=" + pg.port() + " user=postgres",
                        "stream", true), 201);
                pg.execute("CREATE TABLE t (v text)", "INSERT INTO t SELECT repeat('x', 500) FROM generate_series(1, 20000)");
                Lsn before = Lsn.parse(pg.queryValue("SELECT pg_current_wal_lsn()"));
                JsonNode stored = awaitStatus(server, "main", s -> s.hasNonNull("flushedLsn") && !Lsn.parse(s.path("flushedLsn").asText()).isBefore(before),
                        "caught up");

                network.cut();
                pg.execute("INSERT INTO t VALUES ('after the bucket went away')");
                JsonNode failing = awaitStatus(server, "main", s -> s.path("state").asText().equals("retrying"), "retrying while the bucket is away");
                assertThat(failing.path("lastError").asText()).contains("cannot be reached");
                // Now WAL piles up on the cluster: 30 MiB that does not compress.
                pg.execute("INSERT INTO t SELECT md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) FROM generate_series(1, 300000) g");
                pg.queryValue("SELECT pg_switch_wal()");
                Thread.sleep(3000);
                Lsn held = Lsn.parse(pg.queryValue("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'pgvault_main'"));
                Lsn storedBeforeOutage = Lsn.parse(send(server, "GET", "/v1/clusters/main/stream", null, 200).path("flushedLsn").asText());
                assertThat(held).as("nothing acknowledged that is not stored").isLessThanOrEqualTo(storedBeforeOutage);
                assertThat(storedBeforeOutage).isGreaterThanOrEqualTo(Lsn.parse(stored.path("flushedLsn").asText()));
                assertThat(pg.queryValue("SELECT 1")).as("the cluster itself keeps running").isEqualTo("1");
                // What the seeds learned the hard way: a slot nobody drains fills the primary's disk; pgvault says so.
                JsonNode warned = awaitStatus(server, "main", s -> s.path("slotHealth").hasNonNull("warning"), "a retained-WAL warning");
                assertThat(warned.path("slotHealth").path("warning").asText()).contains("MiB of WAL on the cluster");

                network.restore();
                Lsn now = Lsn.parse(pg.queryValue("SELECT pg_current_wal_lsn()"));
                awaitStatus(server, "main", s -> s.path("state").asText().equals("streaming") && s.hasNonNull("flushedLsn")
                        && !Lsn.parse(s.path("flushedLsn").asText()).isBefore(now), "caught up after the bucket returned");
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    @Test
    void setupMistakesAreExplained() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-streaming-faults-");
        Map<String, String> props = serverProperties(dir);
        props.put("pgvault.repository.url", dir.resolve("repo").toUri().toString());
        try (PgCluster pg = PgCluster.builder(17).start(); ServerProcess server = ServerProcess.start(Fixtures.freePort(), props, dir.resolve("server.log"))) {
            String base = "host=127.0.0.1 port=" + pg.port();
            send(server, "POST", "/v1/clusters", Map.of("name", "nostream", "conninfo", base), 201);
            JsonNode refused = send(server, "POST", "/v1/clusters", Map.of("name", "bad", "stream", true), 400);
            assertThat(refused.toString()).contains("streaming needs --conninfo");

            // A role without REPLICATION.
            pg.execute("CREATE ROLE plain LOGIN");
            send(server, "POST", "/v1/clusters", Map.of("name", "norepl", "conninfo", base + " user=plain", "stream", true), 201);
            JsonNode norepl = awaitStatus(server, "norepl", s -> s.hasNonNull("lastError"), "an error");
            assertThat(norepl.path("lastError").asText()).contains("ALTER ROLE");

            // The slot is busy with another client.
            Conninfo postgres = Conninfo.parse(base + " user=postgres");
            try (ReplicationConnection other = ReplicationConnection.open(postgres, "someone-else")) {
                other.createPhysicalSlot("taken");
                ReplicationConnection.SystemIdentity id = other.identifySystem();
                CompletableFuture<Void> holding = CompletableFuture.runAsync(() -> {
                    try {
                        other.streamPhysical("taken", id.position(), id.timeline(), new Idle(id.position()), 200);
                    } catch (Exception ignored) {
                        // ends when the connection closes
                    }
                });
                awaitSlotActive(pg, "taken");
                send(server, "POST", "/v1/clusters", Map.of("name", "busy", "conninfo", base + " user=postgres", "stream", true, "slot", "taken"), 201);
                JsonNode busy = awaitStatus(server, "busy", s -> s.hasNonNull("lastError"), "an error");
                assertThat(busy.path("lastError").asText()).contains("is active for PID").contains("slot of its own");
                send(server, "DELETE", "/v1/clusters/busy", null, 200);
                holding.cancel(true);
            }

            // No pg_hba.conf line for replication connections.
            Path hba = pg.dataDirectory().resolve("pg_hba.conf");
            String original = Files.readString(hba);
            Files.writeString(hba, "local all all trust\nhost all all 127.0.0.1/32 trust\n");
            pg.queryValue("SELECT pg_reload_conf()");
            try {
                send(server, "POST", "/v1/clusters", Map.of("name", "nohba", "conninfo", base + " user=postgres", "stream", true), 201);
                JsonNode nohba = awaitStatus(server, "nohba", s -> s.hasNonNull("lastError"), "an error");
                assertThat(nohba.path("lastError").asText()).contains("host replication");
            } finally {
                Files.writeString(hba, original);
                pg.queryValue("SELECT pg_reload_conf()");
            }
            // Once the line is back, the same registration streams without being touched.
            awaitStatus(server, "nohba", s -> s.path("state").asText().equals("streaming"), "streaming once pg_hba.conf allows it");
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /** A client that holds a slot and reports nothing new. */
    private record Idle(Lsn at) implements PhysicalStream.Handler {
        @Override
        public void wal(Lsn start, byte[] data, int offset, int length) {
        }

        @Override
        public void tick() {
        }

        @Override
        public Lsn written() {
            return at;
        }

        @Override
        public Lsn flushed() {
            return at;
        }

        @Override
        public boolean stopRequested() {
            return false;
        }
    }

    private static void awaitSlotActive(PgCluster pg, String slot) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!"t".equals(pg.queryValue("SELECT active FROM pg_replication_slots WHERE slot_name = '" + slot + "'"))) {
            assertThat(System.nanoTime()).as("slot " + slot + " active").isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    private void awaitSegments(ServerProcess server, int count) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            JsonNode wal = send(server, "GET", "/v1/clusters/main/wal", null, 200);
            if (wal.size() >= count) {
                return;
            }
            assertThat(System.nanoTime()).as(count + " segments streamed; stream " + send(server, "GET", "/v1/clusters/main/stream", null, 200))
                    .isLessThan(deadline);
            Thread.sleep(200);
        }
    }

    private JsonNode awaitStatus(ServerProcess server, String cluster, Predicate<JsonNode> condition, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        JsonNode status;
        while (!condition.test(status = send(server, "GET", "/v1/clusters/" + cluster + "/stream", null, 200))) {
            assertThat(System.nanoTime()).as(what + "; last status " + status).isLessThan(deadline);
            Thread.sleep(200);
        }
        return status;
    }

    private JsonNode send(ServerProcess server, String method, String path, Object body, int expectedStatus) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(60));
        if (body != null) {
            b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(expectedStatus);
        if (r.body().isEmpty()) {
            return JSON.createObjectNode();
        }
        return r.headers().firstValue("Content-Type").orElse("").contains("json") ? JSON.readTree(r.body()) : JSON.getNodeFactory().textNode(r.body());
    }
}

package io.pgvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.repo.StreamedHeads;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.s3.S3Store;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.S3ProxyFixture;
import io.pgvault.testkit.ServerProcess;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static io.pgvault.cli.RecoverySupport.CHECKSUM;
import static io.pgvault.cli.RecoverySupport.pgvault;
import static io.pgvault.cli.RecoverySupport.shell;
import static io.pgvault.cli.RecoverySupport.workDirectory;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three pgvault servers (separate JVMs) on one S3 bucket (S3Proxy) and one PostgreSQL catalog,
 * HAProxy in front when installed (else archive_command tries each server in turn, the
 * documented one-liner). A primary archives through them and is streamed, under pgbench and
 * a writer whose commits the test records, with a backup schedule every 10 seconds.
 *
 * <p>The server streaming the cluster is paused with SIGSTOP past its lease and woken, then
 * killed with SIGKILL, then the next one too. Throughout: streaming moves to a survivor within
 * the lease time, the longest streamed head of a segment never shrinks, every segment the
 * primary archived is in the bucket byte for byte, no backup slot runs twice and every stored
 * backup is whole, and a recovery to the latest point from the bucket alone gives exactly the
 * committed rows.
 */
class HighAvailabilityIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TTL = Duration.ofSeconds(6);
    private static final String BUCKET = "pgvault-ha";

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void killingAndPausingServersLosesNothing() throws Exception {
        Path dir = workDirectory("pgvault-ha-it-");
        List<AutoCloseable> opened = new ArrayList<>();
        Map<String, ServerProcess> servers = new HashMap<>();
        try {
            S3ProxyFixture s3 = S3ProxyFixture.start();
            opened.add(s3);
            s3.createBucket(BUCKET);
            PgCluster catalogDb = PgCluster.builder(15).start();
            opened.add(catalogDb);
            catalogDb.execute("CREATE DATABASE catalog");

            Map<String, String> common = new HashMap<>();
            common.put("pgvault.repository.url", "s3://" + BUCKET + "/pgvault");
            common.put("pgvault.repository.s3.endpoint", s3.endpoint().toString());
            common.put("pgvault.repository.s3.path-style", "true");
            common.put("pgvault.repository.s3.access-key", S3ProxyFixture.ACCESS_KEY);
            common.put("pgvault.repository.s3.secret-key", S3ProxyFixture.SECRET_KEY);
            common.put("pgvault.catalog.url", catalogDb.jdbcUrl("catalog"));
            common.put("pgvault.catalog.user", "postgres");
            common.put("pgvault.lease.ttl", TTL.toSeconds() + "s");
            common.put("pgvault.streaming.retry-min", "200ms");
            common.put("pgvault.streaming.retry-max", "1s");
            common.put("pgvault.backup.heartbeat-interval", "1s");
            common.put("pgvault.backup.heartbeat-timeout", "5s");
            common.put("micronaut.metrics.binders.logback.enabled", "false");
            List<String> urls = new ArrayList<>();
            for (String id : List.of("s1", "s2", "s3")) {
                Map<String, String> props = new HashMap<>(common);
                props.put("pgvault.server-id", id);
                props.put("pgvault.data-dir", dir.resolve(id).toString());
                ServerProcess server = ServerProcess.start(Fixtures.freePort(), props, dir.resolve(id + ".log"));
                servers.put(id, server);
                urls.add(server.url());
            }
            Optional<Balancer> balancer = Balancer.start(dir, urls);
            balancer.ifPresent(opened::add);
            String archiveCommand = balancer.map(b -> "curl -fsS --max-time 60 -T %p " + b.url() + "/v1/clusters/main/wal/%f")
                    .orElseGet(() -> "for s in " + String.join(" ", urls) + "; do curl -fsS --max-time 60 -T %p $s/v1/clusters/main/wal/%f "
                            + "&& exit 0; done; exit 1");
            String api = balancer.map(Balancer::url).orElse(urls.get(0));

            PgCluster primary = PgCluster.builder(17)
                    .setting("archive_mode", "on")
                    .setting("archive_command", archiveCommand)
                    .setting("wal_keep_size", "1GB")
                    .start();
            opened.add(primary);
            String conninfo = "host=127.0.0.1 port=" + primary.port() + " user=postgres";
            send("POST", api + "/v1/clusters", Map.of("name", "main", "conninfo", conninfo, "stream", true,
                    "backupSchedule", "*/10 * * * * *"), 201);
            String conn = "-h 127.0.0.1 -p " + primary.port() + " -U postgres";
            shell("pgbench -i -q -s 2 " + conn + " postgres");
            primary.execute("CREATE TABLE marks (id int PRIMARY KEY, v text NOT NULL)");

            try (S3Store bucket = new S3Store(s3.settings(BUCKET, "pgvault")); HeadWatch heads = new HeadWatch(bucket);
                 Writer writer = new Writer(primary)) {
                Process load = new ProcessBuilder("bash", "-c", "pgbench -n -T 600 -R 40 -c 2 -j 1 " + conn + " postgres")
                        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                try {
                    String first = awaitStreamer(servers, Set.of());
                    Thread.sleep(4000);

                    // 1. The streaming server freezes past its lease, another takes over, then it wakes up.
                    ServerProcess paused = servers.get(first);
                    paused.pause();
                    long pausedAt = System.nanoTime();
                    String second = awaitStreamer(servers, Set.of(first));
                    Duration takeover1 = Duration.ofNanos(System.nanoTime() - pausedAt);
                    Thread.sleep(3000);
                    paused.resume();
                    awaitState(paused, "elsewhere");
                    assertThat(Files.readString(dir.resolve(first + ".log"))).contains("Lost the lease of main");
                    Thread.sleep(3000);

                    // 2. kill -9 the new streamer; 3. later the next one.
                    servers.get(second).kill();
                    long killedAt = System.nanoTime();
                    String third = awaitStreamer(servers, Set.of(second));
                    Duration takeover2 = Duration.ofNanos(System.nanoTime() - killedAt);
                    Thread.sleep(8000);
                    servers.get(third).kill();
                    killedAt = System.nanoTime();
                    String last = awaitStreamer(servers, Set.of(second, third));
                    Duration takeover3 = Duration.ofNanos(System.nanoTime() - killedAt);
                    Thread.sleep(4000);
                    System.out.printf("HA takeovers: paused %s -> %s in %d ms; killed %s -> %s in %d ms; killed %s -> %s in %d ms%n", first, second,
                            takeover1.toMillis(), second, third, takeover2.toMillis(), third, last, takeover3.toMillis());
                    // A survivor looks again when the dead holder's lease runs out (at most a ttl after it died), then
                    // connects and stores its first flush: a few seconds of slack for a loaded CI machine.
                    Duration bound = TTL.plusSeconds(4);
                    assertThat(List.of(takeover1, takeover2, takeover3)).allSatisfy(t -> assertThat(t).isLessThan(bound));
                } finally {
                    load.destroy();
                    load.waitFor(30, TimeUnit.SECONDS);
                }
                writer.close();
                String committed = primary.queryValue(CHECKSUM);
                assertThat(writer.committed()).isGreaterThan(50);
                RecoverySupport.switchAndAwaitArchived(primary, Duration.ofSeconds(90));

                assertThat(heads.shrunk()).as("a streamed head never got shorter").isEmpty();
                assertThat(heads.seen()).as("heads were watched").isPositive();
                List<ServerProcess> alive = servers.values().stream().filter(ServerProcess::isAlive).toList();
                assertEveryArchivedSegmentStored(primary, bucket);
                assertBackupsOncePerSlotAndWhole(catalogDb, bucket, alive.get(0).url());

                // Only the bucket: restore_command reads it, no server involved.
                assertThat(recoverLatest(dir, s3)).as("PITR to latest after two kills and a pause").isEqualTo(committed);
            }
        } catch (Throwable failure) {
            printLogTails(dir);
            throw failure;
        } finally {
            servers.values().forEach(ServerProcess::close);
            for (int i = opened.size() - 1; i >= 0; i--) {
                try {
                    opened.get(i).close();
                } catch (Exception e) {
                    System.err.println("closing " + opened.get(i) + ": " + e);
                }
            }
            Fixtures.deleteTree(dir);
        }
    }

    /** What the servers and the balancer said last, for a failure's report (the directory is deleted). */
    private static void printLogTails(Path dir) {
        try (var logs = Files.list(dir)) {
            for (Path log : logs.filter(p -> p.toString().endsWith(".log")).sorted().toList()) {
                List<String> lines = Files.readAllLines(log);
                System.out.println("==== " + log.getFileName() + " (last 60 lines)");
                lines.subList(Math.max(0, lines.size() - 60), lines.size()).forEach(System.out::println);
            }
        } catch (IOException e) {
            System.out.println("logs unreadable: " + e);
        }
    }

    /** The id of the server (not in {@code excluded}) that streams the cluster, once one does. */
    private String awaitStreamer(Map<String, ServerProcess> servers, Set<String> excluded) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            for (Map.Entry<String, ServerProcess> s : servers.entrySet()) {
                if (excluded.contains(s.getKey()) || !s.getValue().isAlive()) {
                    continue;
                }
                Optional<JsonNode> status = stream(s.getValue());
                if (status.isPresent() && status.get().path("state").asText().equals("streaming") && status.get().hasNonNull("flushedLsn")) {
                    return s.getKey();
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no server but " + excluded + " streams the cluster");
    }

    private void awaitState(ServerProcess server, String state) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Optional<JsonNode> status = Optional.empty();
        while (System.nanoTime() < deadline) {
            status = stream(server);
            if (status.isPresent() && status.get().path("state").asText().equals(state)) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("server " + server.url() + " is not " + state + ": " + status);
    }

    private Optional<JsonNode> stream(ServerProcess server) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/clusters/main/stream"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? Optional.of(JSON.readTree(r.body())) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty(); // paused or killed
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private JsonNode send(String method, String url, Object body, int expected) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(method + " " + url + ": " + r.body()).isEqualTo(expected);
        return JSON.readTree(r.body());
    }

    /** Every segment the primary's archiver reports shipped is in the bucket, with the bytes still in its pg_wal. */
    private static void assertEveryArchivedSegmentStored(PgCluster primary, S3Store bucket) throws Exception {
        String lastArchived = primary.queryValue("SELECT last_archived_wal FROM pg_stat_archiver");
        int compared = 0;
        // Not closed here: closing it closes the bucket's store, which the caller owns.
        io.pgvault.core.archive.WalSource source = new io.pgvault.core.archive.WalSource(bucket, "main", false);
        for (Path file : primary.walFiles()) {
            String name = file.getFileName().toString();
            Optional<WalFileName> segment = WalFileName.tryParse(name).filter(n -> n.kind() == WalFileName.Kind.SEGMENT);
            if (segment.isEmpty() || name.compareTo(lastArchived) > 0) {
                continue;
            }
            Optional<java.io.InputStream> stored = source.open(segment.get());
            assertThat(stored).as(name + " acknowledged by the archiver").isPresent();
            try (java.io.InputStream in = stored.get()) {
                assertThat(in.readAllBytes()).as(name).isEqualTo(Files.readAllBytes(file));
            }
            compared++;
        }
        assertThat(compared).isGreaterThan(3);
    }

    /**
     * Each claimed slot ran at most one backup and no backup belongs to two slots; every backup
     * stored is complete in the bucket (its manifest names pieces that are all there).
     */
    private void assertBackupsOncePerSlotAndWhole(PgCluster catalogDb, S3Store bucket, String survivor) throws Exception {
        List<String> slotBackups = new ArrayList<>();
        int slots = 0;
        try (Connection c = catalogDb.connect("catalog"); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT slot_at, backup_id FROM backup_slots ORDER BY slot_at")) {
            while (rs.next()) {
                slots++;
                if (rs.getString(2) != null) {
                    slotBackups.add(rs.getString(2));
                }
            }
        }
        assertThat(slots).as("scheduled slots ran").isGreaterThanOrEqualTo(3);
        assertThat(slotBackups).as("no backup started for two slots").doesNotHaveDuplicates();
        JsonNode list = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(survivor + "/v1/clusters/main/backups")).build(),
                HttpResponse.BodyHandlers.ofString()).body());
        Set<String> listed = new TreeSet<>();
        int stored = 0;
        for (JsonNode b : list) {
            listed.add(b.path("id").asText());
            if (!Set.of("running", "failed").contains(b.path("status").asText())) {
                stored++;
                io.pgvault.core.backup.BackupManifest manifest = io.pgvault.core.backup.BackupManifest.read(bucket, "main", b.path("id").asText())
                        .orElseThrow(() -> new AssertionError("backup " + b + " has no manifest"));
                Set<String> present = bucket.list(RepositoryLayout.backupPrefix("main", manifest.backupId())).stream().map(ObjectStat::key)
                        .collect(Collectors.toSet());
                manifest.pieces().forEach(p -> assertThat(present).as("pieces of " + manifest.backupId()).contains(p.key()));
            }
        }
        assertThat(stored).as("backups stored across the failovers").isGreaterThanOrEqualTo(2);
        assertThat(listed).containsAll(slotBackups.stream().filter(id -> !id.isEmpty()).toList());
    }

    private static String recoverLatest(Path dir, S3ProxyFixture s3) throws Exception {
        try (PgCluster restored = PgCluster.builder(17).adopt(data -> {
            RecoverySupport.Run r = pgvault(dir, List.of("recover", "--repo", "s3://" + BUCKET + "/pgvault", "--s3-endpoint", s3.endpoint().toString(),
                    "--s3-path-style", "--s3-access-key", S3ProxyFixture.ACCESS_KEY, "--s3-secret-key", S3ProxyFixture.SECRET_KEY,
                    "--cluster", "main", "--pgdata", data.toString(), "--target-action", "promote"));
            assertThat(r.exit()).as(r.output()).isZero();
        })) {
            restored.start();
            restored.awaitRecoveryEnd(Duration.ofMinutes(2));
            return restored.queryValue(CHECKSUM);
        }
    }

    /** Commits a row every 50 ms and counts the commits PostgreSQL acknowledged. */
    private static final class Writer implements AutoCloseable {
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final AtomicInteger committed = new AtomicInteger();
        private final Thread thread;

        Writer(PgCluster primary) {
            thread = new Thread(() -> {
                try (Connection db = primary.connect(); Statement st = db.createStatement()) {
                    for (int id = 1; running.get(); id++) {
                        st.execute("INSERT INTO marks VALUES (" + id + ", md5(random()::text))");
                        committed.incrementAndGet();
                        Thread.sleep(50);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, "marks-writer");
            thread.start();
        }

        int committed() {
            return committed.get();
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            thread.join(10_000);
        }
    }

    /**
     * Reads the bucket's streamed heads every 100 ms and records any segment not archived whole
     * whose longest head got shorter than it was.
     */
    private static final class HeadWatch implements AutoCloseable {
        private final S3Store bucket;
        private final Map<String, Long> longest = new ConcurrentHashMap<>();
        private final List<String> shrunk = new CopyOnWriteArrayList<>();
        private final AtomicInteger seen = new AtomicInteger();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread;

        HeadWatch(S3Store bucket) {
            this.bucket = bucket;
            thread = new Thread(this::watch, "head-watch");
            thread.setDaemon(true);
            thread.start();
        }

        private void watch() {
            while (running.get()) {
                try {
                    Set<WalFileName> segments = new TreeSet<>();
                    for (ObjectStat head : StreamedHeads.list(bucket, "main")) {
                        StreamedHeads.segmentOf(head.key()).ifPresent(segments::add);
                    }
                    for (WalFileName segment : segments) {
                        Optional<StreamedHeads.Head> now = StreamedHeads.longest(bucket, "main", segment);
                        if (now.isEmpty()) {
                            continue; // archived whole meanwhile
                        }
                        seen.incrementAndGet();
                        long before = longest.getOrDefault(segment.toString(), 0L);
                        // A receiver may still write a head of a segment another one just archived whole (it streamed
                        // that far before it learnt): readers take the whole segment then, so only the others count.
                        if (now.get().length() < before && bucket.stat(RepositoryLayout.walKey("main", segment)).isEmpty()) {
                            shrunk.add(segment + ": " + before + " -> " + now.get().length());
                        }
                        longest.merge(segment.toString(), now.get().length(), Math::max);
                    }
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                } catch (IOException | RuntimeException e) {
                    // A head deleted between the listing and the read: looked at again next time.
                }
            }
        }

        List<String> shrunk() {
            return shrunk;
        }

        int seen() {
            return seen.get();
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            thread.interrupt();
            thread.join(5000);
        }
    }

    /** HAProxy (Debian's package) in front of the servers, when installed; health-checked, redispatching on refused connections. */
    private record Balancer(Process process, String url) implements AutoCloseable {

        static Optional<Balancer> start(Path dir, List<String> servers) throws Exception {
            Optional<Path> haproxy = java.util.stream.Stream.of("/usr/sbin/haproxy", "/usr/bin/haproxy").map(Path::of).filter(Files::isExecutable)
                    .findFirst();
            if (haproxy.isEmpty()) {
                System.out.println("HAProxy is not installed: archive_command tries each server in turn instead");
                return Optional.empty();
            }
            int port = Fixtures.freePort();
            StringBuilder config = new StringBuilder("""
                    global
                        maxconn 256
                    defaults
                        mode http
                        timeout connect 1s
                        timeout client 120s
                        timeout server 120s
                        retries 3
                        option redispatch
                    frontend pgvault
                        bind 127.0.0.1:%d
                        default_backend servers
                    backend servers
                        balance roundrobin
                        option httpchk GET /health
                        http-check expect status 200
                    """.formatted(port));
            for (int i = 0; i < servers.size(); i++) {
                config.append("    server s").append(i + 1).append(' ').append(URI.create(servers.get(i)).getAuthority())
                        .append(" check inter 500ms fall 2 rise 1\n");
            }
            Path cfg = dir.resolve("haproxy.cfg");
            Files.writeString(cfg, config);
            Process process = new ProcessBuilder(haproxy.get().toString(), "-db", "-f", cfg.toString()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("haproxy.log").toFile()).start();
            Balancer balancer = new Balancer(process, "http://127.0.0.1:" + port);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) {
                try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                    return Optional.of(balancer);
                } catch (IOException notYet) {
                    if (!process.isAlive()) {
                        throw new IllegalStateException("haproxy exited: " + Files.readString(dir.resolve("haproxy.log")));
                    }
                    Thread.sleep(100);
                }
            }
            balancer.close();
            throw new IllegalStateException("haproxy did not listen on " + port);
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}

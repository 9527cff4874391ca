package io.pgvault.server.backup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.BackupRestorer;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.server.ArchivingCluster;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Base backups taken by the server over the replication protocol while pgbench writes,
 * restored from the repository into a fresh directory, recovered by PostgreSQL with WAL
 * served by pgvault: the data match. Then retention, a refused concurrent backup, a
 * scheduled backup and an unreachable cluster. On PostgreSQL 14 and 17.
 */
class BackupIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private String url;

    private HttpResponse<String> call(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode json(String method, String path, String body, int expectedStatus) throws Exception {
        HttpResponse<String> r = call(method, path, body);
        assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(expectedStatus);
        return JSON.readTree(r.body());
    }

    private JsonNode awaitBackup(String cluster, String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            JsonNode b = json("GET", "/v1/clusters/" + cluster + "/backups/" + id, null, 200);
            if (!b.path("status").asText().equals("running")) {
                return b;
            }
            Thread.sleep(300);
        }
        throw new AssertionError("backup " + id + " did not finish");
    }

    private static String checksum(PgCluster pg) {
        return pg.queryValue("SELECT (SELECT sum(abalance) || '/' || count(*) FROM pgbench_accounts) || '/' || "
                + "(SELECT count(*) || '/' || coalesce(sum(delta), 0) FROM pgbench_history)");
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {14, 17})
    void backupUnderLoadRestoresToTheCommittedData(int major) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-backup-it-");
        Map<String, Object> props = Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dir.toString(),
                "pgvault.backup.piece-size", "8MB",
                // The retention part below expects the superseded backup gone at once; the default
                // day of grace would keep it (RetentionGraceTest covers the grace).
                "pgvault.retention.grace", "0s",
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props);
             LocalDirectoryStore repo = new LocalDirectoryStore(dir.resolve("repo"))) {
            url = "http://127.0.0.1:" + server.getPort();
            try (ArchivingCluster cluster = ArchivingCluster.start(major, 16, url, "main")) {
                PgCluster pg = cluster.pg();
                String conninfo = "host=127.0.0.1 port=" + pg.port() + " user=postgres";
                json("POST", "/v1/clusters", "{\"name\":\"main\",\"conninfo\":\"" + conninfo + "\",\"retainFull\":2}", 201);
                String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
                run("pgbench -i -q -s 5 " + conn + " postgres");
                Process load = new ProcessBuilder("bash", "-c", "pgbench -n -T 8 -c 2 -j 2 " + conn + " postgres")
                        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                String first;
                try {
                    first = json("POST", "/v1/clusters/main/backups", null, 202).path("id").asText();
                    HttpResponse<String> second = call("POST", "/v1/clusters/main/backups", null);
                    assertThat(second.statusCode()).isEqualTo(409);
                    assertThat(second.body()).contains("already running").contains(first);
                    assertThat(call("GET", "/v1/clusters/main/backups/" + first + "?wait=301", null).statusCode()).isEqualTo(400);
                    // A waiting GET answers when the backup has ended, not before.
                    JsonNode done = json("GET", "/v1/clusters/main/backups/" + first + "?wait=120", null, 200);
                    assertThat(done.path("status").asText()).as(done.toString()).isIn("complete", "incomplete");
                } finally {
                    assertThat(load.waitFor(2, TimeUnit.MINUTES)).isTrue();
                }
                String expected = checksum(pg);
                cluster.switchAndAwaitArchived(Duration.ofSeconds(90));
                JsonNode listed = json("GET", "/v1/clusters/main/backups/" + first, null, 200);
                assertThat(listed.path("status").asText()).as(listed.toString()).isEqualTo("complete");
                assertThat(listed.path("pieces").asInt()).isGreaterThan(3);

                // Restore from the repository alone; WAL comes from pgvault through restore_command.
                BackupManifest manifest = BackupManifest.read(repo, "main", first).orElseThrow();
                // PostgreSQL's clock, read once BASE_BACKUP ended (the same machine's clock here), judges target times.
                assertThat(java.time.Instant.parse(manifest.pgFinishedAt())).as(manifest.toString())
                        .isBetween(java.time.Instant.parse(manifest.startedAt()), java.time.Instant.parse(manifest.finishedAt()));
                try (PgCluster restored = PgCluster.builder(major)
                        .setting("archive_mode", "off")
                        .setting("restore_command", "curl -fsS -o %p " + url + "/v1/clusters/main/wal/%f")
                        .adopt(data -> new BackupRestorer(repo, 4).restore(manifest, data, Map.of(), n -> { }))) {
                    restored.touch("recovery.signal");
                    restored.start();
                    restored.awaitRecoveryEnd(Duration.ofMinutes(2));
                    assertThat(checksum(restored)).isEqualTo(expected);
                }

                // Retention keeps the newest two complete backups and the WAL they need.
                String oldestWal = json("GET", "/v1/clusters/main/wal", null, 200).get(0).path("name").asText();
                for (int i = 0; i < 2; i++) {
                    pg.execute("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, " + i + ", now())");
                    String id = json("POST", "/v1/clusters/main/backups", null, 202).path("id").asText();
                    awaitBackup("main", id);
                    cluster.switchAndAwaitArchived(Duration.ofSeconds(90));
                }
                // The server applies retention once the newest backup's WAL has arrived.
                JsonNode all = json("GET", "/v1/clusters/main/backups", null, 200);
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (all.size() > 2 && System.nanoTime() < until) {
                    Thread.sleep(500);
                    all = json("GET", "/v1/clusters/main/backups", null, 200);
                }
                assertThat(all).hasSize(2);
                assertThat(all.findValuesAsText("id")).doesNotContain(first);
                assertThat(all.findValuesAsText("status")).containsOnly("complete");
                assertThat(call("GET", "/v1/clusters/main/wal/" + oldestWal, null).statusCode()).isEqualTo(404);
                JsonNode dry = json("POST", "/v1/clusters/main/expire?dryRun=true", null, 200);
                assertThat(dry.path("deletedBackups")).isEmpty();
                assertThat(dry.path("keptBackups")).hasSize(2);

                // A scheduled backup fires.
                json("POST", "/v1/clusters", "{\"name\":\"scheduled\",\"conninfo\":\"" + conninfo + "\",\"backupSchedule\":\"*/2 * * * * *\"}", 201);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                JsonNode scheduled = json("GET", "/v1/clusters/scheduled/backups", null, 200);
                while (scheduled.isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(500);
                    scheduled = json("GET", "/v1/clusters/scheduled/backups", null, 200);
                }
                assertThat(scheduled).isNotEmpty();

                // An unreachable cluster: the backup fails with the reason, nothing is kept.
                json("POST", "/v1/clusters", "{\"name\":\"gone\",\"conninfo\":\"host=127.0.0.1 port=" + Fixtures.freePort() + " user=postgres\"}", 201);
                String failedId = json("POST", "/v1/clusters/gone/backups", null, 202).path("id").asText();
                JsonNode failed = awaitBackup("gone", failedId);
                assertThat(failed.path("status").asText()).isEqualTo("failed");
                assertThat(failed.path("reason").asText()).contains("cannot connect to PostgreSQL");
                assertThat(repo.list("clusters/gone/backups/")).isEmpty();

                // The status and metrics read the history; a catalog rebuild refills it from the manifests.
                JsonNode status = json("GET", "/v1/clusters/main/status", null, 200);
                assertThat(status.path("backups").path("count").asInt()).isEqualTo(2);
                assertThat(status.path("backups").path("lastSuccess").path("rawBytes").asLong()).isPositive();
                assertThat(status.path("window").path("start").asText()).isNotEmpty();
                JsonNode gone = json("GET", "/v1/clusters/gone/status", null, 200);
                assertThat(gone.path("backups").path("lastFailure").path("reason").asText()).contains("cannot connect to PostgreSQL");
                assertThat(gone.path("events").get(0).path("kind").asText()).isEqualTo("backup-failed");
                json("POST", "/v1/catalog/rebuild", null, 200);
                JsonNode rebuilt = json("GET", "/v1/clusters/main/backups", null, 200);
                assertThat(rebuilt.findValuesAsText("id")).isEqualTo(all.findValuesAsText("id"));
                assertThat(rebuilt.findValuesAsText("status")).containsOnly("complete");
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static void run(String command) throws Exception {
        Process p = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(p.waitFor(5, TimeUnit.MINUTES) && p.exitValue() == 0).as(command).isTrue();
    }
}

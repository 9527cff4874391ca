package io.pgvault.server.check;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.server.ArchivingCluster;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code POST /v1/clusters/{name}/check} against a real cluster archiving through the server:
 * what a new setup lacks, the proof once it works, and each way it breaks (archive_command
 * aimed at another cluster, a conninfo that reaches nothing, an unknown cluster).
 */
class ClusterCheckIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private String url;

    @Test
    void checkFindsWhatIsMissingProvesArchivingAndNamesEachFault() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-check-it-");
        Map<String, Object> props = Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dir.toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props)) {
            url = "http://127.0.0.1:" + server.getPort();
            try (ArchivingCluster cluster = ArchivingCluster.start(Fixtures.testMajors().get(Fixtures.testMajors().size() - 1), 16, url, "main")) {
                PgCluster pg = cluster.pg();
                String conninfo = "host=127.0.0.1 port=" + pg.port() + " user=postgres";
                assertThat(post("/v1/clusters", "{\"name\":\"main\",\"conninfo\":\"" + conninfo + "\"}").statusCode()).isEqualTo(201);

                // A new setup: connections and archive_command fine, no WAL yet (without the switch), no backup.
                JsonNode fresh = check("main", "");
                assertThat(status(fresh, "replication connection")).isEqualTo("OK");
                assertThat(status(fresh, "sql connection")).isEqualTo("OK");
                assertThat(status(fresh, "archive_command")).isEqualTo("OK");
                assertThat(status(fresh, "backup")).isEqualTo("CRITICAL");
                assertThat(line(fresh, "backup").path("fix").asText()).contains("pgvault backup main --wait");
                assertThat(fresh.has("checks") && !hasCheck(fresh, "wal switch")).isTrue();

                // The proof: the switched segment arrives; after a backup everything is OK.
                JsonNode switched = check("main", "walTimeout=60");
                assertThat(status(switched, "wal switch")).as(switched.toString()).isEqualTo("OK");
                assertThat(line(switched, "wal switch").path("detail").asText()).contains("is in the archive");
                String backup = JSON.readTree(post("/v1/clusters/main/backups", "").body()).path("id").asText();
                awaitComplete(backup, cluster);
                JsonNode healthy = check("main", "walTimeout=60");
                assertThat(healthy.path("status").asText()).as(healthy.toPrettyString()).isEqualTo("OK");
                assertThat(status(healthy, "identity")).isEqualTo("OK");
                assertThat(line(healthy, "wal archive").path("detail").asText()).contains("no gap from backup " + backup);

                // archive_command aimed at another cluster: named, and the switched segment does not arrive.
                pg.appendConf(Map.of("archive_command", "curl -fsS -T %p " + url + "/v1/clusters/other/wal/%f"));
                pg.execute("SELECT pg_reload_conf()");
                awaitSetting(pg, "archive_command", "/v1/clusters/other/wal/");
                JsonNode wrong = check("main", "walTimeout=3");
                assertThat(wrong.path("status").asText()).isEqualTo("CRITICAL");
                assertThat(line(wrong, "archive_command").path("detail").asText()).contains("cluster 'other', not 'main'");
                assertThat(status(wrong, "wal switch")).isEqualTo("CRITICAL");

                // A wrapper script pgvault cannot read: not condemned on sight, the switch decides.
                pg.appendConf(Map.of("archive_command", "/usr/local/bin/archive-wal.sh %p %f"));
                pg.execute("SELECT pg_reload_conf()");
                awaitSetting(pg, "archive_command", "archive-wal.sh");
                JsonNode wrapper = check("main", "");
                assertThat(status(wrapper, "archive_command")).isEqualTo("WARNING");
                assertThat(line(wrapper, "archive_command").path("fix").asText()).contains("WAL switch");
            }

            // A conninfo that reaches nothing; an unknown cluster.
            int closed = Fixtures.freePort();
            assertThat(post("/v1/clusters", "{\"name\":\"gone\",\"conninfo\":\"host=127.0.0.1 port=" + closed + " user=postgres\"}")
                    .statusCode()).isEqualTo(201);
            JsonNode gone = check("gone", "walTimeout=2");
            assertThat(gone.path("status").asText()).isEqualTo("CRITICAL");
            assertThat(line(gone, "wal switch").path("detail").asText()).contains("not tried");
            assertThat(line(gone, "replication connection").path("fix").asText()).contains("pg_hba.conf");
            assertThat(status(gone, "sql connection")).isEqualTo("CRITICAL");
            assertThat(post("/v1/clusters/nosuch/check", "").statusCode()).isEqualTo(404);
            assertThat(post("/v1/clusters/main/check?walTimeout=0", "").statusCode()).isEqualTo(400);
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** GET: no restore point, no switch; POST with {@code walTimeout=N}: the proof. */
    private JsonNode check(String cluster, String query) throws Exception {
        HttpResponse<String> r = query.isEmpty()
                ? http.send(HttpRequest.newBuilder(URI.create(url + "/v1/clusters/" + cluster + "/check")).build(), HttpResponse.BodyHandlers.ofString())
                : post("/v1/clusters/" + cluster + "/check?" + query, "");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private static boolean hasCheck(JsonNode report, String check) {
        for (JsonNode c : report.path("checks")) {
            if (c.path("check").asText().equals(check)) {
                return true;
            }
        }
        return false;
    }

    private static JsonNode line(JsonNode report, String check) {
        for (JsonNode c : report.path("checks")) {
            if (c.path("check").asText().equals(check)) {
                return c;
            }
        }
        throw new AssertionError("no '" + check + "' line in " + report.toPrettyString());
    }

    private static String status(JsonNode report, String check) {
        return line(report, check).path("status").asText();
    }

    private void awaitComplete(String id, ArchivingCluster cluster) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (System.nanoTime() < deadline) {
            String body = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/clusters/main/backups/" + id)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            if (body.contains("\"status\":\"complete\"")) {
                return;
            }
            Thread.sleep(300);
        }
        throw new AssertionError("backup " + id + " did not complete");
    }

    private static void awaitSetting(PgCluster pg, String name, String contains) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!pg.queryValue("SHOW " + name).contains(contains) && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(pg.queryValue("SHOW " + name)).contains(contains);
    }
}

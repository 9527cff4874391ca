package io.pgvault.server.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import io.micronaut.test.support.TestPropertyProvider;
import io.pgvault.server.SyntheticWal;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the dashboard and the alerts read, as archiving goes right and wrong: the status
 * light and its reasons, holes in the archive, per-cluster metrics, {@code /health}
 * details, and a planner that refuses what cannot be recovered.
 */
@MicronautTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StatusApiTest implements TestPropertyProvider {

    private static final long SYSID = 7441234567890123456L;
    private static final long FOREIGN = 7449999999999999999L;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newHttpClient();

    @Inject
    EmbeddedServer server;

    @Override
    public Map<String, String> getProperties() {
        try {
            return Map.of("micronaut.server.port", "-1", "pgvault.data-dir", Files.createTempDirectory("pgvault-status-test").toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @BeforeAll
    void registerCluster() throws Exception {
        HttpResponse<String> r = send(HttpRequest.newBuilder(uri("/v1/clusters")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"main\",\"conninfo\":\"host=127.0.0.1\",\"backupSchedule\":\"0 2 * * *\"}")));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.getPort() + path);
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private int put(String file, long system, long seed) throws Exception {
        long segno = Long.parseLong(file.substring(16), 16);
        return send(HttpRequest.newBuilder(uri("/v1/clusters/main/wal/" + file))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(SyntheticWal.segment(segno, 16, system, 1, seed)))).statusCode();
    }

    private JsonNode get(String path) throws Exception {
        HttpResponse<String> r = send(HttpRequest.newBuilder(uri(path)));
        assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private JsonNode overview() throws Exception {
        JsonNode clusters = get("/v1/status").path("clusters");
        assertThat(clusters).hasSize(1);
        return clusters.get(0);
    }

    @Test
    @Order(1)
    void aClusterWithNothingArchivedSaysSo() throws Exception {
        JsonNode main = overview();
        assertThat(main.path("name").asText()).isEqualTo("main");
        assertThat(main.path("archiving").path("state").asText()).isEqualTo("never");
        assertThat(main.path("health").asText()).isEqualTo("critical");
        assertThat(main.path("reasons").toString()).contains("no complete backup").contains("nothing archived yet");
        assertThat(main.path("backups").path("schedule").asText()).isEqualTo("0 2 * * *");
        assertThat(main.path("backups").path("nextDueAt").asText()).endsWith("Z");
    }

    @Test
    @Order(2)
    void archivedWalIsCountedAndARefusedPushTurnsTheClusterRedWithTheReason() throws Exception {
        for (int seg = 1; seg <= 3; seg++) {
            assertThat(put(String.format("00000001%016X", seg), SYSID, seg)).isEqualTo(201);
        }
        JsonNode main = overview();
        assertThat(main.path("archiving").path("state").asText()).isEqualTo("ok");
        assertThat(main.path("archiving").path("walFiles").asLong()).isEqualTo(3);
        assertThat(main.path("archiving").path("lastFile").asText()).isEqualTo("000000010000000000000003");
        assertThat(main.path("storage").path("walRawBytes").asLong()).isEqualTo(3L * 16 * 1024 * 1024);
        long stored = main.path("storage").path("walStoredBytes").asLong();
        assertThat(stored).isPositive();
        assertThat(main.path("storage").path("compressionRatio").asDouble()).isEqualTo(Math.round(3.0 * 16 * 1024 * 1024 * 100 / stored) / 100.0);

        assertThat(put("000000010000000000000004", FOREIGN, 4)).isEqualTo(409);
        main = overview();
        assertThat(main.path("health").asText()).isEqualTo("critical");
        assertThat(main.path("archiving").path("state").asText()).isEqualTo("failing");
        assertThat(main.path("reasons").get(0).asText()).contains("archiving failing").contains("000000010000000000000004")
                .contains("HTTP 409").contains(Long.toUnsignedString(FOREIGN));
        assertThat(main.path("archiving").path("lastRefusal").path("status").asInt()).isEqualTo(409);

        // The right segment afterwards: archiving works again, and the refusal stays visible for a while.
        assertThat(put("000000010000000000000004", SYSID, 4)).isEqualTo(201);
        main = overview();
        assertThat(main.path("archiving").path("state").asText()).isEqualTo("ok");
        assertThat(main.path("reasons").toString()).contains("was refused at");
    }

    @Test
    @Order(3)
    void theClusterPageShowsHolesArrivalsAndEvents() throws Exception {
        assertThat(put("000000010000000000000007", SYSID, 7)).isEqualTo(201);
        JsonNode page = get("/v1/clusters/main/status");
        JsonNode timeline = page.path("timelines").get(0);
        assertThat(timeline.path("timeline").asLong()).isEqualTo(1);
        assertThat(timeline.path("firstSegment").asText()).isEqualTo("000000010000000000000001");
        assertThat(timeline.path("lastSegment").asText()).isEqualTo("000000010000000000000007");
        assertThat(timeline.path("gaps")).hasSize(1);
        assertThat(timeline.path("gaps").get(0).path("from").asText()).isEqualTo("000000010000000000000005");
        assertThat(timeline.path("gaps").get(0).path("to").asText()).isEqualTo("000000010000000000000006");
        JsonNode hours = page.path("walArrivals");
        assertThat(hours).hasSize(24);
        assertThat(hours.get(23).path("files").asLong()).isEqualTo(5);
        assertThat(page.path("events").get(0).path("kind").asText()).isEqualTo("refusal");
        assertThat(page.path("events").get(0).path("file").asText()).isEqualTo("000000010000000000000004");
        // The overview leaves the page's detail out.
        JsonNode overview = overview();
        assertThat(overview.path("timelines").isMissingNode() || overview.path("timelines").isNull()).isTrue();
    }

    @Test
    @Order(4)
    void perClusterMetricsUsePrometheusNames() throws Exception {
        String metrics = send(HttpRequest.newBuilder(uri("/prometheus"))).body();
        assertThat(metrics)
                .contains("pgvault_wal_raw_bytes_total{cluster=\"main\"}")
                .contains("pgvault_wal_stored_bytes_total{cluster=\"main\"}")
                .contains("pgvault_wal_push_duration_seconds_bucket{cluster=\"main\",le=\"0.1\"}")
                .contains("pgvault_backup_failures_total{cluster=\"main\"} 0.0")
                .contains("pgvault_backup_last_success_timestamp_seconds{cluster=\"main\"} 0.0")
                .contains("pgvault_backup_schedule_interval_seconds{cluster=\"main\"} 86400.0")
                .contains("pgvault_backup_size_bytes{cluster=\"main\",kind=\"raw\"}")
                .contains("pgvault_recovery_window_gaps{cluster=\"main\"}")
                .contains("pgvault_repository_bytes{cluster=\"main\",kind=\"wal\"}");
        String archived = metrics.lines().filter(l -> l.startsWith("pgvault_wal_last_archived_timestamp_seconds{cluster=\"main\"}"))
                .findFirst().orElseThrow();
        double at = Double.parseDouble(archived.substring(archived.lastIndexOf(' ') + 1));
        assertThat(at).isBetween(System.currentTimeMillis() / 1000.0 - 600, System.currentTimeMillis() / 1000.0 + 1);
    }

    /**
     * docs/monitoring.md's metric tables name every pgvault metric the server exports, and the
     * shipped alert rules use only documented ones (the stream gauges exist only for streamed
     * clusters, which StreamingIT covers).
     */
    @Test
    @Order(4)
    void theMonitoringDocNamesEveryExportedMetric() throws Exception {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.exists(root.resolve("docs/monitoring.md"))) {
            root = root.getParent();
        }
        Set<String> documented = new TreeSet<>();
        for (String line : Files.readAllLines(root.resolve("docs/monitoring.md"))) {
            if (line.startsWith("| `pgvault_")) {
                Matcher m = METRIC.matcher(line.substring(0, line.indexOf(" | ", 2)));
                while (m.find()) {
                    documented.add(m.group());
                }
            }
        }
        Set<String> exported = new TreeSet<>();
        for (String line : send(HttpRequest.newBuilder(uri("/prometheus"))).body().lines().toList()) {
            Matcher m = METRIC.matcher(line);
            if (!line.startsWith("#") && m.lookingAt()) {
                exported.add(m.group().replaceAll("_(bucket|count|sum|max)$", ""));
            }
        }
        assertThat(exported).isNotEmpty();
        assertThat(documented).as("docs/monitoring.md's tables").containsAll(exported);
        Set<String> inRules = new TreeSet<>();
        Matcher m = METRIC.matcher(Files.readString(root.resolve("dist/src/etc/prometheus/pgvault-alerts.yml")));
        while (m.find()) {
            inRules.add(m.group());
        }
        assertThat(documented).as("metrics the alert rules use").containsAll(inRules);
        Set<String> missing = new TreeSet<>(documented);
        missing.removeAll(exported);
        missing.removeIf(name -> name.startsWith("pgvault_stream_"));
        assertThat(missing).as("documented but not exported").isEmpty();
    }

    private static final Pattern METRIC = Pattern.compile("pgvault_[a-z_]+[a-z]");

    @Test
    @Order(5)
    void healthShowsEachClusterToAnAuthorizedCaller() throws Exception {
        // No tokens configured: every caller is authorized, as for the rest of the API.
        JsonNode health = get("/health");
        assertThat(health.path("status").asText()).isEqualTo("UP");
        assertThat(health.path("details").path("clusters").path("details").path("main").path("health").asText()).isEqualTo("critical");
    }

    @Test
    @Order(6)
    void thePlannerRefusesWhatCannotBeRecoveredAndSaysWhy() throws Exception {
        HttpResponse<String> none = send(HttpRequest.newBuilder(uri("/v1/clusters/main/plan?target-time=2026-12-04T10:00:00Z")));
        assertThat(none.statusCode()).as(none.body()).isEqualTo(422);
        assertThat(none.body()).contains("no finished backup").contains("pgvault backup main --wait");
        HttpResponse<String> two = send(HttpRequest.newBuilder(uri("/v1/clusters/main/plan?target-time=2026-12-04T10:00:00Z&target-xid=5")));
        assertThat(two.statusCode()).isEqualTo(400);
        assertThat(two.body()).contains("give one target");
        HttpResponse<String> badTime = send(HttpRequest.newBuilder(uri("/v1/clusters/main/plan?target-time=yesterday")));
        assertThat(badTime.statusCode()).isEqualTo(400);
        assertThat(badTime.body()).contains("not a time with a zone");
    }
}

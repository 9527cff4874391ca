package io.pgvault.server.backup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.ApplicationContext;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Replaces;
import io.micronaut.context.annotation.Requires;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.BackupRestorer;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.server.ArchivingCluster;
import io.pgvault.server.ClockFactory;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import jakarta.inject.Singleton;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A pgvault server whose clock is an hour behind PostgreSQL's (a machine without time
 * synchronization): a recovery to a time between two backups must start from the older one.
 * Each backup records PostgreSQL's clock as it ended, and the plan follows that clock: the
 * restored cluster has exactly the rows committed by the target. The newer backup, which
 * pgvault's clock alone made look finished before the target, is restored the same way to
 * show what choosing it did: PostgreSQL replays from its start and stops at the first commit
 * after it, bringing back a row committed after the target.
 */
class ClockSkewRecoveryIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ROWS = "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM marks";
    private final HttpClient http = HttpClient.newHttpClient();
    private String url;

    @Factory
    @Requires(property = "test.clock-an-hour-behind", value = "true")
    static class Clocks {
        @Singleton
        @Replaces(bean = Clock.class, factory = ClockFactory.class)
        Clock clock() {
            return Clock.offset(Clock.systemUTC(), Duration.ofHours(-1));
        }
    }

    @Test
    void aTargetTimeBetweenTwoBackupsRecoversFromTheOlderWhateverPgvaultsClockSays() throws Exception {
        int major = Fixtures.testMajors().get(0);
        Path dir = Files.createTempDirectory("pgvault-clock-skew-it-");
        Map<String, Object> props = Map.of(
                "micronaut.server.port", -1,
                "test.clock-an-hour-behind", "true",
                "pgvault.data-dir", dir.toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props);
             LocalDirectoryStore repo = new LocalDirectoryStore(dir.resolve("repo"))) {
            url = "http://127.0.0.1:" + server.getPort();
            try (ArchivingCluster cluster = ArchivingCluster.start(major, 16, url, "main")) {
                PgCluster pg = cluster.pg();
                call("POST", "/v1/clusters", "{\"name\":\"main\",\"conninfo\":\"host=127.0.0.1 port=" + pg.port() + " user=postgres\"}", 201);
                pg.execute("CREATE TABLE marks (id int)");
                String older = backup();
                pg.execute("INSERT INTO marks VALUES (1)");
                String target = pg.queryValue("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
                Thread.sleep(20);
                pg.execute("INSERT INTO marks VALUES (2)");
                String newer = backup();
                pg.execute("INSERT INTO marks VALUES (3)");
                cluster.switchAndAwaitArchived(Duration.ofSeconds(90));

                BackupManifest newerManifest = BackupManifest.read(repo, "main", newer).orElseThrow();
                assertThat(Instant.parse(newerManifest.finishedAt())).as("pgvault's clock put the newer backup before the target")
                        .isBefore(Instant.parse(target.replace(' ', 'T').replace("+00", "Z")));
                JsonNode plan = call("GET", "/v1/clusters/main/plan?target-time=" + URLEncoder.encode(target, StandardCharsets.UTF_8), null, 200);
                assertThat(plan.path("backup").path("id").asText()).as(plan.toString()).isEqualTo(older);

                assertThat(recover(major, dir, repo, older, target)).as("from the backup the plan chose").isEqualTo("1");
                assertThat(recover(major, dir, repo, newer, target)).as("from the newer backup: past the target").isEqualTo("1,2");
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /** Restores {@code backupId}, lets PostgreSQL recover to {@code target} with WAL from the server, and returns the rows. */
    private String recover(int major, Path dir, LocalDirectoryStore repo, String backupId, String target) throws Exception {
        BackupManifest manifest = BackupManifest.read(repo, "main", backupId).orElseThrow();
        try (PgCluster restored = PgCluster.builder(major)
                .setting("archive_mode", "off")
                .setting("restore_command", "curl -fsS -o %p " + url + "/v1/clusters/main/wal/%f")
                .setting("recovery_target_time", target)
                .setting("recovery_target_action", "promote")
                .adopt(data -> new BackupRestorer(repo, 2).restore(manifest, data, Map.of(), n -> { }))) {
            restored.touch("recovery.signal");
            restored.start();
            restored.awaitRecoveryEnd(Duration.ofMinutes(2));
            return restored.queryValue(ROWS);
        }
    }

    private String backup() throws Exception {
        String id = call("POST", "/v1/clusters/main/backups", null, 202).path("id").asText();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            JsonNode b = call("GET", "/v1/clusters/main/backups/" + id + "?wait=30", null, 200);
            if (!b.path("status").asText().equals("running")) {
                assertThat(b.path("status").asText()).as(b.toString()).isIn("complete", "incomplete");
                return id;
            }
        }
        throw new AssertionError("backup " + id + " did not finish");
    }

    private JsonNode call(String method, String path, String body, int expectedStatus) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(expectedStatus);
        return r.body().isEmpty() ? JSON.nullNode() : JSON.readTree(r.body());
    }
}

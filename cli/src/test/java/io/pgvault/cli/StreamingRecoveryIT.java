package io.pgvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.cli.RecoverySupport.Run;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.pgvault.cli.RecoverySupport.CHECKSUM;
import static io.pgvault.cli.RecoverySupport.awaitBackup;
import static io.pgvault.cli.RecoverySupport.archivingPrimary;
import static io.pgvault.cli.RecoverySupport.pgvault;
import static io.pgvault.cli.RecoverySupport.serverProperties;
import static io.pgvault.cli.RecoverySupport.post;
import static io.pgvault.cli.RecoverySupport.shell;
import static io.pgvault.cli.RecoverySupport.workDirectory;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What streaming is for: the primary is killed with SIGKILL a little after a commit, in
 * the middle of a segment that archive_command never shipped, and a recovery to latest
 * from the repository alone still has that commit, because the server had streamed it.
 * archive_command runs all along into the same cluster without a conflict. Then the
 * standby is promoted, the server is pointed at it, follows its new timeline, and the
 * same holds for a commit on timeline 2.
 */
class StreamingRecoveryIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();

    static List<Integer> majors() {
        return Fixtures.testMajors();
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @MethodSource("majors")
    void aCommitStreamedBeforeTheCrashIsRecovered(int major) throws Exception {
        Path dir = workDirectory("pgvault-streaming-it-");
        Path repoDir = dir.resolve("repo");
        List<String> repo = List.of("--repo", repoDir.toUri().toString());
        Map<String, Object> props = serverProperties(dir);
        props.put("pgvault.repository.url", repoDir.toUri().toString());
        props.put("pgvault.streaming.retry-min", "200ms");
        props.put("pgvault.streaming.retry-max", "2s");
        List<PgCluster> started = new ArrayList<>();
        EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props);
        try {
            String url = "http://127.0.0.1:" + server.getPort();
            PgCluster primary = archivingPrimary(major, url);
            started.add(primary);
            String conninfo = "host=127.0.0.1 port=" + primary.port() + " user=postgres";
            Run added = pgvault(dir, List.of("cluster", "add", "main", "--conninfo", conninfo, "--stream", "--server", url));
            assertThat(added.exit()).as(added.output()).isZero();
            String conn = "-h 127.0.0.1 -p " + primary.port() + " -U postgres";
            shell("pgbench -i -q -s 2 " + conn + " postgres");
            primary.execute("CREATE TABLE marks (id int PRIMARY KEY, v text NOT NULL)");
            String backupId = JSON.readTree(post(url + "/v1/clusters/main/backups", "").body()).path("id").asText();
            awaitBackup(url, backupId);

            // A standby to fail over to later, seeded from the repository.
            PgCluster standby = PgCluster.builder(major).adopt(data -> {
                Run r = pgvault(dir, List.of("recover", "--server", url, "--cluster", "main", "--pgdata", data.toString(), "--standby",
                        "--primary-conninfo", conninfo));
                assertThat(r.exit()).as(r.output()).isZero();
            });
            started.add(standby);
            standby.start();

            // Writes under load; the last commit lands in a segment nobody archives before the crash.
            Process load = new ProcessBuilder("bash", "-c", "pgbench -n -T 6 -R 100 -c 2 -j 2 " + conn + " postgres")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try (Connection db = primary.connect(); Statement st = db.createStatement()) {
                for (int id = 1; id <= 30; id++) {
                    st.execute("INSERT INTO marks VALUES (" + id + ", md5(random()::text))");
                    Thread.sleep(50);
                }
            }
            assertThat(load.waitFor(2, TimeUnit.MINUTES)).isTrue();
            primary.execute("INSERT INTO marks VALUES (100, 'the last commit before the crash')");
            String atCrash = primary.queryValue(CHECKSUM);
            String crashSegment = primary.queryValue("SELECT pg_walfile_name(pg_current_wal_lsn())");
            standby.awaitValue(CHECKSUM, atCrash, Duration.ofSeconds(60));
            // More than the flush interval (1 s): the commit must be in the repository by now.
            Thread.sleep(2500);
            assertThat(primary.queryValue("SELECT failed_count FROM pg_stat_archiver")).as("archive_command next to streaming").isEqualTo("0");
            primary.crash();
            assertThat(Files.exists(repoDir.resolve("clusters/main/wal/" + crashSegment.substring(0, 16) + "/" + crashSegment)))
                    .as(crashSegment + " was never archived whole").isFalse();

            Run info = pgvault(dir, List.of("info", "main", "--repo", repoDir.toUri().toString()));
            assertThat(info.output()).contains("streamed head").contains(crashSegment);
            assertThat(recoverLatest(dir, repo, major)).as("latest from the repository alone after kill -9").isEqualTo(atCrash);

            // Fail over: the standby becomes timeline 2; the server follows it there.
            standby.promote();
            standby.awaitRecoveryEnd(Duration.ofSeconds(60));
            String standbyConninfo = "host=127.0.0.1 port=" + standby.port() + " user=postgres";
            Run updated = pgvault(dir, List.of("cluster", "update", "main", "--conninfo", standbyConninfo, "--server", url));
            assertThat(updated.exit()).as(updated.output()).isZero();
            standby.execute("INSERT INTO marks VALUES (200, 'on timeline 2')");
            String onTimeline2 = standby.queryValue(CHECKSUM);
            String lsn = standby.queryValue("SELECT pg_current_wal_lsn()");
            awaitStored(url, lsn, 2);
            Thread.sleep(1500);
            standby.crash();
            assertThat(repoDir.resolve("clusters/main/wal/timelines/00000002.history")).exists();
            Run shown = pgvault(dir, List.of("cluster", "show", "main", "--server", url));
            assertThat(shown.output()).contains("streaming:").contains("slot pgvault_main");
            assertThat(recoverLatest(dir, repo, major)).as("latest on timeline 2 after kill -9").isEqualTo(onTimeline2);
        } finally {
            server.close();
            started.forEach(PgCluster::close);
            Fixtures.deleteTree(dir);
        }
    }

    /** Restores the latest state from the repository into a fresh cluster and returns its marks checksum. */
    private static String recoverLatest(Path dir, List<String> repo, int major) throws Exception {
        shell("chmod -R a+rX " + dir.resolve("repo"));
        try (PgCluster restored = PgCluster.builder(major).adopt(data -> {
            List<String> args = new ArrayList<>(List.of("recover"));
            args.addAll(repo);
            args.addAll(List.of("--cluster", "main", "--pgdata", data.toString(), "--target-action", "promote"));
            Run r = pgvault(dir, args);
            assertThat(r.exit()).as(r.output()).isZero();
        })) {
            restored.start();
            restored.awaitRecoveryEnd(Duration.ofMinutes(2));
            return restored.queryValue(CHECKSUM);
        }
    }

    /** Waits until the server has stored the streamed WAL up to {@code lsn} on {@code timeline}. */
    private void awaitStored(String url, String lsn, long timeline) throws Exception {
        io.pgvault.core.wal.Lsn target = io.pgvault.core.wal.Lsn.parse(lsn);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        JsonNode status = null;
        while (System.nanoTime() < deadline) {
            status = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(url + "/v1/clusters/main/stream")).build(),
                    HttpResponse.BodyHandlers.ofString()).body());
            if (status.path("timeline").asLong() == timeline && status.hasNonNull("flushedLsn")
                    && !io.pgvault.core.wal.Lsn.parse(status.path("flushedLsn").asText()).isBefore(target)) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the server did not store " + lsn + " on timeline " + timeline + ": " + status);
    }
}

package io.pgvault.cli;

import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** What the recovery ITs (and the fault soak) share: the launcher as a DBA runs it, the server's API, waiting on PostgreSQL. */
public final class RecoverySupport {

    /** Exactly the committed rows of the marks table, as one comparable value. */
    public static final String CHECKSUM = "SELECT count(*) || ':' || coalesce(md5(string_agg(id || '=' || v, ',' ORDER BY id)), '-') FROM marks";

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private RecoverySupport() {
    }

    /** A work directory PostgreSQL's unprivileged user can read (it runs bin/pgvault from there). */
    public static Path workDirectory(String prefix) throws IOException {
        Path dir = Files.createTempDirectory(prefix);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return dir;
    }

    /** An in-process server on a free port with its data and H2 catalog under {@code dir}; the caller adds the repository. */
    static Map<String, Object> serverProperties(Path dir) {
        Map<String, Object> props = new HashMap<>();
        props.put("micronaut.server.port", -1);
        props.put("pgvault.data-dir", dir.resolve("server").toString());
        props.put("micronaut.metrics.binders.logback.enabled", false);
        props.put("pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog/db") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        return props;
    }

    /**
     * Points the server's {@code props} at a repository in a new bucket of {@code s3} (or, for
     * {@code bucket} null, under {@code dir/repo}) and returns the matching CLI options.
     */
    static List<String> repository(Map<String, Object> props, Path dir, io.pgvault.testkit.S3ProxyFixture s3, String bucket) {
        if (bucket == null) {
            props.put("pgvault.repository.url", dir.resolve("repo").toUri().toString());
            return List.of("--repo", dir.resolve("repo").toUri().toString());
        }
        s3.createBucket(bucket);
        props.put("pgvault.repository.url", "s3://" + bucket + "/pgvault");
        props.put("pgvault.repository.s3.endpoint", s3.endpoint().toString());
        props.put("pgvault.repository.s3.path-style", true);
        props.put("pgvault.repository.s3.access-key", io.pgvault.testkit.S3ProxyFixture.ACCESS_KEY);
        props.put("pgvault.repository.s3.secret-key", io.pgvault.testkit.S3ProxyFixture.SECRET_KEY);
        return List.of("--repo", "s3://" + bucket + "/pgvault", "--s3-endpoint", s3.endpoint().toString(), "--s3-path-style",
                "--s3-access-key", io.pgvault.testkit.S3ProxyFixture.ACCESS_KEY, "--s3-secret-key", io.pgvault.testkit.S3ProxyFixture.SECRET_KEY);
    }

    /** A primary whose archive_command pushes into cluster {@code main} of the server at {@code url}. */
    static PgCluster archivingPrimary(int major, String url) {
        return PgCluster.builder(major)
                .setting("archive_mode", "on")
                .setting("archive_command", "curl -fsS -T %p " + url + "/v1/clusters/main/wal/%f")
                .setting("wal_keep_size", "256MB")
                .setting("max_prepared_transactions", "5")
                .start();
    }

    static List<String> cat(List<String> a, String... b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(List.of(b));
        return all;
    }

    public record Run(int exit, String output) {
    }

    /** Runs bin/pgvault from this checkout, as a DBA would. */
    public static Run pgvault(Path workDir, List<String> args) {
        return run(workDir, launcherCommand(args));
    }

    /** Runs bin/pgvault as the user PostgreSQL runs as (when the tests run as root). */
    static Run pgvaultAsServerUser(Path workDir, List<String> args) {
        return run(workDir, OsUser.wrap(launcherCommand(args)));
    }

    private static List<String> launcherCommand(List<String> args) {
        List<String> command = new ArrayList<>(List.of(Path.of("").toAbsolutePath().getParent().resolve("bin/pgvault").toString()));
        command.addAll(args);
        return command;
    }

    private static Run run(Path workDir, List<String> command) {
        try {
            Process p = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
            return new Run(p.exitValue(), out);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String value(Statement st, String sql) throws Exception {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    static void switchAndAwaitArchived(PgCluster pg, Duration timeout) throws InterruptedException {
        Lsn end = Lsn.parse(pg.queryValue("SELECT pg_switch_wal()"));
        String timeline = pg.queryValue("SELECT timeline_id FROM pg_control_checkpoint()");
        WalFileName last = WalFileName.segmentOf(new TimelineId(Long.parseLong(timeline)), end.plus(-1), WalSegmentSize.DEFAULT);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (pg.queryValue("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").compareTo(last.toString()) >= 0) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the archiver did not ship " + last + ": " + pg.queryValue("SELECT row_to_json(a)::text FROM pg_stat_archiver a"));
    }

    static void awaitBackup(String url, String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            String body = HTTP.send(HttpRequest.newBuilder(URI.create(url + "/v1/clusters/main/backups/" + id)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            // "incomplete" until the archiver has shipped the segment holding the backup's end.
            if (body.contains("\"status\":\"complete\"")) {
                return;
            }
            assertThat(body).doesNotContain("\"failed\"");
            Thread.sleep(300);
        }
        throw new AssertionError("backup " + id + " did not finish");
    }

    static HttpResponse<String> post(String uri, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(uri)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    public static void shell(String command) throws Exception {
        Process p = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(5, TimeUnit.MINUTES) && p.exitValue() == 0).as(command + "\n" + out).isTrue();
    }
}

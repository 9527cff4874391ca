package io.pgvault.cli;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.cli.RecoverySupport.Run;
import io.pgvault.cli.push.PushSpool;
import io.pgvault.core.process.OwnedDirectory;
import io.pgvault.core.process.ProcessIdentity;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static io.pgvault.cli.RecoverySupport.CHECKSUM;
import static io.pgvault.cli.RecoverySupport.pgvault;
import static io.pgvault.cli.RecoverySupport.serverProperties;
import static io.pgvault.cli.RecoverySupport.shell;
import static io.pgvault.cli.RecoverySupport.workDirectory;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code pgvault wal-push --spool} as PostgreSQL's archive_command: a backlog of WAL files is
 * pushed ahead of the archiver by the pusher, every file reaches the repository, a recovery to
 * latest from the repository alone gives exactly the committed rows; a pusher killed with
 * SIGKILL is replaced by the next call and its statements are not believed; a file the server
 * refuses (another cluster's WAL under this name) is never reported archived, and PostgreSQL's
 * log says why.
 */
class WalPushIT {

    private static final String SPOOL = "pg_wal/pgvault-push";

    @Test
    void aBacklogIsPushedAheadAndRecoveryGivesTheCommittedRows() throws Exception {
        int major = Fixtures.testMajors().get(Fixtures.testMajors().size() - 1);
        Path dir = workDirectory("pgvault-wal-push-it-");
        Path repoDir = dir.resolve("repo");
        Map<String, Object> props = serverProperties(dir);
        props.put("pgvault.repository.url", repoDir.toUri().toString());
        List<PgCluster> started = new ArrayList<>();
        EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props);
        try {
            String url = "http://127.0.0.1:" + server.getPort();
            PgCluster primary = PgCluster.builder(major)
                    .setting("archive_mode", "on")
                    .setting("archive_command", launcher() + " wal-push --server " + url + " --cluster main --spool " + SPOOL + " %p")
                    .setting("wal_keep_size", "256MB")
                    .start();
            started.add(primary);
            String conninfo = "host=127.0.0.1 port=" + primary.port() + " user=postgres";
            Run added = pgvault(dir, List.of("cluster", "add", "main", "--conninfo", conninfo, "--server", url));
            assertThat(added.exit()).as(added.output()).isZero();
            primary.execute("CREATE TABLE marks (id int PRIMARY KEY, v text NOT NULL)");
            String backupId = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(RecoverySupport.post(url + "/v1/clusters/main/backups", "").body()).path("id").asText();
            RecoverySupport.awaitBackup(url, backupId);

            // A backlog: a dozen segments switched in quick succession, each with committed rows.
            try (Connection db = primary.connect(); Statement st = db.createStatement()) {
                for (int id = 1; id <= 12; id++) {
                    st.execute("INSERT INTO marks SELECT g, md5(g::text) FROM generate_series(" + (id * 1000) + ", " + (id * 1000 + 999) + ") g");
                    st.execute("SELECT pg_switch_wal()");
                }
            }
            RecoverySupport.switchAndAwaitArchived(primary, Duration.ofSeconds(90));
            Path spool = primary.dataDirectory().resolve(SPOOL);
            ProcessIdentity first = owner(spool).orElseThrow(() -> new AssertionError("no pusher runs: " + log(spool)));
            assertThat(Files.readString(spool.resolve(PushSpool.LOG))).contains("pushing ready WAL files");
            assertThat(primary.queryValue("SELECT failed_count FROM pg_stat_archiver")).isEqualTo("0");

            // kill -9: its statements stay behind; the next call must not believe them, and starts another pusher.
            ProcessHandle killed = ProcessHandle.of(first.pid()).orElseThrow();
            killed.destroyForcibly();
            killed.onExit().get(30, TimeUnit.SECONDS);
            primary.execute("INSERT INTO marks VALUES (1, 'after the pusher was killed')");
            RecoverySupport.switchAndAwaitArchived(primary, Duration.ofSeconds(90));
            ProcessIdentity second = owner(spool).orElseThrow(() -> new AssertionError("no new pusher: " + log(spool)));
            assertThat(second).isNotEqualTo(first);
            assertThat(primary.queryValue("SELECT failed_count FROM pg_stat_archiver")).isEqualTo("0");

            primary.execute("INSERT INTO marks VALUES (2, 'the last commit')");
            RecoverySupport.switchAndAwaitArchived(primary, Duration.ofSeconds(90));
            String committed = primary.queryValue(CHECKSUM);
            assertThat(recoverLatest(dir, repoDir, major)).isEqualTo(committed);

            // Another cluster's WAL under the same name: the server refuses it (409), the call says why, nothing is archived.
            PgCluster foreign = PgCluster.builder(major)
                    .setting("archive_mode", "on")
                    .setting("archive_command", launcher() + " wal-push --server " + url + " --cluster main --spool " + SPOOL
                            + " --retry-for 1s %p")
                    .start();
            started.add(foreign);
            foreign.execute("CREATE TABLE t AS SELECT 1 AS x", "SELECT pg_switch_wal()");
            awaitFailures(foreign);
            assertThat(foreign.queryValue("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")).isEmpty();
            assertThat(foreign.serverLog()).contains("was not stored").contains("409");
            Path foreignSpool = foreign.dataDirectory().resolve(SPOOL);
            try (var files = Files.list(foreignSpool)) {
                assertThat(files.map(f -> f.getFileName().toString())).anyMatch(n -> n.endsWith(PushSpool.REFUSED)).noneMatch(n -> n.endsWith(PushSpool.PUSHED));
            }
        } finally {
            for (PgCluster pg : started) {
                Path spool = pg.dataDirectory().resolve(SPOOL);
                pg.close();
                stopPusher(spool);
            }
            server.close();
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * The launcher's no-JVM answer, rule by rule: a statement counts only from a live owner
     * (not a dead one's leftovers, not a pid reused by another process) serving this call's
     * destination; an owner serving another destination is ended. The server is unreachable
     * throughout, so a call can succeed only from the spool.
     */
    @Test
    void theSpoolAnswersOnlyForItsLiveOwnerAndThisCallsDestination() throws Exception {
        Path data = io.pgvault.testkit.OsUser.ownedTempDirectory("push-spool");
        String segment = "000000010000000000000005";
        Path spool = data.resolve(SPOOL);
        Files.createDirectories(data.resolve("pg_wal/archive_status"));
        Files.createDirectories(spool);
        Files.write(data.resolve("pg_wal/" + segment), new byte[8192]);
        Files.write(data.resolve("pg_wal/archive_status/" + segment + ".ready"), new byte[0]);
        io.pgvault.testkit.OsUser.own(data);
        List<String> options = List.of("--server", "http://127.0.0.1:" + Fixtures.freePort(), "--cluster", "main", "--spool", SPOOL,
                "--retry-for", "1s");
        String stamp = PushSpool.stamp(options, Map.of());
        Process fakeOwner = new ProcessBuilder(io.pgvault.testkit.OsUser.wrap(List.of("sleep", "300"))).start();
        try {
            ProcessHandle sleeper = sleeper(fakeOwner);
            ProcessIdentity live = ProcessIdentity.of(sleeper.pid()).orElseThrow();

            state(spool, live.line(), stamp, segment + PushSpool.PUSHED);
            Run answered = pushWithoutJvm(data, options, segment);
            assertThat(answered.exit()).as("a live owner's statement for this destination, answered without a JVM: " + answered.output()).isZero();
            assertThat(answered.output()).isEmpty();

            ProcessIdentity dead = new ProcessIdentity(deadPid(), live.startTime(), live.bootId());
            state(spool, dead.line(), stamp, segment + PushSpool.PUSHED);
            Run leftovers = push(data, options, segment);
            assertThat(leftovers.exit()).as("a dead owner's leftovers: " + leftovers.output()).isEqualTo(1);
            assertThat(leftovers.output()).contains("was not stored").contains("cannot reach the pgvault server");
            stopPusher(spool);

            ProcessIdentity reused = new ProcessIdentity(live.pid(), Long.toString(Long.parseLong(live.startTime()) - 1), live.bootId());
            state(spool, reused.line(), stamp, segment + PushSpool.PUSHED);
            Run reusedPid = push(data, options, segment);
            assertThat(reusedPid.exit()).as("a pid that another process has now: " + reusedPid.output()).isEqualTo(1);
            stopPusher(spool);
            assertThat(sleeper.isAlive()).as("a process that merely has the pid is left alone").isTrue();

            state(spool, live.line(), PushSpool.stamp(List.of("--server", "http://elsewhere:8432", "--cluster", "main"), Map.of()),
                    segment + PushSpool.PUSHED);
            Run elsewhere = push(data, options, segment);
            assertThat(elsewhere.exit()).as("an owner pushing elsewhere: " + elsewhere.output()).isEqualTo(1);
            assertThat(sleeper.onExit().get(30, TimeUnit.SECONDS).isAlive()).as("the owner serving another destination was ended").isFalse();
            stopPusher(spool);

            Run outside = push(data, List.of("--server", "http://127.0.0.1:1", "--cluster", "main", "--spool", "pgvault-push"), segment);
            assertThat(outside.exit()).isEqualTo(1);
            assertThat(outside.output()).contains("directly inside the WAL directory");
        } finally {
            fakeOwner.descendants().forEach(ProcessHandle::destroyForcibly);
            fakeOwner.destroyForcibly();
            stopPusher(spool);
            Fixtures.deleteTree(data);
        }
    }

    /** Writes the spool as an owner would have left it: .pid, .target and one statement. */
    private static void state(Path spool, String pidLine, String stamp, String statement) throws IOException {
        try (var files = Files.list(spool)) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().equals(PushSpool.LOG)) {
                    Files.delete(f);
                }
            }
        }
        Files.writeString(spool.resolve(OwnedDirectory.OWNER), pidLine + "\n");
        Files.writeString(spool.resolve(PushSpool.TARGET), stamp + "\n");
        Files.write(spool.resolve(statement), new byte[0]);
        io.pgvault.testkit.OsUser.own(spool);
    }

    private static Run push(Path data, List<String> options, String segment) {
        List<String> args = new ArrayList<>(List.of("wal-push"));
        args.addAll(options);
        args.add("pg_wal/" + segment);
        return RecoverySupport.pgvaultAsServerUser(data, args);
    }

    /** The same call where any JVM would fail to start (an option no JVM knows): only the launcher's shell can answer. */
    private static Run pushWithoutJvm(Path data, List<String> options, String segment) throws Exception {
        List<String> command = new ArrayList<>(List.of("env", "PGVAULT_JAVA_OPTS=-XX:+NoSuchOptionSoNoJvmStarts", launcher(), "wal-push"));
        command.addAll(options);
        command.add("pg_wal/" + segment);
        Process p = new ProcessBuilder(io.pgvault.testkit.OsUser.wrap(command)).directory(data.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor(1, TimeUnit.MINUTES)).isTrue();
        return new Run(p.exitValue(), out);
    }

    /** The sleep process itself (under runuser when the tests run as root). */
    private static ProcessHandle sleeper(Process started) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            Optional<ProcessHandle> sleep = started.toHandle().info().command().orElse("").endsWith("sleep") ? Optional.of(started.toHandle())
                    : started.descendants().filter(h -> h.info().command().orElse("").endsWith("sleep")).findFirst();
            if (sleep.isPresent()) {
                return sleep.get();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("sleep did not start");
    }

    /** A pid no process has now (one that just exited). */
    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }

    private static void awaitFailures(PgCluster pg) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (Integer.parseInt(pg.queryValue("SELECT failed_count FROM pg_stat_archiver")) >= 2) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("archive_command did not fail: " + pg.queryValue("SELECT row_to_json(a)::text FROM pg_stat_archiver a"));
    }

    private static String recoverLatest(Path dir, Path repoDir, int major) throws Exception {
        shell("chmod -R a+rX " + repoDir);
        try (PgCluster restored = PgCluster.builder(major).adopt(data -> {
            Run r = pgvault(dir, List.of("recover", "--repo", repoDir.toUri().toString(), "--cluster", "main", "--pgdata", data.toString(),
                    "--target-action", "promote"));
            assertThat(r.exit()).as(r.output()).isZero();
        })) {
            restored.start();
            restored.awaitRecoveryEnd(Duration.ofMinutes(2));
            return restored.queryValue(CHECKSUM);
        }
    }

    static String launcher() {
        return Path.of("").toAbsolutePath().getParent().resolve("bin/pgvault").toString();
    }

    /** The running pusher named in the spool's .pid, if it runs. */
    static Optional<ProcessIdentity> owner(Path spool) throws IOException {
        Path pid = spool.resolve(OwnedDirectory.OWNER);
        return Files.exists(pid) ? ProcessIdentity.parse(Files.readString(pid)).filter(ProcessIdentity::alive) : Optional.empty();
    }

    static String log(Path spool) {
        try {
            return Files.readString(spool.resolve(PushSpool.LOG));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Stops the pusher this test's PostgreSQL started (only a PushAheadDaemon named by the spool). */
    static void stopPusher(Path spool) {
        try {
            Optional<ProcessIdentity> owner = owner(spool);
            if (owner.isPresent()) {
                ProcessHandle.of(owner.get().pid()).filter(h -> h.info().commandLine().orElse("").contains("PushAheadDaemon"))
                        .ifPresent(h -> {
                            h.destroyForcibly();
                            h.onExit().join();
                        });
            }
        } catch (IOException | RuntimeException e) {
            // nothing left to stop
        }
    }
}

package io.pgvault.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The admin commands against a real server (in-process), with and without the token. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterCommandTest {

    private static final String TOKEN = "s3cr3t-token";
    private EmbeddedServer server;
    private Path dir;

    private record Run(int exit, String out, String err) {
    }

    @BeforeAll
    void startServer() throws Exception {
        dir = Files.createTempDirectory("pgvault-cli-test");
        server = ApplicationContext.run(EmbeddedServer.class, Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dir.toString(),
                "pgvault.security.token", TOKEN,
                "micronaut.metrics.binders.logback.enabled", false,
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:mem:cli-test;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH"));
    }

    @AfterAll
    void stopServer() {
        server.close();
        Fixtures.deleteTree(dir);
    }

    private Run run(String... args) {
        CommandLine cl = PgvaultCommand.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private String serverUrl() {
        return "http://127.0.0.1:" + server.getPort();
    }

    @Test
    void addListShowAndRebuild() {
        Run add = run("cluster", "add", "main", "--conninfo", "host=127.0.0.1 user=postgres password=x", "--server", serverUrl(), "--token", TOKEN);
        assertThat(add.exit()).as(add.err()).isZero();
        assertThat(add.out()).contains("main").contains("archive_command = 'curl -fsS -H @/etc/pgvault/main.token -T %p " + serverUrl() + "/v1/clusters/main/wal/%f'")
                .contains("pgvault token create main-archive --role archive --cluster main --out /etc/pgvault/main.token").doesNotContain(TOKEN)
                .doesNotContain("password");

        Run again = run("cluster", "add", "main", "--server", serverUrl(), "--token", TOKEN);
        assertThat(again.exit()).isEqualTo(1);
        assertThat(again.err()).contains("409").contains("already registered");

        Run list = run("cluster", "list", "--server", serverUrl(), "--token", TOKEN);
        assertThat(list.exit()).isZero();
        assertThat(list.out()).contains("main").contains("first segment not yet archived");

        Run show = run("cluster", "show", "main", "--server", serverUrl(), "--token", TOKEN);
        assertThat(show.exit()).isZero();
        assertThat(show.out()).contains("archived files: 0");

        Run rebuild = run("catalog", "rebuild", "--server", serverUrl(), "--token", TOKEN);
        assertThat(rebuild.exit()).as(rebuild.err()).isZero();
        assertThat(rebuild.out()).contains("1 clusters");
    }

    @Test
    void backupWaitBackupsAndExpireAgainstARealCluster() {
        try (io.pgvault.testkit.PgCluster pg = io.pgvault.testkit.PgCluster.builder(17).start()) {
            String[] auth = {"--server", serverUrl(), "--token", TOKEN};
            Run add = run(concat(new String[] {"cluster", "add", "real", "--conninfo", "host=127.0.0.1 port=" + pg.port() + " user=postgres",
                    "--retain-full", "1"}, auth));
            assertThat(add.exit()).as(add.err()).isZero();
            // cluster add runs the check without its WAL switch and says what the new setup still lacks.
            assertThat(add.out()).contains("Still missing").contains("archive_mode is off").contains("no complete backup");
            Run backup = run(concat(new String[] {"backup", "real", "--wait", "--wal-timeout", "2"}, auth));
            // No archive_command points here, so the backup's WAL never arrives: stored but incomplete, said why, and not a success.
            assertThat(backup.exit()).as(backup.err()).isEqualTo(ExitCodes.FAILED);
            assertThat(backup.out()).contains("incomplete").contains("is not archived yet");
            assertThat(backup.err()).contains("its WAL did not arrive within 2 s").contains("pgvault check real");
            Run list = run(concat(new String[] {"backups", "real", "--json"}, auth));
            assertThat(list.exit()).isZero();
            assertThat(list.out()).contains("\"status\" : \"incomplete\"");
            Run expire = run(concat(new String[] {"expire", "real", "--dry-run"}, auth));
            assertThat(expire.exit()).as(expire.err()).isZero();
            assertThat(expire.out()).contains("would delete backups: none");
            Run bad = run(concat(new String[] {"cluster", "add", "bad", "--backup-schedule", "every night"}, auth));
            assertThat(bad.exit()).isEqualTo(ExitCodes.FAILED);
            assertThat(bad.err()).contains("not a cron expression");
            // check: Nagios's codes and first line, and JSON for scripts.
            Run check = run(concat(new String[] {"check", "real", "--wal-timeout", "2"}, auth));
            assertThat(check.exit()).as(check.out() + check.err()).isEqualTo(CheckCommand.CRITICAL);
            assertThat(check.out().lines().findFirst().orElseThrow()).startsWith("pgvault check real: CRITICAL - ");
            assertThat(check.out()).contains("archive_command").contains("fix: set archive_mode = on");
            Run checkJson = run(concat(new String[] {"check", "real", "--json", "--no-wal-switch"}, auth));
            assertThat(checkJson.exit()).isEqualTo(CheckCommand.CRITICAL);
            assertThat(checkJson.out()).contains("\"status\" : \"CRITICAL\"").contains("\"check\" : \"replication connection\"")
                    .doesNotContain("wal switch");
            Run checkUnknown = run(concat(new String[] {"check", "nosuch"}, auth));
            assertThat(checkUnknown.exit()).isEqualTo(CheckCommand.CRITICAL);
            assertThat(checkUnknown.out()).contains("registration").contains("pgvault cluster add nosuch");
            Run unknown = run(concat(new String[] {"backups", "nosuch"}, auth));
            assertThat(unknown.exit()).as(unknown.err()).isEqualTo(ExitCodes.NOT_FOUND);
        }
    }

    /**
     * {@code cluster update} changes both schedules and both retention limits over HTTP, shows them, clears them with '' and 0,
     * refuses what is not cron, and the scheduler takes an incremental schedule up at once (a cluster that listens nowhere: the
     * attempt fails, and says so).
     */
    @Test
    void updateChangesSchedulesAndRetentionAndTheSchedulerFollows() throws Exception {
        String[] auth = {"--server", serverUrl(), "--token", TOKEN};
        Run add = run(concat(new String[] {"cluster", "add", "sched", "--conninfo", "host=127.0.0.1 port=" + Fixtures.freePort()
                + " user=postgres"}, auth));
        assertThat(add.exit()).as(add.err()).isZero();
        Run update = run(concat(new String[] {"cluster", "update", "sched", "--full-schedule", "0 2 * * 0", "--incremental-schedule",
                "0 2 * * 1-6", "--retain-full", "2", "--retain-days", "7"}, auth));
        assertThat(update.exit()).as(update.err()).isZero();
        String line = "backups: full 0 2 * * 0, incremental 0 2 * * 1-6; keep 2 full, 7 days";
        assertThat(update.out()).contains(line);
        assertThat(run(concat(new String[] {"cluster", "show", "sched"}, auth)).out()).contains(line);

        Run cleared = run(concat(new String[] {"cluster", "update", "sched", "--full-schedule", "", "--retain-days", "0"}, auth));
        assertThat(cleared.exit()).as(cleared.err()).isZero();
        assertThat(cleared.out()).contains("backups: full on demand, incremental 0 2 * * 1-6; keep 2 full, any number of days");

        Run bad = run(concat(new String[] {"cluster", "update", "sched", "--incremental-schedule", "weekdays at two"}, auth));
        assertThat(bad.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(bad.err()).contains("not a cron expression");
        assertThat(run(concat(new String[] {"cluster", "show", "sched"}, auth)).out()).as("a refused update changes nothing")
                .contains("incremental 0 2 * * 1-6");

        Run everySecond = run(concat(new String[] {"cluster", "update", "sched", "--incremental-schedule", "*/1 * * * * *"}, auth));
        try {
            assertThat(everySecond.exit()).as(everySecond.err()).isZero();
            // A failed attempt keeps its type: the listing says an incremental backup failed, and why.
            List<String> failedIncrementals = List.of();
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            while (failedIncrementals.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(200);
                List<String> found = new ArrayList<>();
                new ObjectMapper().readTree(run(concat(new String[] {"backups", "sched", "--json"}, auth)).out()).forEach(b -> {
                    if (b.path("type").asText().equals("incremental") && b.path("status").asText().equals("failed")) {
                        found.add(b.path("reason").asText());
                    }
                });
                failedIncrementals = found;
            }
            assertThat(failedIncrementals).isNotEmpty().allMatch(reason -> !reason.isBlank());
        } finally {
            assertThat(run(concat(new String[] {"cluster", "update", "sched", "--incremental-schedule", ""}, auth)).exit()).isZero();
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void aMissingOrWrongTokenIsRefused() {
        Run none = run("cluster", "list", "--server", serverUrl());
        assertThat(none.exit()).isEqualTo(1);
        assertThat(none.err()).contains("401").contains("Authorization: Bearer");
        assertThat(run("cluster", "list", "--server", serverUrl(), "--token", "wrong").exit()).isEqualTo(1);
    }

    @Test
    void anUnreachableServerIsNamed() {
        Run r = run("cluster", "list", "--server", "http://127.0.0.1:" + Fixtures.freePort());
        assertThat(r.exit()).isEqualTo(ExitCodes.UNREACHABLE);
        assertThat(r.err()).contains("cannot reach the pgvault server");
    }
}

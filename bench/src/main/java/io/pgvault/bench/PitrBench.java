package io.pgvault.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.testkit.Fixtures;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import static io.pgvault.bench.BenchSupport.asPgUser;
import static io.pgvault.bench.BenchSupport.intArg;
import static io.pgvault.bench.BenchSupport.registerCluster;
import static io.pgvault.bench.BenchSupport.shell;
import static io.pgvault.bench.BenchSupport.startServer;
import static io.pgvault.bench.BenchSupport.stringArg;

/**
 * A whole recovery, as a DBA lives it: restore the backup, start PostgreSQL, wait until
 * it has replayed all archived WAL and promoted. One cluster archives into pgvault and
 * pgBackRest at once (one archive_command), each takes a full backup, pgbench writes,
 * then both recover the same data into fresh directories; the rows are compared with the
 * primary's. pgvault: {@code recover} (pieces in parallel) and {@code wal-fetch} with its
 * prefetch spool; pgBackRest: {@code restore} (process-max 2, the box's cores) and
 * {@code archive-get}, plain and with archive-async. A last run is a reference for
 * PostgreSQL's own share: every segment copied into {@code pg_wal} before the start
 * (pgBackRest's restore, a plain copy of the WAL, {@code restore_command = 'false'}).
 * {@code --storage s3} puts both repositories in one bucket of an S3 API over HTTPS
 * ({@link BenchS3}), {@code --s3-rtt-ms N} adds a network round trip to it.
 */
public final class PitrBench {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** pgBackRest's async archive-get: archive-get reads its configuration when PostgreSQL calls it, so it is a global setting. */
    private static final String ASYNC = "archive-async=y\narchive-get-queue-max=256MiB\n";
    /** PGVAULT_BENCH_VERBOSE: print recover's whole output and the prefetcher's log. PGVAULT_BENCH_KEEP: keep the repositories. */
    private static final boolean VERBOSE = System.getenv("PGVAULT_BENCH_VERBOSE") != null;

    record Figures(String name, double restoreSeconds, double replaySeconds) {
        double total() {
            return restoreSeconds + replaySeconds;
        }
    }

    public static void main(String[] args) throws Exception {
        int major = intArg(args, "--major", 15);
        int scale = intArg(args, "--scale", 20);
        int seconds = intArg(args, "--seconds", 60);
        Path serverJar = Path.of(stringArg(args, "--server-jar", "server/target/pgvault-server.jar")).toAbsolutePath();
        Path launcher = Path.of(stringArg(args, "--launcher", "bin/pgvault")).toAbsolutePath();
        String storage = stringArg(args, "--storage", "local");
        if (!storage.equals("local") && !storage.equals("s3")) {
            throw new IllegalArgumentException("--storage local or s3, not " + storage);
        }
        int roundTripMs = intArg(args, "--s3-rtt-ms", 0);
        int repeat = intArg(args, "--repeat", 3);
        Path work = Files.createTempDirectory("pgvault-pitr-bench");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path serverDir = Files.createDirectories(work.resolve("pgvault"));
        Path brDir = Files.createDirectories(work.resolve("pgbackrest"));
        Path rawWal = Files.createDirectories(work.resolve("raw-wal"));
        OsUser.own(work);
        int port = Fixtures.freePort();
        String url = "http://127.0.0.1:" + port;
        BenchS3 s3 = storage.equals("s3") ? BenchS3.start(work.resolve("tls"), roundTripMs) : null;
        Process server = startServer(serverJar, serverDir, port, "zstd", s3 == null ? List.of() : s3.serverProperties("pgvault"));
        List<String> repository = s3 == null ? List.of("--repo", serverDir.resolve("repo").toUri().toString()) : s3.cliArguments("pgvault");
        Path conf = brDir.resolve("pgbackrest.conf");
        // --encrypted: a second pgvault server archives the same WAL into an encrypted repository, and pgBackRest encrypts
        // (aes-256-cbc), so one run compares pgvault encrypted with pgvault in clear and with pgBackRest encrypted.
        boolean encrypted = java.util.Arrays.asList(args).contains("--encrypted");
        Path encryptedDir = Files.createDirectories(work.resolve("pgvault-encrypted"));
        Path key = work.resolve("keys/repo.key");
        int encryptedPort = Fixtures.freePort();
        String encryptedUrl = "http://127.0.0.1:" + encryptedPort;
        Process encryptedServer = null;
        List<String> encryptedRepository = s3 == null ? List.of("--repo", encryptedDir.resolve("repo").toUri().toString())
                : s3.cliArguments("pgvault-encrypted");
        if (encrypted) {
            Files.createDirectories(key.getParent());
            List<String> properties = new ArrayList<>(s3 == null ? List.of() : s3.serverProperties("pgvault-encrypted"));
            properties.add(BenchSupport.encryptionProperty(key));
            OsUser.own(key);
            encryptedServer = startServer(serverJar, encryptedDir, encryptedPort, "zstd", properties);
        }
        try (PgCluster pg = PgCluster.builder(major)
                .setting("archive_mode", "on")
                .setting("archive_command", "curl -fsS -T %p " + url + "/v1/clusters/bench/wal/%f && "
                        + (encrypted ? "curl -fsS -T %p " + encryptedUrl + "/v1/clusters/bench/wal/%f && " : "") + "pgbackrest --config=" + conf
                        + " --stanza=bench archive-push %p && cp %p " + rawWal + "/%f")
                .setting("max_wal_size", "1GB")
                .start()) {
            String brRepository = s3 == null ? "repo1-path=" + brDir.resolve("repo") + "\n" : s3.pgbackrestRepository("pgbackrest");
            Files.writeString(conf, "[global]\n" + brRepository + "log-path=" + brDir + "\nlock-path=" + brDir
                    + "\nspool-path=" + brDir.resolve("spool") + "\ncompress-type=zst\ncompress-level=3\nprocess-max=2\nstart-fast=y"
                    + (encrypted ? "\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=bench-cipher-passphrase-0123456789" : "")
                    + "\nlog-level-console=warn\n\n[bench]\npg1-path=" + pg.dataDirectory() + "\npg1-port=" + pg.port()
                    + "\npg1-socket-path=" + pg.directory().resolve("sock") + "\npg1-user=postgres\n");
            OsUser.own(brDir);
            asPgUser("pgbackrest --config=" + conf + " --stanza=bench stanza-create");
            HttpClient http = HttpClient.newHttpClient();
            registerCluster(url, "{\"name\":\"bench\",\"conninfo\":\"host=127.0.0.1 port=" + pg.port() + " user=postgres\"}");
            if (encrypted) {
                registerCluster(encryptedUrl, "{\"name\":\"bench\",\"conninfo\":\"host=127.0.0.1 port=" + pg.port() + " user=postgres\"}");
            }

            String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
            shell("pgbench -i -q -s " + scale + " " + conn + " postgres");
            backup(http, url);
            if (encrypted) {
                backup(http, encryptedUrl);
            }
            asPgUser("pgbackrest --config=" + conf + " --stanza=bench --type=full backup");
            // The load in two halves around the targets --targets restores to: a restore point, a transaction, a time and a position.
            shell("pgbench -n -T " + (seconds / 2) + " -c 2 -j 2 " + conn + " postgres");
            pg.execute("CREATE TABLE IF NOT EXISTS bench_marks (note text)");
            String targetXid = pg.queryValue("WITH m AS (INSERT INTO bench_marks VALUES ('xid') RETURNING txid_current() AS x) SELECT x FROM m");
            String targetLsn = pg.queryValue("SELECT pg_current_wal_insert_lsn()");
            pg.queryValue("SELECT pg_create_restore_point('bench-target')");
            String targetTime = pg.queryValue("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
            shell("pgbench -n -T " + (seconds - seconds / 2) + " -c 2 -j 2 " + conn + " postgres");
            String expected = pg.queryValue("SELECT sum(abalance) || '/' || (SELECT count(*) FROM pgbench_history) FROM pgbench_accounts");
            String last = pg.queryValue("SELECT pg_walfile_name(pg_switch_wal())");
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
            while (pg.queryValue("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").compareTo(last) < 0) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("archiving did not catch up");
                }
                Thread.sleep(200);
            }
            long walSegments = Long.parseLong(pg.queryValue("SELECT archived_count FROM pg_stat_archiver"));
            System.out.printf(Locale.ROOT, "%nPostgreSQL %d, pgbench scale %d, %d s of load: %d WAL segments archived after the backups;"
                    + " repositories: %s%n", major, scale, seconds, walSegments, s3 == null ? "local directories" : s3.describe());
            pg.stop();
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
            if (encryptedServer != null) {
                encryptedServer.destroy();
                encryptedServer.waitFor(30, TimeUnit.SECONDS);
            }
            if (s3 == null) {
                // The server keeps its data directory and the repository in it to its own user; PostgreSQL's user reads them here.
                shell("chmod a+rX " + serverDir + " && chmod -R a+rX " + serverDir.resolve("repo"));
                if (encrypted) {
                    shell("chmod a+rX " + encryptedDir + " && chmod -R a+rX " + encryptedDir.resolve("repo"));
                }
            }

            // Each contender recovers --repeat times, in turn, the run with the median total reported: the same
            // recovery varies by a quarter here from run to run.
            boolean onlyPgvault = System.getenv("PGVAULT_BENCH_ONLY_PGVAULT") != null;
            boolean onlyTargets = java.util.Arrays.asList(args).contains("--only-targets");
            List<Contender> contenders = new ArrayList<>();
            // Both restores run as the user PostgreSQL runs as, as DBAs run them.
            contenders.add(new Contender("pgvault recover + wal-fetch (prefetch)", data -> {
                Files.createDirectories(data);
                OsUser.own(data);
                List<String> command = new ArrayList<>(List.of(launcher.toString(), "recover"));
                command.addAll(repository);
                command.addAll(List.of("--cluster", "bench", "--pgdata", data.toString(), "--parallel", "2"));
                run(OsUser.wrap(command));
            }));
            if (encrypted) {
                contenders.add(new Contender("pgvault recover + wal-fetch (prefetch), encrypted", data -> {
                    Files.createDirectories(data);
                    OsUser.own(data);
                    List<String> command = new ArrayList<>(List.of(launcher.toString(), "recover"));
                    command.addAll(encryptedRepository);
                    command.addAll(List.of("--key-file", key.toString(), "--cluster", "bench", "--pgdata", data.toString(), "--parallel", "2"));
                    run(OsUser.wrap(command));
                }));
            }
            if (!onlyPgvault) {
                for (boolean async : new boolean[] {false, true}) {
                    contenders.add(new Contender("pgBackRest restore + archive-get" + (async ? " (async)" : "") + (encrypted ? ", aes-256-cbc" : ""), data -> {
                        String plain = Files.readString(conf).replace(ASYNC, "");
                        Files.writeString(conf, async ? plain.replace("[global]\n", "[global]\n" + ASYNC) : plain);
                        Files.createDirectories(data);
                        OsUser.own(data);
                        asPgUser("pgbackrest --config=" + conf + " --stanza=bench --pg1-path=" + data + " --archive-mode=off restore");
                    }));
                }
                contenders.add(new Contender("reference: WAL copied into pg_wal first", data -> {
                    Files.writeString(conf, Files.readString(conf).replace(ASYNC, ""));
                    Files.createDirectories(data);
                    OsUser.own(data);
                    asPgUser("pgbackrest --config=" + conf + " --stanza=bench --pg1-path=" + data + " --archive-mode=off restore");
                    // Segments taken after the backup's start, already in place: PostgreSQL reads them from pg_wal.
                    // sync: the copy's dirty pages would otherwise be written back during the replay, which only this run pays.
                    shell("cp " + rawWal + "/0* " + data.resolve("pg_wal") + "/ && echo \"restore_command = 'false'\" >> "
                            + data.resolve("postgresql.auto.conf") + " && sync");
                    OsUser.own(data);
                }));
            }
            if (java.util.Arrays.asList(args).contains("--targets") || onlyTargets) {
                restoreSteps(launcher, repository, conf, repeat, work, !encrypted, List.of(
                        new Target("latest", List.of(), "--type=default"),
                        new Target("immediate", List.of("--target", "immediate"), "--type=immediate"),
                        new Target("time", List.of("--target-time", targetTime), "--type=time --target='" + targetTime + "'"),
                        new Target("lsn", List.of("--target-lsn", targetLsn), "--type=lsn --target=" + targetLsn),
                        new Target("xid", List.of("--target-xid", targetXid), "--type=xid --target=" + targetXid),
                        new Target("name", List.of("--target-name", "bench-target"), "--type=name --target=bench-target")));
            }
            if (onlyTargets) {
                return;
            }
            List<List<Figures>> runs = new ArrayList<>();
            contenders.forEach(c -> runs.add(new ArrayList<>()));
            for (int round = 0; round < repeat; round++) {
                for (int i = 0; i < contenders.size(); i++) {
                    Figures f = recover(major, expected, contenders.get(i).name(), contenders.get(i).filler());
                    runs.get(i).add(f);
                    System.out.printf(Locale.ROOT, "  run %d: %-46s restore %.1f s, replay %.1f s, total %.1f s%n", round + 1, f.name(),
                            f.restoreSeconds(), f.replaySeconds(), f.total());
                }
            }
            List<Figures> results = runs.stream().map(PitrBench::median).toList();

            System.out.println();
            System.out.printf(Locale.ROOT, "%-46s %10s %10s %10s   (median of %d runs by total)%n", "recovery to the end of the archive",
                    "restore s", "replay s", "total s", repeat);
            for (Figures f : onlyPgvault ? results : results.subList(0, results.size() - 1)) {
                System.out.printf(Locale.ROOT, "%-46s %10.1f %10.1f %10.1f%n", f.name(), f.restoreSeconds(), f.replaySeconds(), f.total());
            }
            if (onlyPgvault) {
                return;
            }
            // Its restore is pgBackRest's plus a copy of the WAL: only its replay is a reference.
            Figures reference = results.get(results.size() - 1);
            System.out.printf(Locale.ROOT, "%-46s %10s %10.1f %10s%n", reference.name(), "-", reference.replaySeconds(), "-");
            // What no restore_command can go below: PostgreSQL replaying the same WAL from its own pg_wal.
            if (!encrypted) {
                BenchSummary.add("PostgreSQL replaying the WAL from its own pg_wal, no restore_command (the floor of any replay)", "s",
                        reference.replaySeconds(), Double.NaN, BenchSummary.Goal.REFERENCE);
            }
            for (Figures theirs : results.subList(1, results.size() - 1)) {
                System.out.printf(Locale.ROOT, "pgvault's wall time = %.2fx %s's%n", results.get(0).total() / theirs.total(), theirs.name());
                // In clear only: with --encrypted pgBackRest encrypts and the first pgvault run does not. The goal is
                // against pgBackRest's default (archive-get without async); its async mode is shown beside it.
                if (theirs.name().startsWith("pgBackRest") && !encrypted) {
                    BenchSummary.add("whole PITR to the end of the archive / " + theirs.name(), "s", results.get(0).total(), theirs.total(),
                            theirs.name().contains("async") ? BenchSummary.Goal.NONE : BenchSummary.Goal.ratioAtMost(0.5));
                    BenchSummary.add("replay in it / " + theirs.name(), "s", results.get(0).replaySeconds(), theirs.replaySeconds(),
                            BenchSummary.Goal.NONE);
                }
            }
            for (Figures f : results.subList(0, results.size() - 1)) {
                System.out.printf(Locale.ROOT, "%s: replay %+.1f s against the WAL copied into pg_wal%n", f.name(),
                        f.replaySeconds() - reference.replaySeconds());
            }
        } finally {
            server.destroy();
            if (encryptedServer != null) {
                encryptedServer.destroy();
            }
            if (s3 != null) {
                s3.close();
            }
            if (System.getenv("PGVAULT_BENCH_KEEP") != null) {
                System.out.println("kept (PGVAULT_BENCH_KEEP): " + work);
            } else {
                Fixtures.deleteTree(work);
            }
        }
    }

    /** A recovery target as pgvault recover and pgbackrest restore are given it. */
    record Target(String kind, List<String> pgvault, String pgbackrest) {
    }

    /**
     * The restore step alone (what runs before PostgreSQL starts: planning, looking the target
     * up, unpacking), per target kind, pgvault recover against pgbackrest restore, each
     * {@code repeat} times in turn, medians printed.
     *
     * @param summarize whether the medians go to the run's summary (not when pgBackRest encrypts and pgvault does not)
     */
    private static void restoreSteps(Path launcher, List<String> repository, Path conf, int repeat, Path work, boolean summarize,
                                     List<Target> targets)
            throws Exception {
        Files.writeString(conf, Files.readString(conf).replace(ASYNC, ""));
        System.out.printf(Locale.ROOT, "%n%-12s %14s %14s %8s   (restore step only, median of %d)%n", "target", "pgvault s", "pgBackRest s",
                "ratio", repeat);
        for (Target t : targets) {
            List<Double> ours = new ArrayList<>();
            List<Double> theirs = new ArrayList<>();
            for (int round = 0; round < repeat; round++) {
                Path data = work.resolve("target-" + t.kind() + "-" + round);
                shell("sync");
                Files.createDirectories(data);
                OsUser.own(data);
                List<String> command = new ArrayList<>(List.of(launcher.toString(), "recover"));
                command.addAll(repository);
                command.addAll(List.of("--cluster", "bench", "--pgdata", data.toString(), "--parallel", "2"));
                command.addAll(t.pgvault());
                long start = System.nanoTime();
                run(OsUser.wrap(command));
                ours.add((System.nanoTime() - start) / 1e9);
                stopPrefetcher(data);
                Fixtures.deleteTree(data);
                Path theirData = work.resolve("target-" + t.kind() + "-" + round + "-pgbackrest");
                shell("sync");
                Files.createDirectories(theirData);
                OsUser.own(theirData);
                start = System.nanoTime();
                asPgUser("pgbackrest --config=" + conf + " --stanza=bench --pg1-path=" + theirData + " --archive-mode=off " + t.pgbackrest()
                        + " restore");
                theirs.add((System.nanoTime() - start) / 1e9);
                Fixtures.deleteTree(theirData);
            }
            ours.sort(null);
            theirs.sort(null);
            double a = ours.get(ours.size() / 2);
            double b = theirs.get(theirs.size() / 2);
            System.out.printf(Locale.ROOT, "%-12s %14.2f %14.2f %7.2fx%n", t.kind(), a, b, a / b);
            if (summarize) {
                BenchSummary.add("restore step, target " + t.kind() + ": recover / pgbackrest restore", "s", a, b, BenchSummary.Goal.atMost(0.6));
            }
        }
    }

    /**
     * recover started restore_command's prefetcher for a PostgreSQL that this run never starts:
     * it is stopped here, once it has published itself (it starts at low priority, after recover's work).
     */
    private static void stopPrefetcher(Path data) throws Exception {
        Path pidFile = data.resolve("pg_wal/pgvault-spool/.pid");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.exists(pidFile) && Files.exists(pidFile.resolveSibling("prefetch.log")) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        if (Files.exists(pidFile)) {
            // ".pid" holds the owner's pid first (then its start time and boot id: docs/spool-protocol.md).
            long pid = Long.parseLong(Files.readString(pidFile).trim().split("\\s+")[0]);
            ProcessHandle.of(pid).ifPresent(p -> {
                p.destroy();
                p.onExit().orTimeout(10, TimeUnit.SECONDS).join();
            });
        }
    }

    interface Filler {
        void fill(Path data) throws Exception;
    }

    /** One way of recovering: how it fills the new data directory before PostgreSQL starts on it. */
    record Contender(String name, Filler filler) {
    }

    private static Figures median(List<Figures> runs) {
        List<Figures> sorted = new ArrayList<>(runs);
        sorted.sort(java.util.Comparator.comparingDouble(Figures::total));
        return sorted.get(sorted.size() / 2);
    }

    private static Figures recover(int major, String expected, String name, Filler filler) throws Exception {
        double[] restore = new double[1];
        // Every run starts with nothing dirty in the page cache: the first would otherwise pay for writing back the
        // load, the archiving and the runs before it.
        shell("sync");
        try (PgCluster restored = PgCluster.builder(major).adopt(data -> {
            long start = System.nanoTime();
            try {
                filler.fill(data);
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            restore[0] = (System.nanoTime() - start) / 1e9;
        })) {
            long start = System.nanoTime();
            restored.start();
            restored.awaitRecoveryEnd(Duration.ofMinutes(20));
            double replay = (System.nanoTime() - start) / 1e9;
            Path prefetchLog = restored.dataDirectory().resolve("pg_wal/pgvault-spool/prefetch.log");
            if (VERBOSE && Files.exists(prefetchLog)) {
                System.out.println(Files.readString(prefetchLog));
            }
            String actual = restored.queryValue("SELECT sum(abalance) || '/' || (SELECT count(*) FROM pgbench_history) FROM pgbench_accounts");
            if (!actual.equals(expected)) {
                throw new IllegalStateException(name + " recovered " + actual + ", the primary had " + expected);
            }
            return new Figures(name, restore[0], replay);
        }
    }

    private static void run(List<String> command) throws IOException {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException("failed: " + command + "\n" + out);
            }
            out.lines().filter(l -> VERBOSE || l.contains(" in ") && l.contains(" s")).forEach(l -> System.out.println("  " + l));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    private static void backup(HttpClient http, String url) throws Exception {
        String id = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(url + "/v1/clusters/bench/backups"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).body()).path("id").asText();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (System.nanoTime() < deadline) {
            JsonNode b = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(url + "/v1/clusters/bench/backups/" + id)).build(),
                    HttpResponse.BodyHandlers.ofString()).body());
            String status = b.path("status").asText();
            if (status.equals("complete")) {
                return;
            }
            if (status.equals("failed")) {
                throw new IllegalStateException("pgvault backup failed: " + b.path("reason").asText());
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("the pgvault backup did not complete");
    }
}

package io.pgvault.cli;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.S3ProxyFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
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
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.pgvault.cli.RecoverySupport.CHECKSUM;
import io.pgvault.cli.RecoverySupport.Run;
import static io.pgvault.cli.RecoverySupport.awaitBackup;
import static io.pgvault.cli.RecoverySupport.archivingPrimary;
import static io.pgvault.cli.RecoverySupport.cat;
import static io.pgvault.cli.RecoverySupport.pgvault;
import static io.pgvault.cli.RecoverySupport.pgvaultAsServerUser;
import static io.pgvault.cli.RecoverySupport.serverProperties;
import static io.pgvault.cli.RecoverySupport.post;
import static io.pgvault.cli.RecoverySupport.shell;
import static io.pgvault.cli.RecoverySupport.switchAndAwaitArchived;
import static io.pgvault.cli.RecoverySupport.value;
import static io.pgvault.cli.RecoverySupport.workDirectory;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The test that matters most: a cluster archives through pgvault while pgbench and a
 * writer of small committed transactions run; marks record, after a commit, its time,
 * the WAL position, the transaction id, a named restore point and a checksum of the
 * marks table. Then, with the server stopped and its catalog deleted, {@code pgvault
 * recover} (the real launcher, as a DBA runs it) rebuilds the cluster at every mark from
 * the repository alone, PostgreSQL replays through {@code restore_command = pgvault
 * wal-fetch}, and the table must hold exactly the rows committed at the mark. A standby
 * seeded with {@code recover --standby} follows the primary, is promoted (timeline 2) and
 * archives; a recovery to a point on timeline 2 is exact too.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RecoveryIT {

    private final HttpClient http = HttpClient.newHttpClient();
    private S3ProxyFixture s3;

    record Case(int major, String storage) {
        @Override
        public String toString() {
            return "PostgreSQL " + major + " on " + storage;
        }
    }

    /** Each storage once, on the representative pair of majors; -Pfull-matrix crosses them all. */
    static Stream<Case> cases() {
        List<Integer> majors = Fixtures.testMajors();
        List<String> storages = new ArrayList<>(Fixtures.testStorages());
        storages.remove("minio");
        List<Case> cases = new ArrayList<>();
        if (majors.size() <= 2) {
            for (int i = 0; i < Math.max(majors.size(), storages.size()); i++) {
                cases.add(new Case(majors.get(Math.min(i, majors.size() - 1)), storages.get(Math.min(i, storages.size() - 1))));
            }
        } else {
            majors.forEach(m -> storages.forEach(s -> cases.add(new Case(m, s))));
        }
        return cases.stream();
    }

    @BeforeAll
    void startS3() {
        s3 = S3ProxyFixture.start();
    }

    @AfterAll
    void stopS3() {
        s3.close();
    }

    /** A mark: what a target names and what the table held when it was recorded. */
    record Mark(String time, String lsn, String xid, String name, String checksum) {
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void everyTargetRecoversExactlyTheCommittedRows(Case c) throws Exception {
        Path dir = workDirectory("pgvault-recovery-it-");
        Map<String, Object> props = serverProperties(dir);
        props.put("pgvault.backup.piece-size", "8MB");
        List<String> repo = RecoverySupport.repository(props, dir, s3,
                c.storage().equals("s3proxy") ? "pitr-" + UUID.randomUUID().toString().substring(0, 8) : null);
        List<PgCluster> started = new ArrayList<>();
        EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props);
        try {
            String url = "http://127.0.0.1:" + server.getPort();
            PgCluster primary = archivingPrimary(c.major(), url);
            started.add(primary);
            String conninfo = "host=127.0.0.1 port=" + primary.port() + " user=postgres";
            assertThat(post(url + "/v1/clusters", "{\"name\":\"main\",\"conninfo\":\"" + conninfo + "\"}").statusCode()).isEqualTo(201);
            String conn = "-h 127.0.0.1 -p " + primary.port() + " -U postgres";
            shell("pgbench -i -q -s 2 " + conn + " postgres");
            primary.execute("CREATE TABLE marks (id int PRIMARY KEY, v text NOT NULL)");
            String backupId = new com.fasterxml.jackson.databind.ObjectMapper().readTree(post(url + "/v1/clusters/main/backups", "").body())
                    .path("id").asText();
            awaitBackup(url, backupId);
            String immediate = primary.queryValue(CHECKSUM);

            // Writes under load: pgbench at a modest rate, and marks between small commits.
            Process load = new ProcessBuilder("bash", "-c", "pgbench -n -T 12 -R 150 -c 2 -j 2 " + conn + " postgres")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            List<Mark> marks = new ArrayList<>();
            try (Connection db = primary.connect(); Statement st = db.createStatement()) {
                int id = 0;
                for (int round = 0; round < 4; round++) {
                    for (int i = 0; i < 6; i++) {
                        st.execute("INSERT INTO marks VALUES (" + (++id) + ", md5(random()::text))");
                        Thread.sleep(40);
                    }
                    db.setAutoCommit(false);
                    st.execute("INSERT INTO marks VALUES (" + (++id) + ", 'mark " + round + "')");
                    String xid = value(st, "SELECT txid_current()");
                    if (round == 2) {
                        // Two-phase commit, as XA transaction managers do: the WAL names this transaction in the body of its
                        // COMMIT PREPARED record, which a session without a transaction id of its own writes.
                        st.execute("PREPARE TRANSACTION 'mark-2'");
                        db.setAutoCommit(true);
                        st.execute("COMMIT PREPARED 'mark-2'");
                    } else {
                        db.commit();
                    }
                    db.setAutoCommit(true);
                    String checksum = value(st, CHECKSUM);
                    String time = value(st, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
                    String lsn = value(st, "SELECT pg_current_wal_insert_lsn()");
                    value(st, "SELECT pg_create_restore_point('mark-" + round + "')");
                    marks.add(new Mark(time, lsn, xid, "mark-" + round, checksum));
                    Thread.sleep(60);
                }
            }
            assertThat(load.waitFor(2, TimeUnit.MINUTES)).isTrue();
            switchAndAwaitArchived(primary, Duration.ofSeconds(90));

            // The same repository through the server (read-only, checked on this side).
            Run info = pgvault(dir, List.of("info", "main", "--server", url));
            assertThat(info.exit()).as(info.output()).isZero();
            assertThat(info.output()).contains("recovery window on timeline 1").contains("last archived commit");
            assertThat(http.send(HttpRequest.newBuilder(URI.create(url + "/v1/repository/object?key=server.log")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(400);

            // A standby seeded through the server follows the primary over streaming replication.
            PgCluster standby = PgCluster.builder(c.major()).adopt(data -> {
                Run r = pgvault(dir, List.of("recover", "--server", url, "--cluster", "main", "--pgdata", data.toString(), "--standby",
                        "--primary-conninfo", conninfo));
                assertThat(r.exit()).as(r.output()).isZero();
                assertThat(Files.readString(data.resolve("postgresql.auto.conf"))).contains("wal-fetch --server " + url);
            });
            started.add(standby);
            standby.start();
            primary.execute("INSERT INTO marks VALUES (1000, 'seen by the standby')");
            String primaryState = primary.queryValue(CHECKSUM);
            standby.awaitValue(CHECKSUM, primaryState, Duration.ofSeconds(90));
            assertThat(standby.queryValue("SELECT status FROM pg_stat_wal_receiver")).isEqualTo("streaming");

            // Fail over: the standby becomes timeline 2 and archives into the same cluster.
            primary.stop();
            standby.promote();
            standby.awaitRecoveryEnd(Duration.ofSeconds(60));
            try (Connection db = standby.connect(); Statement st = db.createStatement()) {
                st.execute("INSERT INTO marks VALUES (2001, 'on timeline 2')");
                Thread.sleep(30);
                String checksum = value(st, CHECKSUM);
                String time = value(st, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
                Thread.sleep(30);
                st.execute("INSERT INTO marks VALUES (2002, 'later on timeline 2')");
                marks.add(new Mark(time, null, null, null, checksum));
            }
            String latest = standby.queryValue(CHECKSUM);
            switchAndAwaitArchived(standby, Duration.ofSeconds(90));
            standby.stop();

            serverGoneMidRecoveryStopsIt(c, url, dir, marks.get(1), latest);

            // From here on only the repository: no server, no catalog.
            server.close();
            Fixtures.deleteTree(dir.resolve("catalog"));
            Fixtures.deleteTree(dir.resolve("server"));
            if (c.storage().equals("local")) {
                shell("chmod -R a+rX " + dir.resolve("repo"));
            }

            Mark m0 = marks.get(0);
            Mark m1 = marks.get(1);
            Mark m2 = marks.get(2);
            Mark m3 = marks.get(3);
            Mark onTimeline2 = marks.get(4);
            // Each kind of target at two marks, each mark named by two kinds.
            List<Map.Entry<String, List<String>>> runs = new ArrayList<>(List.of(
                    Map.entry(immediate, List.of("--target", "immediate")),
                    Map.entry(m0.checksum(), List.of("--target-time", m0.time())),
                    Map.entry(m1.checksum(), List.of("--target-lsn", m1.lsn())),
                    Map.entry(m2.checksum(), List.of("--target-xid", m2.xid())),
                    Map.entry(m3.checksum(), List.of("--target-name", m3.name())),
                    Map.entry(m2.checksum(), List.of("--target-time", m2.time())),
                    Map.entry(m3.checksum(), List.of("--target-lsn", m3.lsn())),
                    Map.entry(m0.checksum(), List.of("--target-xid", m0.xid())),
                    Map.entry(m1.checksum(), List.of("--target-name", m1.name())),
                    Map.entry(onTimeline2.checksum(), List.of("--target-time", onTimeline2.time())),
                    Map.entry(latest, List.of())));
            for (Map.Entry<String, List<String>> run : runs) {
                boolean latestRun = run.getValue().isEmpty();
                try (PgCluster restored = PgCluster.builder(c.major()).adopt(data -> {
                    List<String> recover = cat(cat(cat(List.of("recover"), repo.toArray(String[]::new)), "--cluster", "main", "--pgdata",
                            data.toString(), "--target-action", "promote"), run.getValue().toArray(String[]::new));
                    Run r;
                    if (latestRun) {
                        // As a DBA runs it: as the user PostgreSQL runs as, who gets the prefetcher started at once.
                        Files.createDirectories(data);
                        OsUser.own(data.getParent());
                        r = pgvaultAsServerUser(dir, recover);
                        secretsStayOutOfDataDirectoryAndArguments(c, data);
                    } else {
                        r = pgvault(dir, recover);
                    }
                    assertThat(r.exit()).as(r.output()).isZero();
                    assertThat(r.output()).contains("backup " + backupId);
                    if (latestRun && OsUser.isRoot()) {
                        assertThat(r.output()).contains("prefetcher is starting");
                    }
                })) {
                    restored.start();
                    restored.awaitRecoveryEnd(Duration.ofMinutes(2));
                    assertThat(restored.queryValue(CHECKSUM)).as("recovery to " + run.getValue() + "\n" + restored.serverLog())
                            .isEqualTo(run.getKey());
                    assertThat(restored.serverLog()).doesNotContain("pgvault wal-fetch: could not restore");
                    if (latestRun) {
                        // Replaying everything, segments came from the prefetcher's spool.
                        assertThat(restored.dataDirectory().resolve("pg_wal/pgvault-spool/prefetch.log")).content().contains("prefetching");
                    }
                }
            }
            refusalsLeaveNothingAndExplain(c, dir, repo, latest);
        } finally {
            server.close();
            started.forEach(PgCluster::close);
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * restore_command = wal-fetch --server, and the server goes away while a recovery is under
     * way (replayed to a mark, past its consistency point): PostgreSQL stops instead of taking
     * the outage for the end of the archive and promoting on a partial history (what
     * {@code curl -f}'s exit 7 or 22 would make it do); with the server back, it recovers everything.
     */
    private void serverGoneMidRecoveryStopsIt(Case c, String url, Path dir, Mark mark, String latest) throws Exception {
        URI server = URI.create(url);
        try (io.pgvault.testkit.TcpRelay relay = io.pgvault.testkit.TcpRelay.to("127.0.0.1", server.getPort());
             PgCluster recovering = PgCluster.builder(c.major()).adopt(data -> {
                 Run r = pgvault(dir, List.of("recover", "--server", "http://127.0.0.1:" + relay.port(), "--cluster", "main", "--pgdata",
                         data.toString(), "--target-lsn", mark.lsn(), "--target-action", "shutdown", "--no-prefetch", "--fetch-retry", "2"));
                 assertThat(r.exit()).as(r.output()).isZero();
                 assertThat(Files.readString(data.resolve("postgresql.auto.conf"))).contains("wal-fetch --server http://127.0.0.1:" + relay.port());
             })) {
            startExpectingItToStop(recovering, "shutdown at recovery target");
            // Replay on to the end of the archive, with the server gone.
            Files.writeString(recovering.dataDirectory().resolve("postgresql.auto.conf"),
                    "recovery_target_lsn = ''\nrecovery_target_timeline = 'latest'\n", java.nio.file.StandardOpenOption.APPEND);
            relay.cut();
            startExpectingItToStop(recovering, "exiting with 200");
            assertThat(recovering.serverLog()).doesNotContain("selected new timeline ID").doesNotContain("archive recovery complete");
            relay.restore();
            recovering.start();
            recovering.awaitRecoveryEnd(Duration.ofMinutes(2));
            assertThat(recovering.queryValue(CHECKSUM)).isEqualTo(latest);
        }
    }

    /** The S3 keys recover was given: in a 0600 file beside the data directory, not in it, not in the prefetcher's arguments. */
    private static void secretsStayOutOfDataDirectoryAndArguments(Case c, Path data) throws java.io.IOException {
        if (!c.storage().equals("s3proxy")) {
            return;
        }
        Path file = data.resolveSibling(data.getFileName() + ".pgvault-s3.credentials");
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        assertThat(Files.readString(data.resolve("postgresql.auto.conf"))).contains("--s3-credentials-file " + file)
                .doesNotContain(S3ProxyFixture.SECRET_KEY);
        try (Stream<Path> files = Files.walk(data)) {
            // The prefetcher's spool comes and goes as it works: segments, not secrets.
            for (Path f : files.filter(f -> Files.isRegularFile(f) && !f.toString().contains("pgvault-spool")).toList()) {
                assertThat(new String(Files.readAllBytes(f), java.nio.charset.StandardCharsets.ISO_8859_1)).as(f.toString())
                        .doesNotContain(S3ProxyFixture.SECRET_KEY);
            }
        }
        // recover names the prefetcher it started in .starting at once; it runs at low priority, so on a busy machine it may
        // take a while to own the spool (and replace .starting with .pid).
        Path spool = data.resolve("pg_wal/pgvault-spool");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        String line = null;
        while (line == null && System.nanoTime() < deadline) {
            for (String name : List.of(io.pgvault.restore.fetch.PrefetchSpool.OWNER, io.pgvault.restore.fetch.PrefetchSpool.STARTING)) {
                try {
                    line = line != null ? line : Files.readString(spool.resolve(name));
                } catch (java.nio.file.NoSuchFileException gone) {
                    // not (or no longer) there
                }
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
        assertThat(line).as("recover started a prefetcher and named it").isNotNull();
        String pid = line.trim().split(" ")[0];
        String argv = new String(Files.readAllBytes(Path.of("/proc", pid, "cmdline")), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(argv).contains("PrefetchDaemon").contains(file.toString()).doesNotContain(S3ProxyFixture.SECRET_KEY)
                .doesNotContain(S3ProxyFixture.ACCESS_KEY);
    }

    private static void startExpectingItToStop(PgCluster pg, String logLine) throws InterruptedException {
        try {
            pg.start();
        } catch (RuntimeException expected) {
            // pg_ctl reports that the server did not stay up
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!pg.serverLog().contains(logLine) && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertThat(pg.serverLog()).contains(logLine);
        try {
            pg.stop();
        } catch (RuntimeException alreadyDown) {
            // it stopped by itself
        }
    }

    /** Bad input and faults: each refused before anything is written, with the reason and the window. */
    private void refusalsLeaveNothingAndExplain(Case c, Path dir, List<String> repo, String latest) throws Exception {
        List<String> recover = cat(List.of("recover"), repo.toArray(String[]::new));
        Path target = dir.resolve("refused");
        Map<List<String>, String> refusals = new java.util.LinkedHashMap<>();
        refusals.put(List.of("--cluster", "nope"), "has no cluster 'nope'; clusters there: main");
        refusals.put(List.of("--cluster", "main", "--target-time", "2000-01-01 00:00:00+00"), "before the oldest usable backup finished");
        refusals.put(List.of("--cluster", "main", "--target-time", java.time.Instant.now().plusSeconds(86400).toString()),
                "after the last archived commit");
        refusals.put(List.of("--cluster", "main", "--target-lsn", "FF/0"), "is beyond the archived WAL");
        refusals.put(List.of("--cluster", "main", "--target-xid", "4000000000"), "has no commit or abort record");
        refusals.put(List.of("--cluster", "main", "--target-name", "never-created"), "no restore point named 'never-created'");
        refusals.put(List.of("--cluster", "main", "--target-timeline", "9"), "timeline 9 is not in the repository");
        refusals.put(List.of("--cluster", "main", "--target-time", "2026-11-25 10:00:00"), "is not a time with a zone");
        for (Map.Entry<List<String>, String> refusal : refusals.entrySet()) {
            Run r = pgvault(dir, cat(cat(recover, refusal.getKey().toArray(String[]::new)), "--pgdata", target.toString()));
            // A cluster the repository does not hold is "not found"; a target outside the window a refusal.
            assertThat(r.exit()).as(r.output()).isEqualTo(refusal.getKey().contains("nope") ? ExitCodes.NOT_FOUND : ExitCodes.FAILED);
            assertThat(r.output()).as(refusal.getKey().toString()).contains(refusal.getValue());
            assertThat(target).doesNotExist();
        }
        Run windowShown = pgvault(dir, cat(recover, "--cluster", "main", "--target-lsn", "FF/0", "--pgdata", target.toString()));
        assertThat(windowShown.output()).contains("Recovery window on timeline 2: from ").contains("last archived commit");
        Run info = pgvault(dir, cat(cat(List.of("info"), repo.toArray(String[]::new)), "main"));
        assertThat(info.exit()).as(info.output()).isZero();
        assertThat(info.output()).contains("recovery window on timeline 1").contains("recovery window on timeline 2");
        Run verified = pgvault(dir, cat(cat(List.of("verify"), repo.toArray(String[]::new)), "main"));
        assertThat(verified.exit()).as(verified.output()).isZero();
        assertThat(verified.output()).contains("backup ").contains(": ok").contains("verify: ok");
        Files.createDirectories(target.resolve("base"));
        Run notEmpty = pgvault(dir, cat(recover, "--cluster", "main", "--pgdata", target.toString()));
        assertThat(notEmpty.output()).contains("is not empty");
        Fixtures.deleteTree(target);
        Run empty = pgvault(dir, List.of("recover", "--repo", dir.resolve("empty").toUri().toString(), "--cluster", "main", "--pgdata",
                target.toString()));
        assertThat(empty.output()).contains("no pgvault repository");
        assertThat(empty.exit()).isEqualTo(ExitCodes.NOT_FOUND);
        if (!c.storage().equals("local")) {
            return;
        }

        // Damaged objects in a copy of the repository: named, never restored.
        Path damaged = dir.resolve("damaged");
        shell("cp -a " + dir.resolve("repo") + " " + damaged);
        Path piece;
        try (Stream<Path> files = Files.walk(damaged.resolve("clusters/main/backups"))) {
            piece = files.filter(f -> f.toString().contains("/pieces/base.tar.")).sorted().findFirst().orElseThrow();
        }
        flipByte(piece);
        Run badPiece = pgvault(dir, List.of("recover", "--repo", damaged.toUri().toString(), "--cluster", "main", "--pgdata", target.toString()));
        assertThat(badPiece.exit()).isEqualTo(1);
        assertThat(badPiece.output()).contains(damaged.relativize(piece).toString());
        assertThat(target).doesNotExist();
        Path segment;
        try (Stream<Path> files = Files.walk(damaged.resolve("clusters/main/wal/0000000100000000"))) {
            segment = files.filter(Files::isRegularFile).sorted().findFirst().orElseThrow();
        }
        flipByte(segment);
        // verify reads everything and names every damaged object.
        Run damage = pgvault(dir, List.of("verify", "--repo", damaged.toUri().toString(), "main"));
        assertThat(damage.exit()).as(damage.output()).isEqualTo(1);
        assertThat(damage.output()).contains(damaged.relativize(piece).toString()).contains(segment.getFileName().toString())
                .contains("2 problem(s)");
        // Damage in the last segment: the recovery window is read from its index (written when it arrived), and the WAL
        // pass names the damage with every other problem.
        Path last;
        try (Stream<Path> files = Files.walk(damaged.resolve("clusters/main/wal/0000000200000000"))) {
            last = files.filter(f -> Files.isRegularFile(f) && !f.getFileName().toString().contains(".")).sorted()
                    .reduce((a, b) -> b).orElseThrow();
        }
        flipByte(last);
        Run tail = pgvault(dir, List.of("verify", "--repo", damaged.toUri().toString(), "main"));
        assertThat(tail.exit()).as(tail.output()).isEqualTo(1);
        assertThat(tail.output()).contains(last.getFileName().toString()).contains("3 problem(s)")
                .contains(damaged.relativize(piece).toString()).contains(segment.getFileName().toString());
        Path fetchDir = dir.resolve("fetch");
        Files.createDirectories(fetchDir);
        Files.writeString(fetchDir.resolve("recovery.signal"), "");
        List<String> fetch = List.of("wal-fetch", "--repo", damaged.toUri().toString(), "--cluster", "main", "--retry-for", "1",
                segment.getFileName().toString(), "RECOVERYXLOG");
        Run badWal = pgvault(fetchDir, fetch);
        assertThat(badWal.exit()).as(badWal.output()).isEqualTo(200);
        assertThat(badWal.output()).contains(segment.getFileName().toString()).contains("stops recovery here");
        assertThat(fetchDir.resolve("RECOVERYXLOG")).doesNotExist();
        Files.move(fetchDir.resolve("recovery.signal"), fetchDir.resolve("standby.signal"));
        assertThat(pgvault(fetchDir, fetch).exit()).isEqualTo(3);
        Run absent = pgvault(fetchDir, List.of("wal-fetch", "--repo", damaged.toUri().toString(), "--cluster", "main", "00000009.history", "X"));
        assertThat(absent.exit()).isEqualTo(1);
        Files.writeString(damaged.resolve("pgvault-format.json"), "{\"formatVersion\":99,\"createdAt\":\"2030-01-01T00:00:00Z\",\"createdBy\":\"pgvault 9\"}");
        Run newer = pgvault(dir, List.of("recover", "--repo", damaged.toUri().toString(), "--cluster", "main", "--pgdata", target.toString()));
        assertThat(newer.exit()).isEqualTo(1);
        assertThat(newer.output()).contains("format version 99").contains("upgrade pgvault");

        // The repository unreachable during recovery: PostgreSQL stops instead of promoting early, and resumes later.
        Path walDir = dir.resolve("repo/clusters/main/wal");
        try (PgCluster resumed = PgCluster.builder(c.major()).adopt(data -> {
            Run r = pgvault(dir, cat(recover, "--cluster", "main", "--pgdata", data.toString(), "--target-action", "promote",
                    "--fetch-retry", "2"));
            assertThat(r.exit()).as(r.output()).isZero();
        })) {
            shell("chmod 000 " + walDir);
            try {
                resumed.start();
            } catch (RuntimeException expected) {
                // pg_ctl reports that the server did not come up
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!resumed.serverLog().contains("exiting with 200") && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertThat(resumed.serverLog()).contains("exiting with 200").doesNotContain("selected new timeline ID");
            try {
                resumed.stop();
            } catch (RuntimeException alreadyDown) {
                // the startup process's FATAL took the postmaster down
            }
            shell("chmod 755 " + walDir);
            resumed.start();
            resumed.awaitRecoveryEnd(Duration.ofMinutes(2));
            assertThat(resumed.queryValue(CHECKSUM)).isEqualTo(latest);
        } finally {
            shell("chmod 755 " + walDir);
        }
    }

    private static void flipByte(Path file) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 40] ^= 0x5a;
        Files.write(file, bytes);
    }
}

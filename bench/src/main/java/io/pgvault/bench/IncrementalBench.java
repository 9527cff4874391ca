package io.pgvault.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgvault.core.backup.BackupChain;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.BackupRestorer;
import io.pgvault.core.backup.TablespacePlan;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;

import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.pgvault.bench.BenchSupport.cpuSeconds;
import static io.pgvault.bench.BenchSupport.intArg;
import static io.pgvault.bench.BenchSupport.registerCluster;
import static io.pgvault.bench.BenchSupport.shell;
import static io.pgvault.bench.BenchSupport.startServer;
import static io.pgvault.bench.BenchSupport.stringArg;

/**
 * Incremental against full backups of one pgbench cluster, in one run: a full backup, then
 * three rounds of writes (about 5% of the accounts updated, in one stretch of the table, as a
 * day's work touches part of a table) each followed by an incremental backup, then a full
 * backup of the same state, each after a CHECKPOINT of its own (and on 17+ the WAL summarizer's
 * catching up to it), timed apart ({@link #settled}).
 * Wall time, the server's CPU and the stored size of each; then
 * the restore of the chain (full + 3 incrementals) against the restore of the equivalent
 * full backup, both by pgvault's restorer on this machine's disk, alternated and repeated.
 * On PostgreSQL 14-16 (incremental backups by file references) pgBackRest takes the same
 * backups of the same states in the same run ({@code --type=full}, {@code --type=incr}, zst 3,
 * process-max 1), and restores its newest incremental and its last full the same way
 * ({@code PGVAULT_BENCH_ONLY_PGVAULT} leaves it out; {@code PGVAULT_BENCH_KEEP} keeps the repositories).
 *
 * <p>Usage: {@code java -cp bench/target/pgvault-bench.jar io.pgvault.bench.IncrementalBench
 * --server-jar server/target/pgvault-server.jar [--major 17] [--scale 50] [--percent 5] [--restores 5]}
 */
public final class IncrementalBench {

    private static final double MIB = BenchSupport.MIB;

    /**
     * @param checkpointSeconds the CHECKPOINT run just before it, untimed in {@code wallSeconds} (see {@link #settled})
     * @param summarizerSeconds then, on PostgreSQL 17+, the wait for the WAL summarizer to reach that checkpoint, likewise
     */
    record Backup(String id, String type, double wallSeconds, double cpuSeconds, long rawBytes, long storedBytes, double checkpointSeconds,
                  double summarizerSeconds, double postgresCpuSeconds) {
        Backup settledBy(double checkpoint, double summarizer, double postgresCpu) {
            return new Backup(id, type, wallSeconds, cpuSeconds, rawBytes, storedBytes, checkpoint, summarizer, postgresCpu);
        }
    }

    public static void main(String[] args) throws Exception {
        int major = intArg(args, "--major", 17);
        int scale = intArg(args, "--scale", 50);
        int percent = intArg(args, "--percent", 5);
        int restores = intArg(args, "--restores", 5);
        Path serverJar = Path.of(stringArg(args, "--server-jar", "server/target/pgvault-server.jar")).toAbsolutePath();
        Path work = Files.createTempDirectory("pgvault-incremental-bench");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        OsUser.own(work);
        PgCluster.Builder builder = PgCluster.builder(major).setting("max_wal_size", "2GB").setting("checkpoint_timeout", "30min");
        try (PgCluster pg = (major >= 17 ? builder.setting("summarize_wal", "on") : builder).start()) {
            String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
            shell("pgbench -i -q -s " + scale + " " + conn + " postgres");
            pg.execute("CHECKPOINT");
            long dbBytes = Long.parseLong(pg.queryValue("SELECT sum(pg_database_size(oid)) FROM pg_database"));
            long accounts = Long.parseLong(pg.queryValue("SELECT count(*) FROM pgbench_accounts"));
            System.out.printf(Locale.ROOT, "%nCluster: PostgreSQL %d, pgbench scale %d, %.0f MiB in databases; %d%% of the accounts updated "
                    + "between backups%n", major, scale, dbBytes / MIB, percent);

            boolean compare = major < 17 && System.getenv("PGVAULT_BENCH_ONLY_PGVAULT") == null;
            PgBackRest rest = compare ? new PgBackRest(work.resolve("pgbackrest"), pg) : null;
            List<Backup> restBackups = new ArrayList<>();
            Path dir = Files.createDirectories(work.resolve("pgvault"));
            int port = io.pgvault.testkit.Fixtures.freePort();
            Process server = startServer(serverJar, dir, port, "zstd", List.of());
            List<Backup> backups = new ArrayList<>();
            try {
                String url = "http://127.0.0.1:" + port;
                registerCluster(url, "{\"name\":\"bench\",\"conninfo\":\"host=127.0.0.1 port=" + pg.port() + " user=postgres\"}");
                HttpClient http = HttpClient.newHttpClient();
                backup(http, url, "full", server);  // untimed: warms the server's JIT, as a server that runs for months is
                if (rest != null) {
                    rest.backup("full");  // untimed, likewise
                }
                backups.add(settled(pg, () -> backup(http, url, "full", server)));
                if (rest != null) {
                    restBackups.add(settled(pg, () -> rest.backup("full")));
                }
                long stretch = accounts * percent / 100;
                for (int round = 0; round < 3; round++) {
                    long from = 1 + round * stretch;
                    pg.execute("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN " + from + " AND " + (from + stretch - 1));
                    backups.add(settled(pg, () -> backup(http, url, "incremental", server)));
                    if (rest != null) {
                        restBackups.add(settled(pg, () -> rest.backup("incr")));
                    }
                }
                backups.add(settled(pg, () -> backup(http, url, "full", server)));
                if (rest != null) {
                    restBackups.add(settled(pg, () -> rest.backup("full")));
                }
            } finally {
                server.destroy();
                server.waitFor(30, TimeUnit.SECONDS);
            }
            // Where each backup's time went, as the server logged it (BASE_BACKUP, then the manifest).
            try (java.util.stream.Stream<String> log = Files.lines(dir.resolve("server.log"))) {
                log.filter(l -> l.contains("stored (")).map(l -> "  " + l.substring(l.indexOf("Backup "))).forEach(System.out::println);
            }

            System.out.println();
            System.out.printf(Locale.ROOT, "%-28s %-12s %8s %9s %9s %12s %12s %14s %14s%n", "backup", "type", "wall s", "CPU s", "PG CPU s", "raw MiB",
                    "stored MiB", "checkpoint s", major >= 17 ? "summarizer s" : "");
            for (Backup b : backups) {
                System.out.printf(Locale.ROOT, "%-28s %-12s %8.2f %9.2f %9.2f %12.1f %12.1f %14.2f %14s%n", b.id(), b.type(), b.wallSeconds(),
                        b.cpuSeconds(), b.postgresCpuSeconds(), b.rawBytes() / MIB, b.storedBytes() / MIB, b.checkpointSeconds(),
                        major >= 17 ? String.format(Locale.ROOT, "%.2f", b.summarizerSeconds()) : "");
            }
            for (Backup b : restBackups) {
                System.out.printf(Locale.ROOT, "%-28s %-12s %8.2f %9.2f %9.2f %12s %12.1f %14.2f%n", b.id(), b.type(), b.wallSeconds(), b.cpuSeconds(),
                        b.postgresCpuSeconds(), "-", b.storedBytes() / MIB, b.checkpointSeconds());
            }
            System.out.println("(CPU s: the backup tool's (pgvault's server, or pgBackRest's processes); PG CPU s: PostgreSQL's backends that "
                    + "served it (the walsender, which reads and sends every file), counted when they end."
                    + " checkpoint s: a CHECKPOINT run just before the backup, not in its wall time; it flushes the writes made since the last."
                    + (major >= 17 ? " summarizer s: then the wait until PostgreSQL's WAL summarizer had summarized the WAL up to that checkpoint,"
                    + " not in the wall time either" : "") + ")");
            System.out.println();
            summarize("pgvault", backups);
            if (!restBackups.isEmpty()) {
                summarize("pgBackRest", restBackups);
                double ours = backups.subList(1, 4).stream().mapToDouble(Backup::wallSeconds).average().orElseThrow();
                double theirs = restBackups.subList(1, 4).stream().mapToDouble(Backup::wallSeconds).average().orElseThrow();
                System.out.printf(Locale.ROOT, "pgvault incremental vs pgBackRest incr: %.2fx as fast, stored size x%.2f%n", theirs / ours,
                        backups.subList(1, 4).stream().mapToLong(Backup::storedBytes).average().orElseThrow()
                                / restBackups.subList(1, 4).stream().mapToLong(Backup::storedBytes).average().orElseThrow());
            }

            try (ObjectStore store = new LocalDirectoryStore(dir.resolve("repo"))) {
                BackupManifest newest = BackupManifest.read(store, "bench", backups.get(3).id()).orElseThrow();
                List<BackupManifest> chain = BackupChain.of(newest, id -> BackupManifest.read(store, "bench", id));
                List<BackupManifest> equivalent = List.of(BackupManifest.read(store, "bench", backups.get(4).id()).orElseThrow());
                List<Double> chainTimes = new ArrayList<>();
                List<Double> fullTimes = new ArrayList<>();
                restore(store, chain, work.resolve("warm-up"));
                for (int i = 0; i < restores; i++) {
                    // Alternated, so neither gets the warmer JIT or page cache throughout.
                    chainTimes.add(restore(store, chain, work.resolve("chain-" + i)));
                    fullTimes.add(restore(store, equivalent, work.resolve("full-" + i)));
                }
                double chainMedian = BenchSupport.percentile(chainTimes, 50);
                double fullMedian = BenchSupport.percentile(fullTimes, 50);
                System.out.printf(Locale.ROOT, "%nrestore and sync (pgvault's restorer, 2 threads, median of %d): chain of %d backups %.2f s %s, "
                                + "equivalent full %.2f s %s: %.2fx%n", restores, chain.size(), chainMedian, chainTimes, fullMedian, fullTimes,
                        chainMedian / fullMedian);
                if (rest != null) {
                    List<Double> restIncr = new ArrayList<>();
                    List<Double> restFull = new ArrayList<>();
                    for (int i = 0; i < restores; i++) {
                        restIncr.add(rest.restore(restBackups.get(3).id(), work.resolve("pgbackrest-incr-" + i)));
                        restFull.add(rest.restore(restBackups.get(4).id(), work.resolve("pgbackrest-full-" + i)));
                    }
                    double incrMedian = BenchSupport.percentile(restIncr, 50);
                    System.out.printf(Locale.ROOT, "restore and sync (pgbackrest restore, process-max 2, median of %d): incr %.2f s %s, full %.2f s %s; "
                            + "pgvault's chain %.2fx as fast as pgBackRest's incr%n", restores, incrMedian, restIncr,
                            BenchSupport.percentile(restFull, 50), restFull, incrMedian / chainMedian);
                }
            }
        } finally {
            if (System.getenv("PGVAULT_BENCH_KEEP") != null) {
                System.out.println("kept (PGVAULT_BENCH_KEEP): " + work);
            } else {
                Fixtures.deleteTree(work);
            }
        }
    }

    private static void summarize(String tool, List<Backup> backups) {
        Backup full = backups.get(0);
        double bothSides = backups.subList(1, 4).stream().mapToDouble(b -> b.cpuSeconds() + b.postgresCpuSeconds()).average().orElseThrow();
        // What two cores allow at best: the CPU of both sides of an incremental spread over both, with nothing else running.
        System.out.printf(Locale.ROOT, "%s incremental: %.2f s of CPU with PostgreSQL's, so at least %.2f s of wall time on %d cores; a third of "
                + "the full's time is %.2f s%n", tool, bothSides, bothSides / Runtime.getRuntime().availableProcessors(),
                Runtime.getRuntime().availableProcessors(), full.wallSeconds() / 3);
        double incWall = backups.subList(1, 4).stream().mapToDouble(Backup::wallSeconds).average().orElseThrow();
        double incCpu = backups.subList(1, 4).stream().mapToDouble(Backup::cpuSeconds).average().orElseThrow();
        double incStored = backups.subList(1, 4).stream().mapToLong(Backup::storedBytes).average().orElseThrow();
        double incWithCheckpoint = backups.subList(1, 4).stream().mapToDouble(b -> b.wallSeconds() + b.checkpointSeconds()).average().orElseThrow();
        double incWithBoth = backups.subList(1, 4).stream().mapToDouble(b -> b.wallSeconds() + b.checkpointSeconds() + b.summarizerSeconds())
                .average().orElseThrow();
        System.out.printf(Locale.ROOT, "%s incremental vs full (mean of 3): %.2fx the time, %.2fx the CPU, %.1f%% of the stored size; "
                        + "counting the checkpoint before each, %.2fx the time%s%n", tool, incWall / full.wallSeconds(), incCpu / full.cpuSeconds(),
                100 * incStored / full.storedBytes(), incWithCheckpoint / (full.wallSeconds() + full.checkpointSeconds()),
                incWithBoth == incWithCheckpoint ? "" : String.format(Locale.ROOT, "; counting the checkpoint and the summarizer's catching up, %.2fx",
                        incWithBoth / (full.wallSeconds() + full.checkpointSeconds() + full.summarizerSeconds())));
    }

    /** pgBackRest on the same cluster: its own stanza and repository, zst 3, no archive check (pgvault's backups do not wait for WAL either). */
    private static final class PgBackRest {
        private final Path dir;
        private final Path conf;

        PgBackRest(Path dir, PgCluster pg) throws Exception {
            this.dir = Files.createDirectories(dir);
            this.conf = BenchSupport.pgbackrestStanza(dir, pg, "bench", 3, "start-fast=y", "archive-check=n", "archive-copy=n", "process-max=1");
        }

        /** A backup of {@code type} (full or incr): wall and CPU time (its process tree), and what it added to the repository. */
        Backup backup(String type) throws Exception {
            long before = BenchSupport.directorySize(dir.resolve("repo/backup"));
            double[] t = BenchSupport.timed(String.join(" ", OsUser.wrap(List.of("pgbackrest", "--config=" + conf, "--stanza=bench",
                    "--type=" + type, "backup"))));
            String label;
            try (java.util.stream.Stream<Path> sets = Files.list(dir.resolve("repo/backup/bench"))) {
                label = sets.map(f -> f.getFileName().toString()).filter(n -> n.matches("[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?"))
                        .max(java.util.Comparator.comparing(n -> n.substring(n.lastIndexOf('_') + 1))).orElseThrow();
            }
            return new Backup(label, "pgBackRest " + type, t[0], t[1], 0, BenchSupport.directorySize(dir.resolve("repo/backup")) - before, 0, 0, 0);
        }

        /** Restores backup set {@code label} into {@code target} and syncs it, as the pgvault restores are timed. */
        double restore(String label, Path target) throws Exception {
            Files.createDirectories(target);
            OsUser.own(target);
            shell("sync");
            long start = System.nanoTime();
            BenchSupport.asPgUser("pgbackrest --config=" + conf + " --stanza=bench --pg1-path=" + target + " --set=" + label
                    + " --process-max=2 --archive-mode=off restore");
            shell("sync");
            double seconds = (System.nanoTime() - start) / 1e9;
            Fixtures.deleteTree(target);
            return seconds;
        }
    }

    private static double restore(ObjectStore store, List<BackupManifest> chain, Path target) throws Exception {
        // The previous run's writes reach the disk first: each run pays for its own.
        shell("sync");
        long start = System.nanoTime();
        new BackupRestorer(store, 2).restore(chain, target, TablespacePlan.of(chain.get(0), Map.of(), target), n -> { });
        shell("sync");
        double seconds = (System.nanoTime() - start) / 1e9;
        Fixtures.deleteTree(target);
        return seconds;
    }

    /**
     * Runs {@code backup} after a CHECKPOINT of its own, timed apart. A backup starts with a
     * checkpoint, and right after a burst of writes that checkpoint flushes them all: here up to
     * half a second for the 5% just updated, which a cluster whose checkpointer runs every few
     * minutes has flushed long before its nightly backup. Without this the first backup after
     * the writes (pgvault's incremental, before pgBackRest's) paid for them and the full backups,
     * taken with nothing to flush, did not. The figures give both.
     *
     * <p>On PostgreSQL 17+ the same holds for the WAL summarizer: {@code BASE_BACKUP ... INCREMENTAL}
     * waits until the WAL up to its start is summarized. A summarizer that found nothing new
     * sleeps longer and longer (up to 30 s), so after the idle stretch before the burst of writes
     * it reads their 128 MiB of WAL only when the backup's checkpoint wakes it: 0.3-0.4 s of every
     * incremental's time here, seen in PostgreSQL's log. On a cluster written to all day it reads
     * the WAL as it comes. So the summarizer is waited for after the checkpoint, timed apart too.
     */
    private static Backup settled(PgCluster pg, java.util.concurrent.Callable<Backup> backup) throws Exception {
        long start = System.nanoTime();
        pg.execute("CHECKPOINT");
        double checkpoint = (System.nanoTime() - start) / 1e9;
        double summarizer = 0;
        if (pg.major() >= 17) {
            start = System.nanoTime();
            awaitSummarized(pg);
            summarizer = (System.nanoTime() - start) / 1e9;
        }
        // PostgreSQL's side of the backup: the walsender (or pgBackRest's backend) ends with it, and its CPU then counts among
        // the postmaster's ended children.
        double postgresBefore = BenchSupport.endedChildrenCpuSeconds(pg.postmasterPid());
        Backup taken = backup.call();
        Thread.sleep(200);
        return taken.settledBy(checkpoint, summarizer, BenchSupport.endedChildrenCpuSeconds(pg.postmasterPid()) - postgresBefore);
    }

    /** Until the summarizer has summarized the WAL up to the last checkpoint's redo point (which the checkpoint woke it for). */
    private static void awaitSummarized(PgCluster pg) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        try (java.sql.Connection c = pg.connect(); java.sql.Statement st = c.createStatement()) {
            while (true) {
                try (java.sql.ResultSet rs = st.executeQuery(
                        "SELECT summarized_lsn >= (SELECT redo_lsn FROM pg_control_checkpoint()) FROM pg_get_wal_summarizer_state()")) {
                    if (rs.next() && rs.getBoolean(1)) {
                        return;
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("PostgreSQL's WAL summarizer did not reach the last checkpoint within 2 minutes");
                }
                Thread.sleep(5);
            }
        }
    }

    private static Backup backup(HttpClient http, String url, String type, Process server) throws Exception {
        double cpuBefore = cpuSeconds(server.pid());
        long start = System.nanoTime();
        JsonNode b = BenchSupport.backup(http, url, type);
        double wall = (System.nanoTime() - start) / 1e9;
        if (b.path("status").asText().equals("failed")) {
            throw new IllegalStateException("pgvault " + type + " backup failed: " + b.path("reason").asText());
        }
        return new Backup(b.path("id").asText(), type, wall, cpuSeconds(server.pid()) - cpuBefore, b.path("rawBytes").asLong(), b.path("storedBytes").asLong(),
                0, 0, 0);
    }

    private IncrementalBench() {
    }
}

package io.pgvault.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.core.backup.BackupChain;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.BackupRestorer;
import io.pgvault.core.backup.TablespacePlan;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
 * backup of the same state. Wall time, the server's CPU and the stored size of each; then
 * the restore of the chain (full + 3 incrementals) against the restore of the equivalent
 * full backup, both by pgvault's restorer on this machine's disk, alternated and repeated.
 *
 * <p>Usage: {@code java -cp bench/target/pgvault-bench.jar io.pgvault.bench.IncrementalBench
 * --server-jar server/target/pgvault-server.jar [--major 17] [--scale 50] [--percent 5] [--restores 5]}
 */
public final class IncrementalBench {

    private static final double MIB = BenchSupport.MIB;
    private static final ObjectMapper JSON = new ObjectMapper();

    record Backup(String id, String type, double wallSeconds, double cpuSeconds, long rawBytes, long storedBytes) {
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
        try (PgCluster pg = PgCluster.builder(major).setting("max_wal_size", "2GB").setting("checkpoint_timeout", "30min")
                .setting("summarize_wal", "on").start()) {
            String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
            shell("pgbench -i -q -s " + scale + " " + conn + " postgres");
            pg.execute("CHECKPOINT");
            long dbBytes = Long.parseLong(pg.queryValue("SELECT sum(pg_database_size(oid)) FROM pg_database"));
            long accounts = Long.parseLong(pg.queryValue("SELECT count(*) FROM pgbench_accounts"));
            System.out.printf(Locale.ROOT, "%nCluster: PostgreSQL %d, pgbench scale %d, %.0f MiB in databases; %d%% of the accounts updated "
                    + "between backups%n", major, scale, dbBytes / MIB, percent);

            Path dir = Files.createDirectories(work.resolve("pgvault"));
            int port = io.pgvault.testkit.Fixtures.freePort();
            Process server = startServer(serverJar, dir, port, "zstd", List.of());
            List<Backup> backups = new ArrayList<>();
            try {
                String url = "http://127.0.0.1:" + port;
                registerCluster(url, "{\"name\":\"bench\",\"conninfo\":\"host=127.0.0.1 port=" + pg.port() + " user=postgres\"}");
                HttpClient http = HttpClient.newHttpClient();
                backup(http, url, "full", server);  // untimed: warms the server's JIT, as a server that runs for months is
                backups.add(backup(http, url, "full", server));
                long stretch = accounts * percent / 100;
                for (int round = 0; round < 3; round++) {
                    long from = 1 + round * stretch;
                    pg.execute("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN " + from + " AND " + (from + stretch - 1));
                    backups.add(backup(http, url, "incremental", server));
                }
                backups.add(backup(http, url, "full", server));
            } finally {
                server.destroy();
                server.waitFor(30, TimeUnit.SECONDS);
            }
            // Where each backup's time went, as the server logged it (BASE_BACKUP, then the manifest).
            try (java.util.stream.Stream<String> log = Files.lines(dir.resolve("server.log"))) {
                log.filter(l -> l.contains("stored (")).map(l -> "  " + l.substring(l.indexOf("Backup "))).forEach(System.out::println);
            }

            System.out.println();
            System.out.printf(Locale.ROOT, "%-28s %-12s %8s %9s %12s %12s%n", "backup", "type", "wall s", "CPU s", "raw MiB", "stored MiB");
            for (Backup b : backups) {
                System.out.printf(Locale.ROOT, "%-28s %-12s %8.2f %9.2f %12.1f %12.1f%n", b.id(), b.type(), b.wallSeconds(), b.cpuSeconds(),
                        b.rawBytes() / MIB, b.storedBytes() / MIB);
            }
            Backup full = backups.get(0);
            double incWall = backups.subList(1, 4).stream().mapToDouble(Backup::wallSeconds).average().orElseThrow();
            double incCpu = backups.subList(1, 4).stream().mapToDouble(Backup::cpuSeconds).average().orElseThrow();
            double incStored = backups.subList(1, 4).stream().mapToLong(Backup::storedBytes).average().orElseThrow();
            System.out.printf(Locale.ROOT, "%nincremental vs full (mean of 3): %.2fx the time, %.2fx the CPU, %.1f%% of the stored size%n",
                    incWall / full.wallSeconds(), incCpu / full.cpuSeconds(), 100 * incStored / full.storedBytes());

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
            }
        } finally {
            Fixtures.deleteTree(work);
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

    private static Backup backup(HttpClient http, String url, String type, Process server) throws Exception {
        double cpuBefore = cpuSeconds(server.pid());
        long start = System.nanoTime();
        JsonNode started = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(url + "/v1/clusters/bench/backups?type=" + type))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).body());
        String id = started.path("id").asText();
        JsonNode b;
        do {
            b = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(url + "/v1/clusters/bench/backups/" + id + "?wait=300")).build(),
                    HttpResponse.BodyHandlers.ofString()).body());
        } while (b.path("status").asText().equals("running"));
        double wall = (System.nanoTime() - start) / 1e9;
        if (b.path("status").asText().equals("failed")) {
            throw new IllegalStateException("pgvault " + type + " backup failed: " + b.path("reason").asText());
        }
        return new Backup(id, type, wall, cpuSeconds(server.pid()) - cpuBefore, b.path("rawBytes").asLong(), b.path("storedBytes").asLong());
    }

    private IncrementalBench() {
    }
}

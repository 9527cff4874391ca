package io.pgvault.bench;

import static io.pgvault.bench.BenchSupport.*;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;

import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A full base backup of the same pgbench cluster, in one run, by pgvault (the server
 * runs BASE_BACKUP itself), {@code pg_basebackup -Ft --compress=client-zstd:3} and
 * {@code pgbackrest backup --type=full} (zst 3, process-max 1 and 2). No tool copies WAL
 * into the backup (pgvault keeps WAL apart; pg_basebackup -X none; pgBackRest
 * archive-copy off), all write to the same local disk.
 *
 * <p>Usage: {@code java -cp bench/target/pgvault-bench.jar io.pgvault.bench.BackupBench
 * --server-jar server/target/pgvault-server.jar [--major 15] [--scale 50]}
 */
public final class BackupBench {

    private static final double MIB = BenchSupport.MIB;

    record Figures(String name, double wallSeconds, double cpuSeconds, long storedBytes) {
    }

    private static int warmup = 1;

    public static void main(String[] args) throws Exception {
        int major = intArg(args, "--major", 15);
        int scale = intArg(args, "--scale", 50);
        // Each tool runs this many times in turn; the run with the median wall time is reported.
        int repeat = intArg(args, "--repeat", 5);
        warmup = intArg(args, "--warmup", 1);
        Path serverJar = Path.of(stringArg(args, "--server-jar", "server/target/pgvault-server.jar")).toAbsolutePath();
        Path work = Files.createTempDirectory("pgvault-backup-bench");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        OsUser.own(work);
        try (PgCluster pg = PgCluster.builder(major).setting("max_wal_size", "2GB").setting("checkpoint_timeout", "30min").start()) {
            String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
            shell("pgbench -i -q -s " + scale + " " + conn + " postgres");
            pg.execute("CHECKPOINT");
            long dbBytes = Long.parseLong(pg.queryValue("SELECT sum(pg_database_size(oid)) FROM pg_database"));
            System.out.printf(Locale.ROOT, "%nCluster: PostgreSQL %d, pgbench scale %d, %.0f MiB in databases; median of %d runs each%n", major,
                    scale, dbBytes / MIB, repeat);

            List<Figures> results = new ArrayList<>();
            results.add(pgvault(work, serverJar, pg, "zstd", repeat));
            if (System.getenv("PGVAULT_BENCH_ONLY_PGVAULT") != null) {
                System.out.println(results.get(0));
                try (Stream<String> log = Files.lines(work.resolve("pgvault-zstd/server.log"))) {
                    log.filter(l -> l.contains("BackupService")).forEach(System.out::println);
                }
                return;
            }
            if (java.util.Arrays.asList(args).contains("--encrypted")) {
                // Encrypted against unencrypted, and against pgBackRest's aes-256-cbc, in the same run.
                results.add(pgvault(work, serverJar, pg, "zstd", repeat, true));
                results.add(pgBackRest(work, pg, 1, repeat, false));
                results.add(pgBackRest(work, pg, 1, repeat, true));
                report(results, dbBytes);
                System.out.printf(Locale.ROOT, "pgvault encrypted vs unencrypted: %.2fx the time; vs pgBackRest aes-256-cbc: %.2fx as fast%n",
                        results.get(1).wallSeconds() / results.get(0).wallSeconds(), results.get(3).wallSeconds() / results.get(1).wallSeconds());
                return;
            }
            results.add(pgvault(work, serverJar, pg, "zstd:3", repeat));
            results.add(pgBaseBackup(work, pg, repeat));
            results.add(pgBackRest(work, pg, 1, repeat, false));
            results.add(pgBackRest(work, pg, 2, repeat, false));

            report(results, dbBytes);
            Figures ours = results.get(0);
            System.out.println();
            for (Figures other : results.subList(2, results.size())) {
                System.out.printf(Locale.ROOT, "pgvault (zstd 1) vs %-36s %.2fx as fast, stored size x%.2f%n", other.name() + ":",
                        other.wallSeconds() / ours.wallSeconds(), (double) ours.storedBytes() / other.storedBytes());
            }
        } finally {
            Fixtures.deleteTree(work);
        }
    }

    private static void report(List<Figures> results, long dbBytes) {
        System.out.println();
        System.out.printf(Locale.ROOT, "%-46s %8s %9s %12s %9s%n", "full backup", "wall s", "CPU s", "stored MiB", "MiB/s");
        for (Figures f : results) {
            System.out.printf(Locale.ROOT, "%-46s %8.1f %9.1f %12.1f %9.1f%n", f.name(), f.wallSeconds(), f.cpuSeconds(),
                    f.storedBytes() / MIB, dbBytes / MIB / f.wallSeconds());
        }
    }

    private static Figures pgvault(Path work, Path serverJar, PgCluster pg, String compression, int repeat) throws Exception {
        return pgvault(work, serverJar, pg, compression, repeat, false);
    }

    private static Figures pgvault(Path work, Path serverJar, PgCluster pg, String compression, int repeat, boolean encrypted) throws Exception {
        Path dir = Files.createDirectories(work.resolve("pgvault-" + compression.replace(':', '-') + (encrypted ? "-encrypted" : "")));
        int port = Fixtures.freePort();
        List<String> properties = new ArrayList<>();
        if (encrypted) {
            properties.add(encryptionProperty(dir.resolve("repo.key")));
        }
        Process server = startServer(serverJar, dir, port, compression, properties);
        try {
            String url = "http://127.0.0.1:" + port;
            HttpClient http = HttpClient.newHttpClient();
            String body = "{\"name\":\"bench\",\"conninfo\":\"host=127.0.0.1 port=" + pg.port() + " user=postgres\"}";
            registerCluster(url, body);
            // A pgvault server runs for months: warm its JIT with untimed backups first (--warmup, default 1).
            for (int i = 0; i < warmup; i++) {
                backup(http, url);
            }
            List<Figures> runs = new ArrayList<>();
            for (int i = 0; i < repeat; i++) {
                double cpuBefore = cpuSeconds(server.pid());
                long start = System.nanoTime();
                JsonNode b = backup(http, url);
                double wall = (System.nanoTime() - start) / 1e9;
                double cpu = cpuSeconds(server.pid()) - cpuBefore;
                if (b.path("status").asText().equals("failed")) {
                    throw new IllegalStateException("pgvault backup failed: " + b.path("reason").asText());
                }
                runs.add(new Figures("pgvault (" + compression + (encrypted ? ", encrypted" : "") + ")", wall, cpu, b.path("storedBytes").asLong()));
            }
            return median(runs);
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static JsonNode backup(HttpClient http, String url) throws Exception {
        return BenchSupport.backup(http, url, "full");
    }

    private static Figures median(List<Figures> runs) {
        List<Figures> sorted = new ArrayList<>(runs);
        sorted.sort(java.util.Comparator.comparingDouble(Figures::wallSeconds));
        System.out.printf(Locale.ROOT, "  %s: %s s%n", sorted.get(0).name(),
                String.join(", ", runs.stream().map(f -> String.format(Locale.ROOT, "%.2f", f.wallSeconds())).toList()));
        return sorted.get(sorted.size() / 2);
    }

    private static Figures pgBaseBackup(Path work, PgCluster pg, int repeat) throws Exception {
        List<Figures> runs = new ArrayList<>();
        for (int i = 0; i < repeat; i++) {
            Path dir = work.resolve("pg_basebackup-" + i);
            double[] t = BenchSupport.timed("pg_basebackup -h 127.0.0.1 -p " + pg.port() + " -U postgres -D " + dir
                    + " -Ft --compress=client-zstd:3 -X none -c fast --no-sync");
            runs.add(new Figures("pg_basebackup -Ft client-zstd:3", t[0], t[1], directorySize(dir)));
        }
        return median(runs);
    }

    private static Figures pgBackRest(Path work, PgCluster pg, int processes, int repeat, boolean encrypted) throws Exception {
        Path dir = Files.createDirectories(work.resolve("pgbackrest-" + processes + (encrypted ? "-encrypted" : "")));
        Path conf = dir.resolve("pgbackrest.conf");
        Files.writeString(conf, "[global]\nrepo1-path=" + dir.resolve("repo") + "\nlog-path=" + dir + "\nlock-path=" + dir
                + (encrypted ? "\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=bench-cipher-passphrase-0123456789" : "")
                + "\ncompress-type=zst\ncompress-level=3\nprocess-max=" + processes + "\nstart-fast=y\narchive-check=n\narchive-copy=n"
                + "\nlog-level-console=warn\n\n[bench]\npg1-path=" + pg.dataDirectory() + "\npg1-port=" + pg.port()
                + "\npg1-socket-path=" + pg.directory().resolve("sock") + "\npg1-user=postgres\n");
        OsUser.own(dir);
        asPgUser("pgbackrest --config=" + conf + " --stanza=bench --no-online stanza-create || pgbackrest --config=" + conf + " --stanza=bench stanza-create");
        List<Figures> runs = new ArrayList<>();
        for (int i = 0; i < repeat; i++) {
            long before = directorySize(dir.resolve("repo/backup"));
            double[] t = BenchSupport.timed(String.join(" ", OsUser.wrap(List.of("pgbackrest", "--config=" + conf, "--stanza=bench", "--type=full", "backup"))));
            // The repository keeps every run's backup: this one's size is what it added.
            runs.add(new Figures("pgBackRest full zst 3, process-max " + processes + (encrypted ? ", aes-256-cbc" : ""), t[0], t[1], directorySize(dir.resolve("repo/backup")) - before));
        }
        return median(runs);
    }
}

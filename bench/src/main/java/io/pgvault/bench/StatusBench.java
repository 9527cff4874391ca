package io.pgvault.bench;

import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.testkit.Fixtures;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static io.pgvault.bench.BenchSupport.awaitHealthy;
import static io.pgvault.bench.BenchSupport.intArg;
import static io.pgvault.bench.BenchSupport.percentile;
import static io.pgvault.bench.BenchSupport.registerCluster;
import static io.pgvault.bench.BenchSupport.startServer;
import static io.pgvault.bench.BenchSupport.stopServer;
import static io.pgvault.bench.BenchSupport.stringArg;

/**
 * What the dashboard and a scrape cost on a large catalog: one cluster with {@code --segments}
 * archived segments (default 100000, one a minute up to now, one missing near the end) and
 * {@code --backups} stored backups (default 100), written straight into the server's H2
 * catalog with H2's own shell from the server jar; then, against the running server,
 * {@code --repeat} calls (default 50, after 10 untimed) of the overview ({@code /v1/status},
 * a snapshot between changes), the cluster's page (judged afresh each time) and
 * {@code /prometheus}: median and p95 ms. None of the tools users pick instead has an
 * equivalent to compare with.
 * <pre>bench/run-status-bench.sh [--segments 100000] [--backups 100] [--repeat 50]</pre>
 */
public final class StatusBench {

    private StatusBench() {
    }

    public static void main(String[] args) throws Exception {
        Path serverJar = Path.of(stringArg(args, "--server-jar", "server/target/pgvault-server.jar")).toAbsolutePath();
        int segments = intArg(args, "--segments", 100_000);
        int backups = intArg(args, "--backups", 100);
        int repeat = intArg(args, "--repeat", 50);
        Path dir = Files.createTempDirectory("pgvault-status-bench");
        try {
            int port = Fixtures.freePort();
            String url = "http://127.0.0.1:" + port;
            Process server = startServer(serverJar, dir, port, "zstd");
            registerCluster(url, "{\"name\":\"big\",\"backupSchedule\":\"0 2 * * *\"}");
            stopServer(server);
            long started = System.nanoTime();
            fill(serverJar, dir, segments, backups);
            writeManifests(dir, segments, backups);
            System.out.printf(Locale.ROOT, "catalog filled: %d segments, %d backups in %.1f s%n", segments, backups,
                    (System.nanoTime() - started) / 1e9);
            server = startServer(serverJar, dir, port, "zstd");
            try {
                awaitHealthy(url);
                HttpClient http = HttpClient.newHttpClient();
                System.out.println("| request | median ms | p95 ms | bytes |");
                System.out.println("| --- | --- | --- | --- |");
                for (String path : List.of("/v1/status", "/v1/clusters/big/status", "/v1/clusters/big/backups", "/prometheus")) {
                    measure(http, url + path, path, repeat);
                }
            } finally {
                stopServer(server);
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /** Rows as the server writes them, in a few set-based statements. */
    private static void fill(Path serverJar, Path dir, int segments, int backups) throws Exception {
        long size = 16L << 20;
        int every = Math.max(1, segments / backups);
        String sql = String.join(" ",
                "UPDATE clusters SET system_identifier = '7441234567890123456', wal_segment_size = " + size + ", pg_major = 15 WHERE name = 'big';",
                "INSERT INTO wal_files (cluster_id, name, kind, timeline, segment_number, start_lsn, raw_size, stored_size, codec, sha256,",
                "object_key, arrived_at) SELECT c.id, CONCAT('00000001', LPAD(CAST(r.\"X\" AS VARCHAR), 16, '0')), 'SEGMENT', 1, r.\"X\", r.\"X\" * " + size + ", "
                        + size + ", " + size / 4 + ", 'zstd', REPEAT('0', 64), CONCAT('clusters/big/wal/', r.\"X\"),",
                "DATEADD(MINUTE, r.\"X\" - " + segments + ", CURRENT_TIMESTAMP) FROM SYSTEM_RANGE(1, " + segments + ") r, clusters c",
                "WHERE c.name = 'big' AND r.\"X\" <> " + (segments - 10) + ";",
                "INSERT INTO backups (cluster_id, id, status, started_at, finished_at, start_lsn, end_lsn, timeline, wal_segment_size,",
                "raw_bytes, stored_bytes, pieces) SELECT c.id, CONCAT('20260101T000000Z-', LPAD(CAST(r.\"X\" AS VARCHAR), 6, '0')), 'stored',",
                "DATEADD(MINUTE, r.\"X\" * " + every + " - " + segments + ", CURRENT_TIMESTAMP),",
                "DATEADD(MINUTE, r.\"X\" * " + every + " - " + segments + " + 2, CURRENT_TIMESTAMP),",
                "r.\"X\" * " + every + " * " + size + ", r.\"X\" * " + every + " * " + size + " + 4096, 1, " + size + ", 1073741824, 268435456, 16",
                "FROM SYSTEM_RANGE(1, " + backups + ") r, clusters c WHERE c.name = 'big';",
                "SELECT (SELECT COUNT(*) FROM wal_files) AS wal_rows, (SELECT COUNT(*) FROM backups) AS backup_rows;");
        Process shell = new ProcessBuilder("java", "-cp", serverJar.toString(), "org.h2.tools.Shell", "-url",
                "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE", "-user", "sa", "-password", "",
                "-sql", sql).redirectErrorStream(true).redirectOutput(dir.resolve("h2-shell.log").toFile()).start();
        String log = shell.waitFor() == 0 ? Files.readString(dir.resolve("h2-shell.log")) : "";
        if (!log.contains(String.valueOf(segments - 1)) || log.contains("Exception") || log.contains("Error")) {
            throw new IllegalStateException("filling the catalog failed: " + Files.readString(dir.resolve("h2-shell.log")));
        }
    }

    /**
     * The backups' manifests, as the server would have written them: at start it drops rows of
     * backups the repository does not hold (deleted by other means).
     */
    private static void writeManifests(Path dir, int segments, int backups) throws Exception {
        long size = 16L << 20;
        int every = Math.max(1, segments / backups);
        java.time.Instant now = java.time.Instant.now();
        try (LocalDirectoryStore repo = new LocalDirectoryStore(dir.resolve("repo"))) {
            for (int x = 1; x <= backups; x++) {
                String id = String.format(Locale.ROOT, "20260101T000000Z-%06d", x);
                java.time.Instant started = now.plusSeconds(60L * (x * (long) every - segments));
                long start = x * (long) every * size;
                String key = RepositoryLayout.backupPiece("big", id, "base.tar", 0);
                new BackupManifest(BackupManifest.FORMAT, id, "big", "pgvault " + id, "7441234567890123456", 15, size, 1, Lsn.of(start).toString(),
                        1, Lsn.of(start + 4096).toString(), started.toString(), started.plusSeconds(120).toString(), "zstd", 1L << 30, 1L << 28,
                        List.of(new BackupManifest.Piece("base.tar", null, 0, key, 1L << 30, 1L << 28, "0".repeat(64), 1)), null).write(repo);
            }
        }
    }

    private static void measure(HttpClient http, String url, String label, int repeat) throws Exception {
        List<Double> ms = new ArrayList<>();
        long bytes = 0;
        for (int i = 0; i < repeat + 10; i++) {
            long t0 = System.nanoTime();
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
            double elapsed = (System.nanoTime() - t0) / 1e6;
            if (r.statusCode() != 200) {
                throw new IllegalStateException(label + " answered " + r.statusCode() + ": " + r.body());
            }
            bytes = r.body().length();
            if (i >= 10) {
                ms.add(elapsed);
            }
        }
        System.out.printf(Locale.ROOT, "| GET %s | %.1f | %.1f | %d |%n", label, percentile(ms, 50), percentile(ms, 95), bytes);
    }
}

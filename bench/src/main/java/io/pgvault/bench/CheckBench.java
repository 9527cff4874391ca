package io.pgvault.bench;

import static io.pgvault.bench.BenchSupport.*;

import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * How long a DBA (or Nagios) waits for the end-to-end proof that archiving works: one
 * cluster whose archive_command pushes every segment into both a pgvault server (curl) and
 * a pgBackRest repository (archive-push), then, in turn, {@code pgvault check} (restore
 * point, forced WAL switch, the segment awaited in the catalog, plus connections, backups
 * and gaps), {@code pgvault check --no-wal-switch} and {@code pgbackrest check} (forced
 * switch, the segment awaited in its archive). Median of {@code --repeat} runs each.
 *
 * <p>Usage: {@code java -cp bench/target/pgvault-bench.jar io.pgvault.bench.CheckBench
 * --server-jar server/target/pgvault-server.jar --launcher bin/pgvault [--major 15] [--repeat 7]}
 */
public final class CheckBench {

    public static void main(String[] args) throws Exception {
        int major = intArg(args, "--major", 15);
        int repeat = intArg(args, "--repeat", 7);
        Path serverJar = Path.of(stringArg(args, "--server-jar", "server/target/pgvault-server.jar")).toAbsolutePath();
        Path launcher = Path.of(stringArg(args, "--launcher", "bin/pgvault")).toAbsolutePath();

        Path work = Files.createTempDirectory("pgvault-check-bench");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path pgvaultDir = Files.createDirectories(work.resolve("pgvault"));
        Path rest = Files.createDirectories(work.resolve("pgbackrest"));
        Path conf = rest.resolve("pgbackrest.conf");
        int port = Fixtures.freePort();
        String url = "http://127.0.0.1:" + port;
        Process server = startServer(serverJar, pgvaultDir, port, "zstd");
        try (PgCluster pg = PgCluster.builder(major)
                .setting("archive_mode", "on")
                .setting("archive_command", "curl -fsS -T %p " + url + "/v1/clusters/bench/wal/%f && pgbackrest --config=" + conf
                        + " --stanza=bench archive-push %p")
                .start()) {
            Files.writeString(conf, "[global]\nrepo1-path=" + rest.resolve("repo") + "\nlog-path=" + rest + "\nlock-path=" + rest
                    + "\nspool-path=" + rest + "\ncompress-type=zst\nlog-level-console=warn\narchive-timeout=60\n\n[bench]\npg1-path="
                    + pg.dataDirectory() + "\npg1-port=" + pg.port() + "\npg1-socket-path=" + pg.directory().resolve("sock")
                    + "\npg1-user=postgres\n");
            OsUser.own(rest);
            asPgUser("pgbackrest --config=" + conf + " --stanza=bench stanza-create");
            registerCluster(url, "{\"name\":\"bench\",\"conninfo\":\"host=127.0.0.1 port=" + pg.port() + " user=postgres\"}");
            shell(launcher + " backup bench --wait --server " + url);

            List<Double> proof = new ArrayList<>();
            List<Double> look = new ArrayList<>();
            List<Double> theirs = new ArrayList<>();
            List<Double> serverOnly = new ArrayList<>();
            for (int i = 0; i < repeat + 1; i++) {
                // Some WAL between runs, as a live cluster has: each switch then closes a segment.
                pg.execute("CREATE TABLE IF NOT EXISTS t (x int)", "INSERT INTO t SELECT generate_series(1, 1000)");
                double a = timed(() -> shell(launcher + " check bench --server " + url));
                double b = timed(() -> shell(launcher + " check bench --no-wal-switch --server " + url));
                double d = timed(() -> shell("curl -fsS -o /dev/null " + url + "/v1/clusters/bench/check"));
                pg.execute("INSERT INTO t SELECT generate_series(1, 1000)");
                double c = timed(() -> asPgUser("pgbackrest --config=" + conf + " --stanza=bench check"));
                if (i > 0) {  // the first round warms the server's JIT and the file cache
                    proof.add(a);
                    look.add(b);
                    theirs.add(c);
                    serverOnly.add(d);
                }
            }
            double ours = median(proof);
            double pgbackrest = median(theirs);
            System.out.printf(Locale.ROOT, "%nPostgreSQL %d, %d runs each (median, first round not counted)%n", major, repeat);
            System.out.printf(Locale.ROOT, "%-52s %8.0f ms%n", "pgvault check (restore point + WAL switch, all checks)", ours);
            System.out.printf(Locale.ROOT, "%-52s %8.0f ms%n", "pgvault check --no-wal-switch", median(look));
            System.out.printf(Locale.ROOT, "%-52s %8.0f ms%n", "  of which the server's answer (curl GET .../check)", median(serverOnly));
            System.out.printf(Locale.ROOT, "%-52s %8.0f ms%n", "pgbackrest check (WAL switch, archive)", pgbackrest);
            System.out.printf(Locale.ROOT, "%npgvault check / pgbackrest check: %.2fx the time%n", ours / pgbackrest);
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
            Fixtures.deleteTree(work);
        }
    }

    interface Step {
        void run() throws Exception;
    }

    private static double timed(Step step) throws Exception {
        long start = System.nanoTime();
        step.run();
        return (System.nanoTime() - start) / 1e6;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}

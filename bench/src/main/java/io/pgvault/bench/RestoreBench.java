package io.pgvault.bench;

import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.S3ProxyFixture;

import java.io.IOException;
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
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.pgvault.bench.BenchSupport.copyArchivingPrimary;
import static io.pgvault.bench.BenchSupport.asPgUser;
import static io.pgvault.bench.BenchSupport.intArg;
import static io.pgvault.bench.BenchSupport.pgbenchWalCorpus;
import static io.pgvault.bench.BenchSupport.registerCluster;
import static io.pgvault.bench.BenchSupport.shell;
import static io.pgvault.bench.BenchSupport.startServer;
import static io.pgvault.bench.BenchSupport.stringArg;

/**
 * restore_command cost per segment, the way PostgreSQL calls it (serially, one command
 * per segment, from the data directory, as the server's OS user), on the same pgbench
 * WAL archived by pgvault and by pgBackRest, in one run:
 * <ul>
 *   <li>pgvault wal-fetch from the repository, one JVM per call (--no spool),</li>
 *   <li>pgvault wal-fetch with the prefetch spool (the first call starts the prefetcher),</li>
 *   <li>curl against the pgvault server,</li>
 *   <li>pgBackRest archive-get, plain and with archive-async (its own prefetch queue).</li>
 * </ul>
 * The loop does nothing between calls, so a prefetcher gets no replay time to run ahead:
 * a pessimistic figure for prefetching. {@code --storage s3} keeps both archives in one
 * bucket of an S3 API over HTTPS ({@link BenchS3}); {@code --s3-rtt-ms N} adds a round trip.
 */
public final class RestoreBench {

    /** @param callMs each call's duration, in order */
    record Figures(String name, int files, double wallSeconds, List<Double> callMs) {
        double msPerCall() {
            return callMs.stream().mapToDouble(Double::doubleValue).sum() / callMs.size();
        }

        double median() {
            List<Double> sorted = callMs.stream().sorted().toList();
            return sorted.get(sorted.size() / 2);
        }

        /** Calls after the first: what a long recovery sees once the prefetcher is up. */
        double msPerLaterCall() {
            return callMs.stream().skip(1).mapToDouble(Double::doubleValue).sum() / (callMs.size() - 1);
        }
    }

    public static void main(String[] args) throws Exception {
        int major = intArg(args, "--major", 15);
        int scale = intArg(args, "--scale", 20);
        int seconds = intArg(args, "--seconds", 30);
        Path serverJar = Path.of(stringArg(args, "--server-jar", "server/target/pgvault-server.jar")).toAbsolutePath();
        Path launcher = Path.of(stringArg(args, "--launcher", "bin/pgvault")).toAbsolutePath();
        String storage = stringArg(args, "--storage", "local");
        if (!storage.equals("local") && !storage.equals("s3")) {
            throw new IllegalArgumentException("--storage local or s3, not " + storage);
        }
        int roundTripMs = intArg(args, "--s3-rtt-ms", 0);

        Path work = Files.createTempDirectory("pgvault-restore-bench");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path corpus = Files.createDirectories(work.resolve("corpus"));
        OsUser.own(work);
        BenchS3 s3 = storage.equals("s3") ? BenchS3.start(work.resolve("tls"), roundTripMs) : null;
        try (PgCluster pg = copyArchivingPrimary(major, corpus)) {
            List<Path> files = pgbenchWalCorpus(pg, corpus, scale, seconds);
            System.out.printf(Locale.ROOT, "%nWAL corpus: %d segments (pgbench scale %d, %d s, PostgreSQL %d); repositories: %s%n", files.size(),
                    scale, seconds, major, s3 == null ? "local directories" : s3.describe());

            Path serverDir = Files.createDirectories(work.resolve("pgvault"));
            int port = Fixtures.freePort();
            Process server = startServer(serverJar, serverDir, port, "zstd", s3 == null ? List.of() : s3.serverProperties("pgvault"));
            List<Figures> results = new ArrayList<>();
            try {
                String url = "http://127.0.0.1:" + port;
                registerCluster(url, "{\"name\":\"bench\"}");
                for (Path f : files) {
                    asPgUser("curl -fsS -o /dev/null -T " + f + " " + url + "/v1/clusters/bench/wal/" + f.getFileName());
                }
                String repository;
                if (s3 == null) {
                    // The server keeps its data directory and the repository in it to its own user; PostgreSQL's user reads them here.
                    shell("chmod a+rX " + serverDir + " && chmod -R a+rX " + serverDir.resolve("repo"));
                    repository = "--repo " + serverDir.resolve("repo").toUri();
                } else {
                    // wal-fetch reads credentials from a file, as recover writes it.
                    Path credentials = work.resolve("s3.credentials");
                    Files.writeString(credentials, "access-key=" + S3ProxyFixture.ACCESS_KEY + "\nsecret-key=" + S3ProxyFixture.SECRET_KEY + "\n");
                    OsUser.own(credentials);
                    repository = String.join(" ", s3.walFetchArguments("pgvault", credentials));
                }
                List<String> names = files.stream().map(p -> p.getFileName().toString()).toList();
                String fetch = launcher + " wal-fetch " + repository + " --cluster bench";
                results.add(loop(work, "pgvault wal-fetch, JVM per call", names, fetch + " %f %p"));
                results.add(loop(work, "pgvault wal-fetch + prefetch spool", names, fetch + " --spool pg_wal/pgvault-spool %f %p"));
                results.add(loop(work, "pgvault wal-fetch + spool, paced 150 ms", names, fetch + " --spool pg_wal/pgvault-spool %f %p", 150,
                        "pgvault paced"));
                if (System.getenv("PGVAULT_BENCH_VERBOSE") != null) {
                    Path log = work.resolve("data-pgvaultwalfetchprefetchspool/pg_wal/pgvault-spool/prefetch.log");
                    System.out.println(Files.exists(log) ? Files.readString(log) : "no prefetch log");
                }
                // A long-running server is warm: one untimed pass first, as in the archive bench.
                loop(work, "curl warm-up", names, "curl -fsS -o %p " + url + "/v1/clusters/bench/wal/%f");
                results.add(loop(work, "curl GET from the pgvault server", names, "curl -fsS -o %p " + url + "/v1/clusters/bench/wal/%f"));
                // README's restore_command: the same spool, the objects read through the server rather than from the repository.
                results.add(loop(work, "pgvault wal-fetch --server + spool", names, launcher + " wal-fetch --server " + url
                        + " --cluster bench --spool pg_wal/pgvault-spool %f %p"));
            } finally {
                server.destroy();
                server.waitFor(30, TimeUnit.SECONDS);
            }
            if (System.getenv("PGVAULT_BENCH_ONLY_PGVAULT") == null) {
                List<String> names = files.stream().map(p -> p.getFileName().toString()).toList();
                for (boolean async : new boolean[] {false, true}) {
                    String name = "pgBackRest archive-get" + (async ? " (async)" : "");
                    Path data = dataDirectory(work, name);
                    // pgBackRest insists on running in its pg1-path: give it the loop's directory, with the cluster's pg_control.
                    Files.createDirectories(data.resolve("global"));
                    Files.copy(pg.dataDirectory().resolve("global/pg_control"), data.resolve("global/pg_control"));
                    Files.copy(pg.dataDirectory().resolve("PG_VERSION"), data.resolve("PG_VERSION"));
                    Path conf = pgbackrest(work, pg, files, async, data, s3);
                    results.add(loop(work, name, names, "pgbackrest --config=" + conf + " --stanza=bench archive-get %f %p"));
                    if (async) {
                        results.add(loop(work, name + ", paced 150 ms", names, "pgbackrest --config=" + conf
                                + " --stanza=bench archive-get %f %p", 150, name));
                    }
                }
            }

            System.out.println();
            System.out.printf(Locale.ROOT, "%-38s %10s %10s %12s %14s%n", "restore_command", "ms/call", "segs/s", "median ms",
                    "ms/call after 1st");
            for (Figures f : results) {
                System.out.printf(Locale.ROOT, "%-38s %10.1f %10.1f %12.1f %14.1f%n", f.name(), f.msPerCall(), 1000 / f.msPerCall(), f.median(),
                        f.msPerLaterCall());
            }
            if (results.size() >= 8) {
                // Steady state: calls after the first (which starts the prefetcher, ~0.7 s, once per recovery).
                Figures spool = results.get(1);
                Figures paced = results.get(2);
                System.out.printf(Locale.ROOT, "back to back: pgvault wal-fetch + spool per call after the 1st = %.2fx pgBackRest archive-get's, "
                        + "%.2fx its async mode's%n", spool.msPerLaterCall() / results.get(5).msPerLaterCall(),
                        spool.msPerLaterCall() / results.get(6).msPerLaterCall());
                System.out.printf(Locale.ROOT, "paced like a replay: pgvault wal-fetch + spool per call after the 1st = %.2fx pgBackRest "
                        + "archive-get's, %.2fx its async mode's (paced); medians %.1f vs %.1f and %.1f ms%n",
                        paced.msPerLaterCall() / results.get(5).msPerLaterCall(), paced.msPerLaterCall() / results.get(7).msPerLaterCall(),
                        paced.median(), results.get(5).median(), results.get(7).median());
                Figures get = results.get(5);
                BenchSummary.add("restore_command p50: wal-fetch --spool / archive-get", "ms", spool.median(), get.median(), BenchSummary.Goal.NONE);
                BenchSummary.add("restore_command back to back, after the 1st: wal-fetch --spool / archive-get", "segs/s",
                        1000 / spool.msPerLaterCall(), 1000 / get.msPerLaterCall(), BenchSummary.Goal.atLeast(60));
                BenchSummary.add("restore_command paced like a replay, per call after the 1st / archive-get", "ms", paced.msPerLaterCall(),
                        get.msPerLaterCall(), BenchSummary.Goal.ratioAtMost(0.25));
                BenchSummary.add("restore_command p50 without the spool (a JVM per call) / archive-get", "ms", results.get(0).median(),
                        get.median(), BenchSummary.Goal.NONE);
                Figures throughServer = results.get(4);
                BenchSummary.add("restore_command back to back, after the 1st: wal-fetch --server --spool / archive-get", "segs/s",
                        1000 / throughServer.msPerLaterCall(), 1000 / get.msPerLaterCall(), BenchSummary.Goal.atLeast(60));
            }
        } finally {
            if (s3 != null) {
                s3.close();
            }
            Fixtures.deleteTree(work);
        }
    }

    /** A fake data directory in archive recovery; the loop runs as the PostgreSQL OS user, one command per segment, like the startup process. */
    private static Path dataDirectory(Path work, String name) throws IOException {
        Path data = Files.createDirectories(work.resolve("data-" + name.toLowerCase(Locale.ROOT).replaceAll("[^a-z]", "")));
        Files.createDirectories(data.resolve("pg_wal"));
        Files.writeString(data.resolve("recovery.signal"), "");
        return data;
    }

    private static Figures loop(Path work, String name, List<String> files, String template) throws Exception {
        return loop(work, name, files, template, 0, name);
    }

    /**
     * @param paceMs pause after each call, standing in for PostgreSQL replaying the segment
     *     (about 150 ms per pgbench segment here): a prefetcher works during it, as in a real
     *     recovery. Only the calls are timed.
     */
    /** @param directory names the data directory (pgBackRest must run in the one its configuration names) */
    private static Figures loop(Path work, String name, List<String> files, String template, int paceMs, String directory) throws Exception {
        Path data = dataDirectory(work, directory);
        Files.deleteIfExists(data.resolve("times.txt"));
        Path list = data.resolve("files.txt");
        Files.write(list, files);
        Path script = data.resolve("loop.sh");
        String command = template.replace("%f", "\"$f\"").replace("%p", "pg_wal/RECOVERYXLOG");
        // $EPOCHREALTIME (bash 5) stamps each call without forking a process.
        Files.writeString(script, "cd " + data + "\nwhile read -r f; do\n  s=$EPOCHREALTIME\n  " + command
                + " || { echo \"failed on $f\" >&2; exit 1; }\n  echo \"$s $EPOCHREALTIME\" >> times.txt\n  rm -f pg_wal/RECOVERYXLOG\n"
                + (paceMs > 0 ? "  sleep " + paceMs / 1000.0 + "\n" : "") + "done < files.txt\n");
        OsUser.own(data);
        long start = System.nanoTime();
        asPgUser("bash " + script);
        double wall = (System.nanoTime() - start) / 1e9;
        Files.deleteIfExists(data.resolve("recovery.signal"));
        List<Double> calls = new ArrayList<>();
        for (String line : Files.readAllLines(data.resolve("times.txt"))) {
            String[] t = line.split(" ");
            calls.add(1000 * (Double.parseDouble(t[1]) - Double.parseDouble(t[0])));
        }
        return new Figures(name, files.size(), wall, calls);
    }

    /** Pushes the corpus with a configuration on the real cluster; returns one for archive-get whose pg1-path is {@code getDirectory}. */
    private static Path pgbackrest(Path work, PgCluster pg, List<Path> files, boolean async, Path getDirectory, BenchS3 s3) throws Exception {
        String name = "pgbackrest" + (async ? "-async" : "");
        Path dir = Files.createDirectories(work.resolve(name));
        Path conf = dir.resolve("pgbackrest.conf");
        String repository = s3 == null ? "repo1-path=" + dir.resolve("repo") + "\n" : s3.pgbackrestRepository(name);
        Files.writeString(conf, "[global]\n" + repository + "log-path=" + dir + "\nlock-path=" + dir
                + "\nspool-path=" + dir.resolve("spool") + "\ncompress-type=zst\ncompress-level=3\nlog-level-console=warn\n"
                + (async ? "archive-async=y\narchive-get-queue-max=128MiB\n" : "")
                + "\n[bench]\npg1-path=" + pg.dataDirectory() + "\npg1-port=" + pg.port() + "\npg1-socket-path="
                + pg.directory().resolve("sock") + "\npg1-user=postgres\n");
        OsUser.own(dir);
        asPgUser("pgbackrest --config=" + conf + " --stanza=bench stanza-create");
        for (Path f : files) {
            asPgUser("pgbackrest --config=" + conf + " --stanza=bench --no-archive-async archive-push " + f);
        }
        Path getConf = dir.resolve("pgbackrest-get.conf");
        Files.writeString(getConf, Files.readString(conf).replace("pg1-path=" + pg.dataDirectory(), "pg1-path=" + getDirectory));
        OsUser.own(dir);
        return getConf;
    }
}

package io.pgvault.bench;

import static io.pgvault.bench.BenchSupport.*;

import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RPO of continuous archiving: how long (and how many WAL bytes) a commit stays at risk
 * before it is durable outside the primary, under a steady pgbench load, for
 * <ul>
 *   <li>pgvault streaming into its repository (flush interval 1 s or 4 MiB, zstd),</li>
 *   <li>{@code pg_receivewal --synchronous} writing to a local directory (fsync after each write),</li>
 *   <li>{@code archive_command} alone (curl into the pgvault server): a commit is safe once its segment is archived.</li>
 * </ul>
 * A probe commits a row every 50 ms and notes its time and LSN; a poller samples the
 * durable position every 10 ms (pgvault: what the server reports stored; pg_receivewal:
 * its flush_lsn in pg_stat_replication, sent right after each fsync; archive_command: the
 * end of the last archived segment). pgvault runs twice: with the default flush interval
 * (1 s) and with 200 ms. Then a bulk load (one large INSERT) measures throughput: WAL
 * bytes over the time from its start until the copy caught up.
 *
 * <p>Usage: {@code java -cp bench/target/pgvault-bench.jar io.pgvault.bench.StreamingBench
 * --server-jar server/target/pgvault-server.jar [--major 15] [--seconds 20] [--rate 200]}
 */
public final class StreamingBench {

    record Sample(long nanos, Lsn durable) {
    }

    record Probe(long nanos, Lsn lsn) {
    }

    record Figures(String name, int probes, int neverDurable, double p50Ms, double p99Ms, double maxMs, double p50Bytes, double p99Bytes,
                   double burstWalMiB, double burstSeconds, double catchUpSeconds) {
    }

    /** Reads the durable position of one contender. */
    @FunctionalInterface
    interface Durable {
        Lsn read() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        int major = intArg(args, "--major", 15);
        int seconds = intArg(args, "--seconds", 20);
        int rate = intArg(args, "--rate", 200);
        Path serverJar = Path.of(stringArg(args, "--server-jar", "server/target/pgvault-server.jar")).toAbsolutePath();
        Path work = Files.createTempDirectory("pgvault-streaming-bench");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        try {
            List<Figures> results = new ArrayList<>();
            results.add(pgvaultStreaming(work.resolve("pgvault"), serverJar, major, seconds, rate, "1s"));
            results.add(pgvaultStreaming(work.resolve("pgvault-200ms"), serverJar, major, seconds, rate, "200ms"));
            results.add(pgReceivewal(work.resolve("receivewal"), major, seconds, rate));
            results.add(archiveCommand(work.resolve("archive"), serverJar, major, seconds, rate));

            System.out.println();
            System.out.printf(Locale.ROOT, "RPO under pgbench -R %d (PostgreSQL %d, %d s, probe commit every 50 ms, durable position sampled every 10 ms)%n",
                    rate, major, seconds);
            System.out.printf(Locale.ROOT, "%-36s %7s %9s %9s %9s %11s %11s %10s %9s%n", "", "probes", "p50 ms", "p99 ms", "max ms", "p50 bytes",
                    "p99 bytes", "not safe", "MiB/s");
            for (Figures f : results) {
                System.out.printf(Locale.ROOT, "%-36s %7d %9s %9s %9s %11.0f %11.0f %10s %9.1f%n", f.name(), f.probes(), ms(f.p50Ms()), ms(f.p99Ms()),
                        ms(f.maxMs()), f.p50Bytes(), f.p99Bytes(), f.neverDurable() == 0 ? "0" : f.neverDurable() + " (" + 100 * f.neverDurable() / f.probes() + "%)",
                        f.burstWalMiB() / f.catchUpSeconds());
            }
            System.out.println();
            for (Figures f : results) {
                System.out.printf(Locale.ROOT, "bulk load, %s: %.0f MiB of WAL written in %.1f s (%.1f MiB/s by PostgreSQL), durable after %.1f s%n", f.name(),
                        f.burstWalMiB(), f.burstSeconds(), f.burstWalMiB() / f.burstSeconds(), f.catchUpSeconds());
            }
            Figures pv = results.get(0);
            Figures fast = results.get(1);
            Figures receivewal = results.get(2);
            Figures archive = results.get(3);
            System.out.printf(Locale.ROOT, "%nratios, p50 RPO in ms: pgvault %.0fx pg_receivewal --synchronous (200 ms flush: %.0fx); "
                    + "archive_command made %d%% of the probes safe within the %d s run, pgvault %d%%%n", pv.p50Ms() / receivewal.p50Ms(),
                    fast.p50Ms() / receivewal.p50Ms(), 100 * (archive.probes() - archive.neverDurable()) / archive.probes(), seconds,
                    100 * (pv.probes() - pv.neverDurable()) / pv.probes());
            System.out.printf(Locale.ROOT, "ratios, p50 bytes at risk: pgvault %.3fx archive_command, %.0fx pg_receivewal%n",
                    pv.p50Bytes() / archive.p50Bytes(), pv.p50Bytes() / Math.max(1, receivewal.p50Bytes()));
        } finally {
            Fixtures.deleteTree(work);
        }
    }

    private static Figures pgvaultStreaming(Path dir, Path serverJar, int major, int seconds, int rate, String flushInterval) throws Exception {
        Files.createDirectories(dir);
        int port = Fixtures.freePort();
        Process server = startServer(serverJar, dir, port, "zstd", List.of("pgvault.streaming.flush-interval=" + flushInterval));
        try (PgCluster pg = PgCluster.builder(major).setting("max_wal_size", "1GB").start()) {
            String url = "http://127.0.0.1:" + port;
            registerCluster(url, "{\"name\":\"main\",\"stream\":true,\"conninfo\":\"host=127.0.0.1 port=" + pg.port() + " user=postgres\"}");
            HttpClient http = HttpClient.newHttpClient();
            HttpRequest status = HttpRequest.newBuilder(URI.create(url + "/v1/clusters/main/stream")).build();
            Pattern flushed = Pattern.compile("\"flushedLsn\":\"([0-9A-F]+/[0-9A-F]+)\"");
            return measure("pgvault streaming, flush " + flushInterval, pg, seconds, rate, false, () -> {
                Matcher m = flushed.matcher(http.send(status, HttpResponse.BodyHandlers.ofString()).body());
                return m.find() ? Lsn.parse(m.group(1)) : Lsn.INVALID;
            });
        } finally {
            server.destroy();
            server.waitFor();
        }
    }

    private static Figures pgReceivewal(Path dir, int major, int seconds, int rate) throws Exception {
        Files.createDirectories(dir.resolve("wal"));
        try (PgCluster pg = PgCluster.builder(major).setting("max_wal_size", "1GB").start()) {
            String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
            shell("pg_receivewal " + conn + " --slot=bench --create-slot");
            Process receiver = new ProcessBuilder("bash", "-c", "exec pg_receivewal " + conn + " -D " + dir.resolve("wal") + " --slot=bench --synchronous")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("receivewal.log").toFile()).start();
            try (Connection c = pg.connect()) {
                return measure("pg_receivewal --synchronous", pg, seconds, rate, false, () -> {
                    try (Statement st = c.createStatement();
                         ResultSet rs = st.executeQuery("SELECT flush_lsn FROM pg_stat_replication WHERE application_name = 'pg_receivewal'")) {
                        return rs.next() && rs.getString(1) != null ? Lsn.parse(rs.getString(1)) : Lsn.INVALID;
                    }
                });
            } finally {
                receiver.destroy();
                receiver.waitFor();
            }
        }
    }

    private static Figures archiveCommand(Path dir, Path serverJar, int major, int seconds, int rate) throws Exception {
        Files.createDirectories(dir);
        int port = Fixtures.freePort();
        Process server = startServer(serverJar, dir, port, "zstd");
        String url = "http://127.0.0.1:" + port;
        try (PgCluster pg = PgCluster.builder(major).setting("max_wal_size", "1GB").setting("archive_mode", "on")
                .setting("archive_command", "curl -fsS -T %p " + url + "/v1/clusters/main/wal/%f").start()) {
            registerCluster(url, "{\"name\":\"main\"}");
            try (Connection c = pg.connect()) {
                return measure("archive_command (curl to pgvault)", pg, seconds, rate, true, () -> {
                    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT last_archived_wal FROM pg_stat_archiver")) {
                        String last = rs.next() ? rs.getString(1) : null;
                        if (last == null || !last.matches("[0-9A-F]{24}")) {
                            return Lsn.INVALID;
                        }
                        WalFileName name = WalFileName.parse(last);
                        return name.startLsn(WalSegmentSize.DEFAULT).plus(WalSegmentSize.DEFAULT.bytes());
                    }
                });
            }
        } finally {
            server.destroy();
            server.waitFor();
        }
    }

    /** Steady load with probes, then a burst; the durable position sampled throughout. */
    /** @param wholeSegments the copy takes only complete segments (archive_command): switch before waiting for it */
    private static Figures measure(String name, PgCluster pg, int seconds, int rate, boolean wholeSegments, Durable durable) throws Exception {
        String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
        shell("pgbench -i -q -s 10 " + conn + " postgres");
        pg.execute("CREATE TABLE probe (at timestamptz)");
        if (wholeSegments) {
            pg.queryValue("SELECT pg_switch_wal()");
        }
        // Let the copy catch up with the initialization before measuring.
        Lsn initialized = Lsn.parse(pg.queryValue("SELECT pg_current_wal_lsn()"));
        awaitDurable(durable, initialized, 120);

        List<Sample> samples = new CopyOnWriteArrayList<>();
        AtomicBoolean sampling = new AtomicBoolean(true);
        Thread poller = new Thread(() -> {
            while (sampling.get()) {
                try {
                    samples.add(new Sample(System.nanoTime(), durable.read()));
                    Thread.sleep(10);
                } catch (Exception e) {
                    // a failed read is a missing sample
                }
            }
        });
        poller.start();
        List<Probe> probes = new ArrayList<>();
        Process load = new ProcessBuilder("bash", "-c", "pgbench -n -T " + seconds + " -R " + rate + " -c 2 -j 2 " + conn + " postgres")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try (Connection c = pg.connect(); Statement st = c.createStatement()) {
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            while (System.nanoTime() < end) {
                st.execute("INSERT INTO probe VALUES (now())");
                long at = System.nanoTime();
                try (ResultSet rs = st.executeQuery("SELECT pg_current_wal_insert_lsn()")) {
                    rs.next();
                    probes.add(new Probe(at, Lsn.parse(rs.getString(1))));
                }
                Thread.sleep(50);
            }
        }
        load.waitFor();
        Thread.sleep(3000);

        // Bulk load: MiB/s is the WAL written over the time until all of it was durable.
        Lsn burstStart = Lsn.parse(pg.queryValue("SELECT pg_current_wal_lsn()"));
        long burstBegan = System.nanoTime();
        pg.execute("CREATE TABLE bulk AS SELECT g AS id, repeat(md5(g::text), 4) AS v FROM generate_series(1, 1500000) g");
        double burstSeconds = (System.nanoTime() - burstBegan) / 1e9;
        Lsn burstEnd = Lsn.parse(pg.queryValue("SELECT pg_current_wal_lsn()"));
        if (wholeSegments) {
            // archive_command ships whole segments: the tail is only safe once switched out.
            pg.queryValue("SELECT pg_switch_wal()");
        }
        double catchUp = awaitDurable(durable, burstEnd, 300) - (burstBegan / 1e9);
        sampling.set(false);
        poller.join();

        List<Double> delays = new ArrayList<>();
        List<Double> bytes = new ArrayList<>();
        int never = 0;
        for (Probe p : probes) {
            Sample safe = samples.stream().filter(s -> s.nanos() >= p.nanos() && !s.durable().isBefore(p.lsn())).findFirst().orElse(null);
            Sample atCommit = samples.stream().filter(s -> s.nanos() <= p.nanos()).reduce((a, b) -> b).orElse(null);
            if (safe == null || safe.nanos() > burstBegan) {
                never++;
            } else {
                delays.add((safe.nanos() - p.nanos()) / 1e6);
            }
            if (atCommit != null && atCommit.durable().isValid()) {
                bytes.add((double) Math.max(0, p.lsn().value() - atCommit.durable().value()));
            }
        }
        double burstMiB = (burstEnd.value() - burstStart.value()) / MIB;
        System.out.printf(Locale.ROOT, "%s: %d probes, %d not durable before the burst; %d samples%n", name, probes.size(), never, samples.size());
        return new Figures(name, probes.size(), never, percentile(delays, 50), percentile(delays, 99), percentile(delays, 100),
                percentile(bytes, 50), percentile(bytes, 99), burstMiB, burstSeconds, catchUp);
    }

    /** Waits until the durable position reaches {@code target}; returns when, in seconds on the nanoTime clock. */
    private static double awaitDurable(Durable durable, Lsn target, int timeoutSeconds) throws Exception {
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            Lsn now = durable.read();
            if (now.isValid() && !now.isBefore(target)) {
                return System.nanoTime() / 1e9;
            }
            Thread.sleep(10);
        }
        throw new IllegalStateException("the durable position did not reach " + target + " within " + timeoutSeconds + " s");
    }

    /** A delay, or "-" when no probe became safe during the run. */
    private static String ms(double value) {
        return Double.isNaN(value) ? "-" : String.format(Locale.ROOT, "%.0f", value);
    }
}

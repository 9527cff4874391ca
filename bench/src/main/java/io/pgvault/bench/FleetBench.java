package io.pgvault.bench;

import static io.pgvault.bench.BenchSupport.*;

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
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Fleet scale (issue #20): one pgvault server with many registered clusters, all archiving
 * at once, then two servers sharing the load, on a catalog in a real PostgreSQL.
 * <ol>
 *   <li>A corpus of real pgbench segments; every cluster gets each of them once, in order,
 *       under its own name (pgvault checks a segment's name against its page headers, so
 *       they keep their real names; each cluster is a separate archive). The first segment
 *       (which fixes a cluster's identity, a path of its own in the server) goes into every
 *       cluster in a phase of its own; the rest is cut in three parts, one per phase below.</li>
 *   <li>Server A ({@code -Xmx512m}), warmed by the corpus pushed untimed into clusters
 *       removed afterwards; heap after a full GC and RSS with no cluster, then with
 *       {@code --clusters} registered and idle (their leases taken, and the lease rounds each
 *       registration queued run: the catalog quiet again): the cost of an idle cluster, with
 *       the server's CPU and the catalog's transactions per second meanwhile.</li>
 *   <li>Saturated: the first part into every cluster at once, a fixed pool of
 *       {@code --pushers} taking the pushes segment by segment across the clusters (so each
 *       cluster's arrive in order), as fast as they go: the fleet's throughput, p50/p99, peak
 *       heap and RSS, the live heap after it; then one cluster at a time with the same pushers
 *       (fresh clusters one after the other, each getting the whole corpus).</li>
 *   <li>At one rate, {@code --load} (0.6) of the fleet's throughput or {@code --rate}: the
 *       second part into every cluster, then one cluster at a time. This is the issue's
 *       comparison: at saturation the latency is the pushers' queue whatever the number of
 *       clusters, and a paced single cluster against an unpaced fleet compares a queue with
 *       none.</li>
 *   <li>Two servers on the same catalog and repository: server B starts (warmed as A was), the leases are
 *       counted after 20 s, and the third part goes into every cluster at the same rate, each
 *       cluster's through one server (odd clusters A, even B).</li>
 *   <li>The catalog's size, table by table.</li>
 * </ol>
 * Pushes come from HTTP clients in this JVM ({@link HttpPushers}), not a curl per push.
 *
 * <p>Usage: {@code java -cp bench/target/pgvault-bench.jar io.pgvault.bench.FleetBench
 * --server-jar server/target/pgvault-server.jar [--clusters 200] [--segments 13] [--pushers 16]
 * [--load 0.6 | --rate N] [--baseline-pushes 300] [--heap 512m] [--major 15] [--scale 20] [--seconds 10]
 * [--idle-seconds 10] [--warmup 3] [--storage local|s3] [--no-two-servers]}
 */
public final class FleetBench {

    /** One server's share of a phase: its CPU and memory peaks meanwhile. */
    record ServerRun(String id, double cpuSeconds, ServerMemory.Peaks memory) {
    }

    /** One round of pushes. */
    record Phase(String name, int activeClusters, HttpPushers.Outcome outcome, long rawBytes, List<ServerRun> servers) {
    }

    /** A server this bench started. */
    record Server(String id, String url, Process process, Path dir) {
    }

    /**
     * Catalog transactions per registered cluster per second below which the servers count as
     * idle: an idle cluster costs a schedule look-up a second and a lease renewal every 5 s.
     */
    static final double QUIET_PER_CLUSTER = 3;

    private FleetBench() {
    }

    public static void main(String[] args) throws Exception {
        Path serverJar = Path.of(stringArg(args, "--server-jar", "server/target/pgvault-server.jar")).toAbsolutePath();
        // The box may be shared: the load average says how much the figures can be trusted.
        System.out.println("load average at the start: " + Files.readString(Path.of("/proc/loadavg")).trim());
        Path work = Files.createTempDirectory("pgvault-fleet-bench");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        OsUser.own(work);
        try {
            List<Path> corpus = corpus(work, args);
            String storage = stringArg(args, "--storage", "local");
            if (!storage.equals("local") && !storage.equals("s3")) {
                throw new IllegalArgumentException("--storage local or s3, not " + storage);
            }
            try (FleetCatalog catalog = FleetCatalog.start(17);
                 BenchS3 s3 = storage.equals("s3") ? BenchS3.start(work.resolve("tls"), 0) : null) {
                List<String> repository = s3 != null ? s3.serverProperties("fleet")
                        : List.of("pgvault.repository.url=" + work.resolve("repo").toUri());
                FleetReport report = new FleetReport(intArg(args, "--clusters", 200), corpus.size(), intArg(args, "--pushers", 16),
                        stringArg(args, "--heap", "512m"), catalog.major(), s3 != null ? s3.describe() : "local directory");
                run(work, serverJar, corpus, catalog, repository, report, args);
                report.repositoryBytes = s3 != null ? -1 : directorySize(work.resolve("repo"));
                report.print();
            }
            System.out.println("\nload average at the end: " + Files.readString(Path.of("/proc/loadavg")).trim());
        } finally {
            Fixtures.deleteTree(work);
        }
    }

    /** Real pgbench segments, from a PostgreSQL stopped once they are archived. */
    private static List<Path> corpus(Path work, String[] args) throws Exception {
        int major = intArg(args, "--major", 15);
        Path corpus = Files.createDirectories(work.resolve("corpus"));
        OsUser.own(corpus);
        try (PgCluster pg = copyArchivingPrimary(major, corpus)) {
            List<Path> files = pgbenchWalCorpus(pg, corpus, intArg(args, "--scale", 20), intArg(args, "--seconds", 10),
                    intArg(args, "--segments", 13));
            System.out.printf(Locale.ROOT, "Corpus: %d segments, %.0f MiB of pgbench WAL from PostgreSQL %d%n", files.size(),
                    totalSize(files) / MIB, major);
            return files;
        }
    }

    private static void run(Path work, Path serverJar, List<Path> corpus, FleetCatalog catalog, List<String> repository, FleetReport report,
            String[] args) throws Exception {
        int pushers = report.pushers;
        int baselinePushes = intArg(args, "--baseline-pushes", 300);
        boolean twoServers = !Arrays.asList(args).contains("--no-two-servers");
        // Each cluster gets every segment once: the first (which fixes the cluster's identity, a path of its own in
        // the server), then a part of the rest as fast as it goes, a part paced, a part through both servers.
        List<Path> first = corpus.subList(0, 1);
        List<List<Path>> parts = split(corpus.subList(1, corpus.size()), twoServers ? 3 : 2);
        List<String> clusters = new ArrayList<>();
        for (int i = 1; i <= report.clusters; i++) {
            clusters.add(String.format(Locale.ROOT, "c%03d", i));
        }
        List<Server> servers = new ArrayList<>();
        try {
            Server a = start(work, serverJar, "fleet-a", catalog, repository, report.heap);
            servers.add(a);
            int warmup = intArg(args, "--warmup", 3);
            warmUp(a, corpus, pushers, warmup);
            report.idleEmpty = ServerMemory.settled(a.process().pid());

            long registering = System.nanoTime();
            for (String name : clusters) {
                registerCluster(a.url(), "{\"name\":\"" + name + "\"}");
            }
            report.registerSeconds = (System.nanoTime() - registering) / 1e9;
            report.leasesTaken = catalog.awaitLeases(clusters.size(), 60);
            report.registerQuiet = catalog.awaitQuiet(QUIET_PER_CLUSTER * clusters.size(), 300);
            idleWindow(a, catalog, intArg(args, "--idle-seconds", 10), report);
            report.idleFleet = ServerMemory.settled(a.process().pid());

            report.firstPushes = pushPhase("fleet, first segment each", clusters.size(), pushes(clusters, first, List.of(a)), pushers, 0,
                    List.of(a));
            // Saturated: what the server takes with every cluster active, and one cluster with the same pushers.
            report.fleet = pushPhase("fleet, unpaced", clusters.size(), pushes(clusters, parts.get(0), List.of(a)), pushers, 0, List.of(a));
            scrape(a, report);
            report.afterFleet = ServerMemory.settled(a.process().pid());
            report.single = baseline(a, catalog, corpus, pushers, 0, baselinePushes, "single", clusters.size());

            // Below saturation, both at one rate: what the issue compares. At saturation the latency is the
            // pushers' queue, whatever the number of clusters.
            double rate = Double.parseDouble(stringArg(args, "--rate", "0"));
            if (rate <= 0) {
                rate = Double.parseDouble(stringArg(args, "--load", "0.6")) * report.fleet.outcome().segmentsPerSecond();
            }
            report.fleetPaced = pushPhase(String.format(Locale.ROOT, "fleet, paced %.1f/s", rate), clusters.size(),
                    pushes(clusters, parts.get(1), List.of(a)), pushers, rate, List.of(a));
            report.singlePaced = baseline(a, catalog, corpus, pushers, rate, baselinePushes, "paced", clusters.size());

            if (twoServers) {
                Server b = start(work, serverJar, "fleet-b", catalog, repository, report.heap);
                servers.add(b);
                warmUp(b, corpus, pushers, warmup);
                // The issue asks how the leases stand once both servers have run a few rounds (ttl 15 s, a round every 5 s).
                Thread.sleep(20_000);
                report.leasesAfter20s = catalog.leasesByServer();
                report.shared = pushPhase(String.format(Locale.ROOT, "fleet on A + B, paced %.1f/s", rate), clusters.size(),
                        pushes(clusters, parts.get(2), List.of(a, b)), pushers, rate, List.of(a, b));
                report.leasesAfterShared = catalog.leasesByServer();
                report.afterShared = List.of(ServerMemory.settled(a.process().pid()), ServerMemory.settled(b.process().pid()));
            }
            report.catalogBytes = catalog.databaseBytes();
            report.tables = catalog.tables();
        } finally {
            for (Server s : servers) {
                stopServer(s.process());
                report.outOfMemoryLines += Files.readAllLines(s.dir().resolve("server.log")).stream()
                        .filter(l -> l.contains("OutOfMemoryError")).count();
            }
        }
    }

    /** {@code list} in {@code n} consecutive parts of about equal size. */
    private static List<List<Path>> split(List<Path> list, int n) {
        if (list.size() < n) {
            throw new IllegalArgumentException("--segments must be at least " + (n + 1) + " (the first, then a part of the corpus per phase)");
        }
        List<List<Path>> parts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            parts.add(list.subList(i * list.size() / n, (i + 1) * list.size() / n));
        }
        return parts;
    }

    private static Server start(Path work, Path serverJar, String id, FleetCatalog catalog, List<String> repository, String heap)
            throws Exception {
        Path dir = Files.createDirectories(work.resolve(id));
        int port = Fixtures.freePort();
        List<String> properties = new ArrayList<>(catalog.serverProperties());
        properties.addAll(repository);
        properties.add("pgvault.server-id=" + id);
        Server server = new Server(id, "http://127.0.0.1:" + port, startServer(serverJar, dir, port, "zstd", properties, heap), dir);
        try {
            awaitHealthy(server.url());
        } catch (Exception e) {
            stopServer(server.process());
            throw e;
        }
        return server;
    }

    /**
     * A long-running server is warm: the corpus pushed untimed into {@code passes} clusters
     * that are then unregistered (their WAL stays in the repository), so the server has no
     * cluster when the figures start.
     */
    private static void warmUp(Server server, List<Path> corpus, int pushers, int passes) throws Exception {
        for (int pass = 1; pass <= passes; pass++) {
            String cluster = server.id() + "-warmup" + pass;
            registerCluster(server.url(), "{\"name\":\"" + cluster + "\"}");
            HttpPushers.Outcome warm = HttpPushers.run(pushes(List.of(cluster), corpus, List.of(server)), pushers, 0);
            if (warm.failures() > 0) {
                throw new IllegalStateException("the warm-up pushes failed: " + warm.firstFailure());
            }
            removeCluster(server, cluster);
        }
        Thread.sleep(3000);
    }

    /** Unregisters a cluster (its WAL stays in the repository), so the fleet counts only its own. */
    private static void removeCluster(Server server, String cluster) throws Exception {
        HttpResponse<String> removed = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/clusters/" + cluster))
                .DELETE().build(), HttpResponse.BodyHandlers.ofString());
        if (removed.statusCode() != 200) {
            throw new IllegalStateException("cannot remove " + cluster + ": " + removed.statusCode() + " " + removed.body());
        }
    }

    /** What idle clusters cost while nothing arrives: the server's CPU, the catalog's transactions (lease renewals). */
    private static void idleWindow(Server a, FleetCatalog catalog, int seconds, FleetReport report) throws Exception {
        double cpu = cpuSeconds(a.process().pid());
        long transactions = catalog.transactions();
        Thread.sleep(seconds * 1000L);
        report.idleCpuPercent = 100 * (cpuSeconds(a.process().pid()) - cpu) / seconds;
        report.idleTransactionsPerSecond = (catalog.transactions() - transactions) / (double) seconds;
    }

    /**
     * Segment-major: every cluster's segment i before anyone's i + 1, so each cluster's
     * arrive in order and the pushers spread over the clusters, as a fleet archiving at the
     * same pace does; cluster k goes through server k mod the number of servers.
     */
    private static List<HttpPushers.Push> pushes(List<String> clusters, List<Path> segments, List<Server> servers) {
        List<HttpPushers.Push> pushes = new ArrayList<>();
        for (Path segment : segments) {
            for (int k = 0; k < clusters.size(); k++) {
                Server s = servers.get(k % servers.size());
                pushes.add(new HttpPushers.Push(k % servers.size(), s.url(), clusters.get(k), segment));
            }
        }
        return pushes;
    }

    /**
     * One cluster at a time at {@code rate} (0: unpaced): fresh clusters named {@code prefix}NN,
     * each getting the corpus after its first segment (a segment can be archived once per
     * cluster), enough of them for about {@code count} pushes, one after the other, removed
     * afterwards. Only the pushes that span the change from one to the next are in flight for
     * two clusters at once. Their first segments go in untimed before, as the fleet's did in a
     * phase of their own.
     */
    private static Phase baseline(Server a, FleetCatalog catalog, List<Path> corpus, int pushers, double rate, int count, String prefix,
            int fleet) throws Exception {
        List<Path> rest = corpus.subList(1, corpus.size());
        List<String> solo = new ArrayList<>();
        for (int j = 1; j <= Math.max(1, (count + rest.size() - 1) / rest.size()); j++) {
            solo.add(String.format(Locale.ROOT, "%s%02d", prefix, j));
            registerCluster(a.url(), "{\"name\":\"" + solo.get(j - 1) + "\"}");
        }
        catalog.awaitQuiet(QUIET_PER_CLUSTER * (fleet + solo.size()), 300);
        HttpPushers.Outcome firsts = HttpPushers.run(pushes(solo, corpus.subList(0, 1), List.of(a)), pushers, 0);
        if (firsts.failures() > 0) {
            throw new IllegalStateException("the baseline's first segments failed: " + firsts.firstFailure());
        }
        List<HttpPushers.Push> pushes = new ArrayList<>();
        for (String cluster : solo) {
            pushes.addAll(pushes(List.of(cluster), rest, List.of(a)));
        }
        Phase phase = pushPhase(rate > 0 ? String.format(Locale.ROOT, "one cluster, paced %.1f/s", rate) : "one cluster, unpaced", 1, pushes,
                pushers, rate, List.of(a));
        for (String cluster : solo) {
            removeCluster(a, cluster);
        }
        return phase;
    }

    private static Phase pushPhase(String name, int activeClusters, List<HttpPushers.Push> pushes, int pushers, double rate,
            List<Server> servers) throws Exception {
        shell("sync");
        List<ServerMemory> watches = new ArrayList<>();
        try {
            double[] cpu = new double[servers.size()];
            for (int i = 0; i < servers.size(); i++) {
                watches.add(ServerMemory.watch(servers.get(i).process().pid()));
                cpu[i] = cpuSeconds(servers.get(i).process().pid());
            }
            HttpPushers.Outcome outcome = HttpPushers.run(pushes, pushers, rate);
            List<ServerRun> runs = new ArrayList<>();
            for (int i = 0; i < servers.size(); i++) {
                long pid = servers.get(i).process().pid();
                runs.add(new ServerRun(servers.get(i).id(), cpuSeconds(pid) - cpu[i], watches.get(i).window()));
            }
            long raw = 0;
            for (HttpPushers.Push p : pushes) {
                raw += Files.size(p.file());
            }
            return new Phase(name, activeClusters, outcome, raw, runs);
        } finally {
            watches.forEach(ServerMemory::close);
        }
    }

    /** One /prometheus scrape with every cluster's meters in it: its size and time. */
    private static void scrape(Server a, FleetReport report) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        for (int i = 0; i < 2; i++) {
            long t0 = System.nanoTime();
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(a.url() + "/prometheus")).build(),
                    HttpResponse.BodyHandlers.ofString());
            report.scrapeMs = (System.nanoTime() - t0) / 1e6;
            report.scrapeBytes = r.body().length();
        }
    }
}

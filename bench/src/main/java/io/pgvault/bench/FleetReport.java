package io.pgvault.bench;

import static io.pgvault.bench.BenchSupport.MIB;
import static io.pgvault.bench.BenchSupport.percentile;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The figures {@link FleetBench} gathers as it goes, printed at the end with the goals. */
final class FleetReport {

    final int clusters;
    final int segments;
    final int pushers;
    final String heap;
    final int catalogMajor;
    final String storage;

    double registerSeconds;
    int leasesTaken;
    FleetCatalog.Quiet registerQuiet;
    ServerMemory.Settled idleEmpty;
    ServerMemory.Settled idleFleet;
    double idleCpuPercent;
    double idleTransactionsPerSecond;
    FleetBench.Phase firstPushes;
    FleetBench.Phase fleet;
    double scrapeMs;
    long scrapeBytes;
    ServerMemory.Settled afterFleet;
    FleetBench.Phase single;
    FleetBench.Phase fleetPaced;
    FleetBench.Phase singlePaced;
    Map<String, Integer> leasesAfter20s;
    FleetBench.Phase shared;
    Map<String, Integer> leasesAfterShared;
    List<ServerMemory.Settled> afterShared;
    long catalogBytes;
    List<FleetCatalog.Table> tables = List.of();
    long repositoryBytes;
    long outOfMemoryLines;

    FleetReport(int clusters, int segments, int pushers, String heap, int catalogMajor, String storage) {
        this.clusters = clusters;
        this.segments = segments;
        this.pushers = pushers;
        this.heap = heap;
        this.catalogMajor = catalogMajor;
        this.storage = storage;
    }

    void print() {
        System.out.printf(Locale.ROOT, "%nFleet scale (issue #20): %d clusters, a corpus of %d segments, %d pushers, pgvault -Xmx%s,"
                + " catalog in PostgreSQL %d, repository: %s%n", clusters, segments, pushers, heap, catalogMajor, storage);
        System.out.printf(Locale.ROOT, "Registering %d clusters one by one: %.1f s (%.0f ms each); leases held a minute later at most: %d%n",
                clusters, registerSeconds, 1000 * registerSeconds / clusters, leasesTaken);
        if (registerQuiet != null) {
            System.out.printf(Locale.ROOT, "After the registrations, the catalog ran up to %.0f transactions/s; under %.0f/s again %.0f s later%n",
                    registerQuiet.peakPerSecond(), FleetBench.QUIET_PER_CLUSTER * clusters, registerQuiet.seconds());
        }
        printMemory();
        printPushes();
        printLeases();
        printCatalog();
        printGoals();
    }

    private void printMemory() {
        System.out.printf(Locale.ROOT, "%n%-46s %10s %10s%n", "At rest, right after a full GC", "heap MiB", "RSS MiB");
        settledRow("server A, no cluster", idleEmpty);
        settledRow("server A, " + clusters + " clusters registered, idle", idleFleet);
        perCluster("  per idle cluster", idleEmpty, idleFleet);
        settledRow("server A, after the " + clusters + " were active", afterFleet);
        perCluster("  per cluster once active (heap: live)", idleFleet, afterFleet);
        if (afterShared != null) {
            settledRow("server A, after the two-server run", afterShared.get(0));
            settledRow("server B, after the two-server run", afterShared.get(1));
        }
        System.out.printf(Locale.ROOT, "%d idle clusters: server CPU %.1f%% of a core, catalog %.1f transactions/s (%.2f per cluster)%n",
                clusters, idleCpuPercent, idleTransactionsPerSecond, idleTransactionsPerSecond / clusters);
    }

    private static void settledRow(String label, ServerMemory.Settled s) {
        if (s != null) {
            System.out.printf(Locale.ROOT, "%-46s %10.1f %10.1f%n", label, s.heapBytes() / MIB, s.rssBytes() / MIB);
        }
    }

    private void perCluster(String label, ServerMemory.Settled before, ServerMemory.Settled after) {
        if (before != null && after != null) {
            System.out.printf(Locale.ROOT, "%-46s %6.1f KiB %6.1f KiB%n", label, (after.heapBytes() - before.heapBytes()) / 1024.0 / clusters,
                    (after.rssBytes() - before.rssBytes()) / 1024.0 / clusters);
        }
    }

    private void printPushes() {
        System.out.printf(Locale.ROOT, "%n%-30s %8s %6s %7s %7s %7s %7s %7s %7s %7s %6s %8s %8s %8s %6s%n", "Pushes", "clusters", "pushes",
                "wall s", "segs/s", "MiB/s", "p50 ms", "p99 ms", "max ms", "retries", "failed", "srv CPU", "heap MiB", "RSS MiB", "GC s");
        for (FleetBench.Phase phase : new FleetBench.Phase[] {firstPushes, fleet, single, fleetPaced, singlePaced, shared}) {
            if (phase == null) {
                continue;
            }
            HttpPushers.Outcome o = phase.outcome();
            boolean alone = phase.servers().size() == 1;
            System.out.printf(Locale.ROOT, "%-30s %8d %6d %7.1f %7.1f %7.1f %s %7d %6d %s%n", phase.name(), phase.activeClusters(), o.calls(),
                    o.seconds(), o.segmentsPerSecond(), phase.rawBytes() / MIB / o.seconds(), latencies(o, -1), o.retries(), o.failures(),
                    alone ? serverColumns(phase.servers().get(0)) : "");
            if (!alone) {
                for (int i = 0; i < phase.servers().size(); i++) {
                    List<Double> ms = o.latencies(i);
                    System.out.printf(Locale.ROOT, "%-30s %8d %6d %7s %7s %7s %s %7s %6s %s%n", "  through " + phase.servers().get(i).id(),
                            phase.activeClusters() / phase.servers().size(), ms.size(), "", "", "", latencies(o, i), "", "",
                            serverColumns(phase.servers().get(i)));
                }
            }
            if (o.firstFailure() != null) {
                System.out.println("  first failure: " + o.firstFailure());
            }
        }
        System.out.println("srv CPU: the server's CPU seconds in the phase; heap and RSS: the server's peaks in it (jstat, /proc); GC s: its GC time");
        if (fleet != null && idleFleet != null) {
            ServerMemory.Peaks peak = fleet.servers().get(0).memory();
            System.out.printf(Locale.ROOT, "Per active cluster, (peak during the fleet run - idle with %d clusters) / %d: heap %.0f KiB, RSS %.0f KiB%n",
                    clusters, clusters, (peak.heapBytes() - idleFleet.heapBytes()) / 1024.0 / clusters,
                    (peak.rssBytes() - idleFleet.rssBytes()) / 1024.0 / clusters);
            System.out.printf(Locale.ROOT, "/prometheus once %d clusters have pushed: %.0f KiB in %.0f ms%n", clusters, scrapeBytes / 1024.0, scrapeMs);
        }
    }

    private static String latencies(HttpPushers.Outcome o, int server) {
        List<Double> ms = o.latencies(server);
        return String.format(Locale.ROOT, "%7.0f %7.0f %7.0f", percentile(ms, 50), percentile(ms, 99), percentile(ms, 100));
    }

    private static String serverColumns(FleetBench.ServerRun run) {
        return String.format(Locale.ROOT, "%8.1f %s", run.cpuSeconds(), ServerMemory.columns(run.memory()));
    }

    private void printLeases() {
        if (leasesAfter20s == null) {
            return;
        }
        System.out.printf(Locale.ROOT, "%nLeases (default ttl 15 s): server A alone held %d; 20 s after server B started: %s;"
                + " at the end of the two-server run (%.0f s later): %s%n", leasesTaken, leases(leasesAfter20s),
                shared.outcome().seconds(), leases(leasesAfterShared));
    }

    /** Leases by server, in one line. */
    private static String leases(Map<String, Integer> held) {
        return held == null ? "-" : held.isEmpty() ? "none" : held.toString();
    }

    private void printCatalog() {
        System.out.printf(Locale.ROOT, "%nCatalog (database 'catalog' in PostgreSQL %d): %.1f MiB%n", catalogMajor, catalogBytes / MIB);
        System.out.printf(Locale.ROOT, "%-20s %8s %10s %10s%n", "table", "rows", "KiB", "bytes/row");
        for (FleetCatalog.Table t : tables) {
            System.out.printf(Locale.ROOT, "%-20s %8d %10.0f %10s%n", t.name(), t.rows(), t.bytes() / 1024.0,
                    t.rows() == 0 ? "-" : String.format(Locale.ROOT, "%.0f", (double) t.bytes() / t.rows()));
        }
        if (repositoryBytes >= 0) {
            System.out.printf(Locale.ROOT, "Repository: %.0f MiB%n", repositoryBytes / MIB);
        }
    }

    private void printGoals() {
        System.out.println("\nGoals (issue #20):");
        if (fleet != null) {
            long failed = 0;
            long peak = 0;
            for (FleetBench.Phase phase : new FleetBench.Phase[] {firstPushes, fleet, single, fleetPaced, singlePaced, shared}) {
                if (phase != null) {
                    failed += phase.outcome().failures();
                    peak = Math.max(peak, phase.servers().stream().mapToLong(r -> r.memory().heapBytes()).max().orElse(0));
                }
            }
            boolean held = failed == 0 && outOfMemoryLines == 0;
            System.out.printf(Locale.ROOT, "  %d clusters in a %s heap: %s (%d pushes failed, %d OutOfMemoryError lines in the logs;"
                    + " peak heap of any server in any phase %.0f MiB, live after the unpaced fleet run %.1f MiB)%n", clusters, heap, held ? "PASS" : "MISS", failed,
                    outOfMemoryLines, peak / MIB, afterFleet == null ? Double.NaN : afterFleet.heapBytes() / MIB);
        }
        if (fleetPaced != null && singlePaced != null) {
            double ours = percentile(fleetPaced.outcome().latencies(-1), 99);
            double alone = percentile(singlePaced.outcome().latencies(-1), 99);
            System.out.printf(Locale.ROOT, "  p99 push with %d clusters within 2x of one cluster's at the same throughput: %s (p99 %.0f ms against %.0f ms,"
                    + " %.2fx; %.1f against %.1f segments/s)%n", clusters, ours <= 2 * alone ? "PASS" : "MISS", ours, alone, ours / alone,
                    fleetPaced.outcome().segmentsPerSecond(), singlePaced.outcome().segmentsPerSecond());
        }
        if (fleet != null && single != null) {
            double ours = percentile(fleet.outcome().latencies(-1), 99);
            double alone = percentile(single.outcome().latencies(-1), 99);
            System.out.printf(Locale.ROOT, "  both unpaced (%d pushers): p99 %.0f ms against %.0f ms (%.2fx), %.1f against %.1f segments/s (%.2fx)%n",
                    pushers, ours, alone, ours / alone, fleet.outcome().segmentsPerSecond(), single.outcome().segmentsPerSecond(),
                    fleet.outcome().segmentsPerSecond() / single.outcome().segmentsPerSecond());
        }
        if (fleetPaced != null && shared != null) {
            double one = percentile(fleetPaced.outcome().latencies(-1), 99);
            double two = percentile(shared.outcome().latencies(-1), 99);
            System.out.printf(Locale.ROOT, "  two servers on the same cores, same rate: p99 %.0f ms against one server's %.0f ms (%.2fx), %.1f against %.1f"
                    + " segments/s (the issue sets no goal here)%n", two, one, two / one, shared.outcome().segmentsPerSecond(),
                    fleetPaced.outcome().segmentsPerSecond());
        }
    }
}

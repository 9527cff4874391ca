package io.pgvault.cli.soak;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What the pushes say: how many succeeded, how many failed with which HTTP status (each a
 * retry PostgreSQL made), and p50/p99 latency of the successful ones, apart for pushes that
 * met a fault (or its aftermath) and pushes that met none.
 */
final class PushFigures {

    private final List<Push> pushes;
    private final List<FaultWindow> windows;

    PushFigures(List<Push> pushes, List<FaultWindow> windows) {
        this.pushes = List.copyOf(pushes);
        this.windows = List.copyOf(windows);
    }

    boolean metFault(Push p) {
        return windows.stream().anyMatch(w -> w.touches(p.startMillis(), p.endMillis()));
    }

    long succeeded() {
        return pushes.stream().filter(Push::succeeded).count();
    }

    /** Failed attempts by HTTP status ("000": no answer), each retried by PostgreSQL. */
    Map<String, Integer> failuresByStatus() {
        Map<String, Integer> byStatus = new TreeMap<>();
        pushes.stream().filter(p -> !p.succeeded()).forEach(p -> byStatus.merge(String.format(Locale.ROOT, "%03d", p.status()), 1, Integer::sum));
        return byStatus;
    }

    /** Failed attempts by the fault they met ("none") and HTTP status: what each fault looks like to archive_command. */
    Map<String, Map<String, Integer>> failuresByFault() {
        Map<String, Map<String, Integer>> byFault = new TreeMap<>();
        for (Push p : pushes) {
            if (!p.succeeded()) {
                String fault = windows.stream().filter(w -> w.touches(p.startMillis(), p.endMillis())).map(w -> w.kind().name())
                        .findFirst().orElse("none");
                byFault.computeIfAbsent(fault, k -> new TreeMap<>()).merge(String.format(Locale.ROOT, "%03d", p.status()), 1, Integer::sum);
            }
        }
        return byFault;
    }

    /** The longest attempt, failed or not: how long the archiver could be held by one push. */
    Optional<Push> longest() {
        return pushes.stream().max(java.util.Comparator.comparingLong(p -> p.endNanos() - p.startNanos()));
    }

    /** Failed attempts that met no fault: a server that refuses WAL with nothing wrong around it. */
    List<Push> failuresOutsideFaults() {
        return pushes.stream().filter(p -> !p.succeeded() && !metFault(p)).toList();
    }

    /** "p50 / p99" in ms of the successful pushes of {@code cluster} (all when null), inside or outside faults. */
    String latency(String cluster, boolean inFault) {
        List<Double> millis = new ArrayList<>();
        for (Push p : pushes) {
            if (p.succeeded() && (cluster == null || p.cluster().equals(cluster)) && metFault(p) == inFault) {
                millis.add(p.millis());
            }
        }
        if (millis.isEmpty()) {
            return "- / - (0)";
        }
        millis.sort(Double::compare);
        return String.format(Locale.ROOT, "%.0f / %.0f (%d)", percentile(millis, 50), percentile(millis, 99), millis.size());
    }

    static double percentile(List<Double> sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }

    /** Successful pushes a second over the whole run, and over its slowest whole minute (-1 if the run had none). */
    double[] ratesHeld(long fromMillis, long toMillis) {
        return rates(pushes.stream().filter(Push::succeeded).map(Push::endMillis).toList(), fromMillis, toMillis);
    }

    /** Events a second between two instants, and in the slowest whole minute between them (-1 if none fits). */
    static double[] rates(List<Long> eventMillis, long fromMillis, long toMillis) {
        double seconds = Math.max(1, (toMillis - fromMillis) / 1000.0);
        long in = eventMillis.stream().filter(t -> t >= fromMillis && t <= toMillis).count();
        int minutes = (int) ((toMillis - fromMillis) / 60_000);
        double slowest = -1;
        for (int m = 0; m < minutes; m++) {
            long from = fromMillis + m * 60_000L;
            long count = eventMillis.stream().filter(t -> t >= from && t < from + 60_000).count();
            slowest = slowest < 0 ? count / 60.0 : Math.min(slowest, count / 60.0);
        }
        return new double[] {in / seconds, slowest};
    }
}

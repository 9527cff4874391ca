package io.pgvault.bench;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Prints, after {@code bench/run-waits-bench.sh} ran the archive, restore_command and PITR
 * benchmarks, where PostgreSQL waits on pgvault and on pgBackRest (issue #18) as one table:
 * each figure from the benchmark that measured both tools in the same run, their ratio, the
 * goal and whether it was met. Usage: {@code WaitsTable <summary file>}.
 */
public final class WaitsTable {

    private WaitsTable() {
    }

    /** What {@code pgbackrest version} says: the benchmarks compare with the one Debian installed. */
    private static String pgbackrestVersion() {
        try {
            Process p = new ProcessBuilder("pgbackrest", "version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
            return p.waitFor() == 0 && !out.isEmpty() ? out : "pgBackRest";
        } catch (java.io.IOException e) {
            return "pgBackRest";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "pgBackRest";
        }
    }

    public static void main(String[] args) throws Exception {
        List<BenchSummary> all = BenchSummary.read(Path.of(args[args.length - 1]));
        List<BenchSummary> figures = all.stream().filter(f -> f.goal().kind() != BenchSummary.Goal.Kind.REFERENCE).toList();
        System.out.printf(Locale.ROOT, "%nWhere PostgreSQL waits: pgvault against %s, one run (ratio: pgvault's figure over pgBackRest's)%n",
                pgbackrestVersion());
        System.out.printf(Locale.ROOT, "%-76s %14s %14s %8s %16s  %s%n", "figure", "pgvault", "pgBackRest", "ratio", "goal", "");
        int missed = 0;
        for (BenchSummary f : figures) {
            boolean met = f.goal().met(f.pgvault(), f.theirs());
            if (!met) {
                missed++;
            }
            System.out.printf(Locale.ROOT, "%-76s %14s %14s %8s %16s  %s%n", f.figure(), BenchSummary.number(f.pgvault()) + " " + f.unit(),
                    Double.isNaN(f.theirs()) ? "-" : BenchSummary.number(f.theirs()) + " " + f.unit(),
                    Double.isNaN(f.theirs()) ? "-" : String.format(Locale.ROOT, "%.2fx", f.pgvault() / f.theirs()), f.goal().describe(f.unit()),
                    f.goal().kind() == BenchSummary.Goal.Kind.NONE ? "" : met ? "met" : "NOT MET");
        }
        for (BenchSummary f : all) {
            if (f.goal().kind() == BenchSummary.Goal.Kind.REFERENCE) {
                System.out.printf(Locale.ROOT, "reference: %s: %s %s%n", f.figure(), BenchSummary.number(f.pgvault()), f.unit());
            }
        }
        System.out.printf(Locale.ROOT, "%d of %d goals met%n", figures.stream().filter(f -> f.goal().kind() != BenchSummary.Goal.Kind.NONE).count()
                - missed, figures.stream().filter(f -> f.goal().kind() != BenchSummary.Goal.Kind.NONE).count());
    }
}

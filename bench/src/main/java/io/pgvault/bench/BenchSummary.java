package io.pgvault.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Figures several benchmarks of one run hand to a table printed after the last of them
 * ({@code bench/run-waits-bench.sh}, {@link WaitsTable}): each a line in the file that
 * {@code PGVAULT_BENCH_SUMMARY} names. A benchmark run on its own, without it, writes nothing.
 *
 * @param figure what was measured, as the table names it
 * @param unit of both values
 * @param pgvault pgvault's value (for a {@link Goal#REFERENCE}, the reference's)
 * @param theirs the value of the tool a DBA would pick instead, in the same run; NaN when it has none
 * @param goal what pgvault's value must be
 */
record BenchSummary(String figure, String unit, double pgvault, double theirs, Goal goal) {

    static final String FILE_VARIABLE = "PGVAULT_BENCH_SUMMARY";

    /** A goal: pgvault's value against a bound, or against the other tool's value as a ratio. */
    record Goal(Kind kind, double bound) {
        /** REFERENCE: not pgvault's figure but a bound on it (PostgreSQL alone, say), printed apart. */
        enum Kind { NONE, RATIO_AT_MOST, AT_MOST, AT_LEAST, REFERENCE }

        static final Goal NONE = new Goal(Kind.NONE, Double.NaN);
        static final Goal REFERENCE = new Goal(Kind.REFERENCE, Double.NaN);

        static Goal ratioAtMost(double ratio) {
            return new Goal(Kind.RATIO_AT_MOST, ratio);
        }

        static Goal atMost(double value) {
            return new Goal(Kind.AT_MOST, value);
        }

        static Goal atLeast(double value) {
            return new Goal(Kind.AT_LEAST, value);
        }

        boolean met(double pgvault, double theirs) {
            return switch (kind) {
                case NONE, REFERENCE -> true;
                case RATIO_AT_MOST -> pgvault / theirs <= bound;
                case AT_MOST -> pgvault <= bound;
                case AT_LEAST -> pgvault >= bound;
            };
        }

        String describe(String unit) {
            return switch (kind) {
                case NONE, REFERENCE -> "-";
                case RATIO_AT_MOST -> String.format(Locale.ROOT, "<= %.2fx", bound);
                case AT_MOST -> String.format(Locale.ROOT, "<= %s %s", number(bound), unit);
                case AT_LEAST -> String.format(Locale.ROOT, ">= %s %s", number(bound), unit);
            };
        }
    }

    /** Adds the figure to the run's summary, when there is one. */
    static void add(String figure, String unit, double pgvault, double theirs, Goal goal) throws IOException {
        String file = System.getenv(FILE_VARIABLE);
        if (file == null || file.isBlank()) {
            return;
        }
        String line = String.join("\t", figure, unit, Double.toString(pgvault), Double.toString(theirs), goal.kind().name(),
                Double.toString(goal.bound())) + "\n";
        Files.writeString(Path.of(file), line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    static List<BenchSummary> read(Path file) throws IOException {
        List<BenchSummary> figures = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t");
            figures.add(new BenchSummary(f[0], f[1], Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                    new Goal(Goal.Kind.valueOf(f[4]), Double.parseDouble(f[5]))));
        }
        return figures;
    }

    static String number(double value) {
        return Double.isNaN(value) ? "-" : value >= 100 ? String.format(Locale.ROOT, "%.0f", value) : String.format(Locale.ROOT, "%.2f", value);
    }
}

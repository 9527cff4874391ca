package io.pgvault.cli.soak;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One call of the soak's archive_command, as it logged itself: the file, when curl started
 * and ended (epoch nanoseconds, {@code date +%s%N}), curl's exit code and the HTTP status
 * it got ({@code 000}: no answer at all).
 */
record Push(String cluster, String file, long startNanos, long endNanos, int exit, int status) {

    boolean succeeded() {
        return exit == 0;
    }

    long startMillis() {
        return startNanos / 1_000_000;
    }

    long endMillis() {
        return endNanos / 1_000_000;
    }

    double millis() {
        return (endNanos - startNanos) / 1e6;
    }

    /** Every push of {@code log}; a line the archiver was killed while writing is skipped. */
    static List<Push> read(String cluster, Path log) throws IOException {
        List<Push> pushes = new ArrayList<>();
        if (!Files.exists(log)) {
            return pushes;
        }
        for (String line : Files.readAllLines(log)) {
            String[] f = line.trim().split(" ");
            if (f.length != 5) {
                continue;
            }
            try {
                pushes.add(new Push(cluster, f[0], Long.parseLong(f[1]), Long.parseLong(f[2]), Integer.parseInt(f[3]), Integer.parseInt(f[4])));
            } catch (NumberFormatException torn) {
                // a torn line
            }
        }
        return pushes;
    }
}

package io.pgvault.restore;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.LongConsumer;

/**
 * Restore progress: bytes, rate and ETA on one redrawn line on a terminal, a plain line
 * every few seconds otherwise (logs, CI).
 */
public final class Progress implements LongConsumer {

    private static final long PLAIN_EVERY_NANOS = 5_000_000_000L;

    private final PrintWriter out;
    private final long total;
    private final boolean terminal;
    private final String verb;
    private final long started = System.nanoTime();
    private long lastShown;

    public Progress(PrintWriter out, long total, boolean terminal) {
        this(out, total, terminal, "restored");
    }

    /** @param verb what is done to the bytes counted, for the line ("restored", "checked") */
    public Progress(PrintWriter out, long total, boolean terminal, String verb) {
        this.out = out;
        this.total = Math.max(1, total);
        this.terminal = terminal;
        this.verb = verb;
    }

    @Override
    public synchronized void accept(long done) {
        long now = System.nanoTime();
        if (!terminal && now - lastShown < PLAIN_EVERY_NANOS && done < total) {
            return;
        }
        lastShown = now;
        double seconds = Math.max(1e-3, (now - started) / 1e9);
        double rate = done / seconds;
        long eta = rate > 0 ? (long) ((total - done) / rate) : 0;
        String line = String.format(Locale.ROOT, "%s %s of %s (%d%%), %s/s, ETA %d:%02d", verb, size(done), size(total), done * 100 / total,
                size((long) rate), eta / 60, eta % 60);
        if (terminal) {
            out.print("\r" + line + (done >= total ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }

    static String size(long bytes) {
        if (bytes < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        }
        if (bytes < 1024L * 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
        }
        return String.format(Locale.ROOT, "%.2f GiB", bytes / 1073741824.0);
    }
}

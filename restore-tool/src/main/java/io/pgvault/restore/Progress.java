package io.pgvault.restore;

import io.pgvault.core.util.ByteSize;

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
        String line = String.format(Locale.ROOT, "%s %s of %s (%d%%), %s/s, ETA %d:%02d", verb, ByteSize.format(done), ByteSize.format(total), done * 100 / total,
                ByteSize.format((long) rate), eta / 60, eta % 60);
        if (terminal) {
            out.print("\r" + line + (done >= total ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }
}

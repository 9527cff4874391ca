package io.pgvault.core.storage.server;

import io.pgvault.core.storage.StorageUnavailableException;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A response body that fails when nothing arrives for {@code timeout}: the JDK's HTTP client
 * times out on headers only, so a server (or a proxy) that stalls mid-body would hang
 * {@code wal-fetch --server}, and with it PostgreSQL's recovery, forever. One daemon thread
 * looks at every open body each second and closes a stalled one, which makes its blocked
 * read throw; the reader then sees an outage to retry, not a short file.
 */
public final class StalledBodyGuard extends FilterInputStream {

    private static final Set<StalledBodyGuard> OPEN = ConcurrentHashMap.newKeySet();

    /** Started on first use: most pgvault JVMs never read a body from a server. */
    private static final class Watchdog {
        static final ScheduledExecutorService THREAD = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pgvault-stalled-body-watchdog");
            t.setDaemon(true);
            return t;
        });

        static {
            THREAD.scheduleWithFixedDelay(StalledBodyGuard::closeStalled, 1, 1, TimeUnit.SECONDS);
        }

        static void start() {
            // the class initialiser did
        }
    }

    private final long timeoutNanos;
    private final String what;
    private volatile long lastProgress = System.nanoTime();
    private volatile boolean stalled;

    /** @param what names the body in the message, e.g. "KEY from pgvault server URL" */
    public StalledBodyGuard(InputStream body, Duration timeout, String what) {
        super(body);
        this.timeoutNanos = timeout.toNanos();
        this.what = what;
        Watchdog.start();
        OPEN.add(this);
    }

    private static void closeStalled() {
        long now = System.nanoTime();
        for (StalledBodyGuard body : OPEN) {
            if (now - body.lastProgress > body.timeoutNanos) {
                body.stalled = true;
                OPEN.remove(body);
                try {
                    body.in.close();
                } catch (IOException | RuntimeException ignored) {
                    // the reader learns it from its read
                }
            }
        }
    }

    @Override
    public int read() throws IOException {
        try {
            int b = super.read();
            lastProgress = System.nanoTime();
            return b;
        } catch (IOException e) {
            throw translated(e);
        }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        try {
            int n = super.read(b, off, len);
            lastProgress = System.nanoTime();
            return n;
        } catch (IOException e) {
            throw translated(e);
        }
    }

    private IOException translated(IOException e) {
        if (!stalled) {
            return e;
        }
        return new StorageUnavailableException("nothing arrived for " + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s reading " + what
                + ": the connection stalled", e);
    }

    @Override
    public void close() throws IOException {
        OPEN.remove(this);
        super.close();
    }
}

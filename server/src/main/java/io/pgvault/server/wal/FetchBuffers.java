package io.pgvault.server.wal;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import io.pgvault.core.util.ByteSize;
import jakarta.inject.Singleton;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The heap that WAL GETs may hold whole segments in, server-wide
 * ({@code pgvault.limits.wal-fetch-buffer}; default a quarter of the heap, at most 256 MiB).
 * A GET that finds room reads its segment whole and verified before answering; one that
 * does not streams it instead, so a storm of restores slows down rather than running the
 * server out of memory. The room is given back when the body has been written, or the
 * client went away (the server closes the body's stream either way).
 */
@Singleton
public class FetchBuffers {

    static final String SETTING = "pgvault.limits.wal-fetch-buffer";

    /** Permits are KiB: a 1 GiB budget still fits an int. */
    private final Semaphore kib;
    private final long budgetBytes;

    public FetchBuffers(@Value("${" + SETTING + ":}") @Nullable String budget, @Nullable MeterRegistry metrics) {
        this(budget == null || budget.isBlank() ? Math.min(256L << 20, Runtime.getRuntime().maxMemory() / 4) : ByteSize.parse(SETTING, budget),
                metrics);
    }

    FetchBuffers(long budgetBytes, @Nullable MeterRegistry metrics) {
        this.budgetBytes = budgetBytes;
        this.kib = new Semaphore((int) Math.min(Integer.MAX_VALUE, budgetBytes >> 10), true);
        if (metrics != null) {
            Gauge.builder("pgvault.wal.fetch.buffered", this, FetchBuffers::bufferedBytes).baseUnit("bytes")
                    .description("Heap held by WAL GETs answering from a whole verified segment").register(metrics);
        }
    }

    /**
     * The whole of {@code content} ({@code size} bytes) as a stream that gives its room back when
     * closed, or empty when the budget has no room now (the caller streams instead).
     */
    public Optional<InputStream> whole(InputStream content, long size) throws IOException {
        int permits = (int) ((size + 1023) >> 10);
        if (!kib.tryAcquire(permits)) {
            return Optional.empty();
        }
        byte[] body;
        try (InputStream in = content) {
            // Into an array of the final size: readAllBytes would hold the segment twice while it copies.
            body = new byte[(int) size];
            int read = in.readNBytes(body, 0, body.length);
            // Reading to the end is what makes the stream check the object's checksum.
            if (read != body.length || in.read() != -1) {
                throw new IOException("the archived file's length is not the " + size + " bytes its header records");
            }
        } catch (IOException | RuntimeException | Error e) {
            kib.release(permits);
            throw e;
        }
        return Optional.of(new Held(body, permits));
    }

    long bufferedBytes() {
        return budgetBytes - ((long) kib.availablePermits() << 10);
    }

    private final class Held extends ByteArrayInputStream {
        private final int permits;
        private final AtomicBoolean released = new AtomicBoolean();

        Held(byte[] body, int permits) {
            super(body);
            this.permits = permits;
        }

        @Override
        public void close() {
            if (released.compareAndSet(false, true)) {
                buf = new byte[0];
                kib.release(permits);
            }
        }
    }
}

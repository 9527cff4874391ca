package io.pgvault.core.spool;

import io.pgvault.core.util.ByteSize;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The room uploads in flight may take in the local spool directory: a byte budget shared
 * by every writer (WAL pushes, streamed partials, backup pieces), and a floor of free space
 * on the spool's file system that no upload may eat into. A writer reserves what it expects
 * to write before it starts and grows the reservation as it writes (see {@link #track}), so
 * a spool can never grow past the budget, and a full disk is refused up front with a clear
 * {@link SpoolFullException} rather than met halfway through a file as ENOSPC.
 *
 * <p>Thread-safe. Reservations are given back on {@link Reservation#close()}.
 */
public final class SpoolBudget {

    /** How often a writer's reservation grows as it writes: small enough to stay exact, large enough to be cheap. */
    static final long GROWTH_STEP = 1 << 20;
    /** What a refused sender is told to wait: long enough for uploads in flight to finish, short for the archiver. */
    static final Duration RETRY_AFTER = Duration.ofSeconds(5);

    private final Path directory;
    private final long maxBytes;
    private final long minFreeBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition released = lock.newCondition();
    private long reserved;
    /** Reserved bytes not yet written: the file system's free space does not show them yet. */
    private long unwritten;
    private final AtomicLong refusals = new AtomicLong();
    private final FreeSpace freeSpace;

    /** Where free space is read from; a seam so the floor can be tested without filling a disk. */
    @FunctionalInterface
    public interface FreeSpace {
        long usableBytes(Path directory) throws IOException;
    }

    public SpoolBudget(Path directory, long maxBytes, long minFreeBytes) {
        this(directory, maxBytes, minFreeBytes, SpoolBudget::usableSpace);
    }

    public SpoolBudget(Path directory, long maxBytes, long minFreeBytes, FreeSpace freeSpace) {
        if (maxBytes <= 0 || minFreeBytes < 0) {
            throw new IllegalArgumentException("a spool budget needs a positive size and a free-space floor of 0 or more, not "
                    + maxBytes + " and " + minFreeBytes);
        }
        this.directory = directory;
        this.maxBytes = maxBytes;
        this.minFreeBytes = minFreeBytes;
        this.freeSpace = freeSpace;
    }

    /** No budget and no floor: for one-shot command-line uploads, where the caller is the only writer. */
    public static SpoolBudget unlimited(Path directory) {
        return new SpoolBudget(directory, Long.MAX_VALUE, 0, d -> Long.MAX_VALUE);
    }

    public Path directory() {
        return directory;
    }

    public long maxBytes() {
        return maxBytes;
    }

    public long minFreeBytes() {
        return minFreeBytes;
    }

    /** Bytes reserved by uploads in flight now. */
    public long reservedBytes() {
        lock.lock();
        try {
            return reserved;
        } finally {
            lock.unlock();
        }
    }

    /** How many reservations were refused since start. */
    public long refusals() {
        return refusals.get();
    }

    /**
     * Reserves {@code bytes} for {@code what}, or refuses at once.
     *
     * @throws SpoolFullException when the budget or the disk has no room now
     */
    public Reservation reserve(long bytes, String what) throws IOException {
        return reserve(bytes, what, Duration.ZERO);
    }

    /**
     * Reserves {@code bytes} for {@code what}, waiting up to {@code wait} for uploads in flight
     * to give room back (a backup can wait; an archive push should not hold PostgreSQL's archiver).
     */
    public Reservation reserve(long bytes, String what, Duration wait) throws IOException {
        Reservation reservation = new Reservation(what);
        reservation.growTo(Math.max(0, bytes), wait);
        return reservation;
    }

    /** An output stream into the spool that grows {@code reservation} ahead of what is written through it. */
    public static OutputStream track(OutputStream out, Reservation reservation) {
        return new FilterOutputStream(out) {
            private long written;

            @Override
            public void write(int b) throws IOException {
                reservation.cover(++written);
                try {
                    out.write(b);
                } catch (IOException e) {
                    throw reservation.refusal(e);
                }
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                written += len;
                reservation.cover(written);
                try {
                    out.write(b, off, len);
                } catch (IOException e) {
                    throw reservation.refusal(e);
                }
            }

            @Override
            public void flush() throws IOException {
                try {
                    out.flush();
                } catch (IOException e) {
                    throw reservation.refusal(e);
                }
            }

            @Override
            public void close() throws IOException {
                try {
                    out.close();
                } catch (IOException e) {
                    throw reservation.refusal(e);
                }
            }
        };
    }

    /** ENOSPC or a quota: something else filled the disk under the floor's watch. */
    private static boolean diskFull(IOException e) {
        String message = String.valueOf(e.getMessage());
        return message.contains("No space left on device") || message.contains("Disk quota exceeded");
    }

    private void take(Reservation r, long more, Duration wait) throws IOException {
        long deadline = System.nanoTime() + wait.toNanos();
        lock.lock();
        try {
            while (true) {
                String shortage = shortage(more);
                if (shortage == null) {
                    reserved += more;
                    unwritten += more;
                    r.held += more;
                    r.unwritten += more;
                    return;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    refusals.incrementAndGet();
                    throw new SpoolFullException("no room in the spool " + directory + " for " + r.what + " ("
                            + ByteSize.format(r.held + more) + "): " + shortage + "; nothing was stored (a WAL push is retried by PostgreSQL's "
                            + "archiver). If this persists, free disk space there or raise pgvault.limits.spool-bytes", RETRY_AFTER);
                }
                try {
                    released.awaitNanos(Math.min(left, TimeUnit.SECONDS.toNanos(1)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while waiting for room in the spool " + directory, e);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** Why {@code more} bytes cannot be reserved now, or null when they can. Called under the lock. */
    private String shortage(long more) throws IOException {
        if (reserved + more > maxBytes && reserved > 0) {
            return ByteSize.format(reserved) + " of its " + ByteSize.format(maxBytes) + " budget are taken by uploads in flight";
        }
        if (minFreeBytes > 0) {
            long usable = freeSpace.usableBytes(directory) - unwritten;
            if (usable - more < minFreeBytes) {
                return "its file system has " + ByteSize.format(Math.max(0, usable)) + " free for new files, and pgvault keeps "
                        + ByteSize.format(minFreeBytes) + " free (pgvault.limits.spool-min-free)";
            }
        }
        return null;
    }

    private void give(Reservation r) {
        lock.lock();
        try {
            reserved -= r.held;
            unwritten -= r.unwritten;
            r.held = 0;
            r.unwritten = 0;
            released.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private static long usableSpace(Path directory) throws IOException {
        Files.createDirectories(directory);
        return Files.getFileStore(directory).getUsableSpace();
    }

    /** Room held for one upload; closing it (after the spool file is deleted) gives it back. */
    public final class Reservation implements AutoCloseable {
        private final String what;
        private long held;
        private long unwritten;
        private long covered;

        private Reservation(String what) {
            this.what = what;
        }

        /** Bytes held now. */
        public long bytes() {
            lock.lock();
            try {
                return held;
            } finally {
                lock.unlock();
            }
        }

        void growTo(long total, Duration wait) throws IOException {
            if (total > held) {
                take(this, total - held, wait);
            }
        }

        /** {@code written} bytes are in the spool file: the reservation grows (without waiting) when they pass it. */
        void cover(long written) throws IOException {
            if (written > held) {
                take(this, Math.max(written - held, GROWTH_STEP), Duration.ZERO);
            }
            // What landed on disk now shows in the file system's free space: stop counting it as unwritten (in steps, not per write).
            if (written - covered >= GROWTH_STEP || written >= held) {
                lock.lock();
                try {
                    long landed = Math.min(written - covered, unwritten);
                    unwritten -= landed;
                    SpoolBudget.this.unwritten -= landed;
                    covered = written;
                } finally {
                    lock.unlock();
                }
            }
        }

        /** A write into the spool failed: a full disk becomes a refusal to retry later, anything else stays what it was. */
        IOException refusal(IOException e) {
            if (e instanceof SpoolFullException || !diskFull(e)) {
                return e;
            }
            refusals.incrementAndGet();
            return new SpoolFullException("the spool " + directory + " ran out of disk space while writing " + what
                    + " (" + e.getMessage() + "): something else filled the disk; nothing was stored (a WAL push is retried by "
                    + "PostgreSQL's archiver). Free disk space there, or raise pgvault.limits.spool-min-free to keep more free", e, RETRY_AFTER);
        }

        @Override
        public void close() {
            give(this);
        }
    }
}

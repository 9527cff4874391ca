package io.pgvault.server.load;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * At most {@code permits} requests of one kind run at once. Requests beyond that wait, queued
 * by cluster, and a freed permit goes to the clusters in turn (round robin), not to whoever
 * asked first: a cluster that sends sixty segments at once waits behind its own, while a
 * quiet cluster's one segment goes next. A request that waits longer than {@code maxWait}
 * is refused with a {@link BusyException}.
 *
 * <p>Thread-safe; permits are given back by closing what {@link #acquire} returned.
 */
public final class FairLimiter {

    /** Given back exactly once, however often it is closed. */
    public interface Permit extends AutoCloseable {
        @Override
        void close();

        /**
         * {@code body}, which gives this turn back when it is closed: the server closes a response
         * body once it is written or the client went away, so a download holds its turn while it runs.
         */
        default InputStream heldBy(InputStream body) {
            return new FilterInputStream(body) {
                @Override
                public void close() throws IOException {
                    try {
                        super.close();
                    } finally {
                        Permit.this.close();
                    }
                }
            };
        }
    }

    private static final class Waiter {
        final Condition turn;
        boolean admitted;

        Waiter(Condition turn) {
            this.turn = turn;
        }
    }

    private final String kind;
    private final int permits;
    private final Duration maxWait;
    private final ReentrantLock lock = new ReentrantLock();
    private final Map<String, ArrayDeque<Waiter>> queues = new HashMap<>();
    /** Clusters with someone waiting, in the order they get their next turn. */
    private final ArrayDeque<String> turns = new ArrayDeque<>();
    private int running;
    private int waiting;
    private final AtomicLong refused = new AtomicLong();

    public FairLimiter(String kind, int permits, Duration maxWait) {
        if (permits < 1) {
            throw new IllegalArgumentException("at least one " + kind + " must be allowed at a time, not " + permits);
        }
        this.kind = kind;
        this.permits = permits;
        this.maxWait = maxWait;
    }

    public Permit acquire(String cluster) {
        lock.lock();
        try {
            if (running < permits && waiting == 0) {
                running++;
                return permit();
            }
            Waiter me = new Waiter(lock.newCondition());
            ArrayDeque<Waiter> queue = queues.computeIfAbsent(cluster, c -> new ArrayDeque<>());
            if (queue.isEmpty()) {
                turns.addLast(cluster);
            }
            queue.addLast(me);
            waiting++;
            long left = maxWait.toNanos();
            try {
                while (!me.admitted && left > 0) {
                    left = me.turn.awaitNanos(left);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (me.admitted) {
                return permit();
            }
            leave(cluster, queue, me);
            refused.incrementAndGet();
            throw new BusyException("the server is at its limit of " + permits + " concurrent " + kind + " (pgvault.limits.concurrent-"
                    + kind + ") and this request waited " + maxWait.toSeconds() + " s for a turn; nothing was read or changed. Retry later "
                    + "(PostgreSQL's archiver and pgvault wal-fetch do), or raise the limit if the server has CPU and memory to spare",
                    Duration.ofSeconds(Math.max(1, Math.min(5, maxWait.toSeconds()))));
        } finally {
            lock.unlock();
        }
    }

    private void leave(String cluster, ArrayDeque<Waiter> queue, Waiter me) {
        queue.remove(me);
        waiting--;
        if (queue.isEmpty()) {
            queues.remove(cluster);
            turns.remove(cluster);
        }
    }

    private Permit permit() {
        return new Permit() {
            private boolean closed;

            @Override
            public void close() {
                lock.lock();
                try {
                    if (!closed) {
                        closed = true;
                        running--;
                        admitNext();
                    }
                } finally {
                    lock.unlock();
                }
            }
        };
    }

    /** Hands free permits to the next clusters in turn. Called under the lock. */
    private void admitNext() {
        while (running < permits && !turns.isEmpty()) {
            String cluster = turns.pollFirst();
            ArrayDeque<Waiter> queue = queues.get(cluster);
            Waiter next = queue.pollFirst();
            waiting--;
            running++;
            next.admitted = true;
            next.turn.signal();
            if (queue.isEmpty()) {
                queues.remove(cluster);
            } else {
                turns.addLast(cluster);
            }
        }
    }

    public String kind() {
        return kind;
    }

    public int permits() {
        return permits;
    }

    public int running() {
        lock.lock();
        try {
            return running;
        } finally {
            lock.unlock();
        }
    }

    public int waiting() {
        lock.lock();
        try {
            return waiting;
        } finally {
            lock.unlock();
        }
    }

    /** Requests refused after waiting their longest, since start. */
    public long refused() {
        return refused.get();
    }
}

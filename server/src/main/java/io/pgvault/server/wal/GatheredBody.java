package io.pgvault.server.wal;

import io.micronaut.core.io.buffer.ReadBuffer;
import io.micronaut.http.body.ByteBody;
import io.pgvault.core.util.SingleByte;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A request body read by a blocking handler, handed over from the event loop in batches.
 * Micronaut's own {@code ByteBody.toInputStream()} hands over every socket read (16-27 KiB of a
 * WAL upload) and wakes the reading thread for each: a thousand wake-ups per 16 MiB segment.
 * Here the event loop copies each buffer into a queue and wakes the reader only once
 * {@link #WAKE_BYTES} are waiting, or the body has ended or failed. Measured on 16 MiB pushes: the
 * server's CPU per push 15-20% lower, curl's time per push 47-51 ms down to 40-43 ms.
 *
 * <p>Backpressure is kept: at most {@link #MAX_QUEUED} bytes wait (plus the buffer that crossed
 * it), then nothing more is requested until the reader has taken half of them, so a push holds
 * about a megabyte of heap. {@link #close} before the end cancels the body, so Netty releases
 * what it holds.
 */
final class GatheredBody extends InputStream implements Subscriber<ReadBuffer> {

    static final int WAKE_BYTES = 256 << 10;
    static final int MAX_QUEUED = 1 << 20;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition ready = lock.newCondition();
    private final ArrayDeque<byte[]> chunks = new ArrayDeque<>();
    /** The chunk being read, and where. */
    private byte[] current;
    private int position;
    private long queued;
    private Subscription subscription;
    /** No buffer is requested: the queue was full when the last one arrived. */
    private boolean paused;
    private boolean ended;
    private Throwable failure;
    private boolean closed;

    /** Use {@link #of}; a test subscribes it to its own upload. */
    GatheredBody() {
    }

    /** Starts reading {@code body}: from here on the event loop queues its bytes. */
    static GatheredBody of(ByteBody body) {
        GatheredBody gathered = new GatheredBody();
        body.toReadBufferPublisher().subscribe(gathered);
        return gathered;
    }

    @Override
    public void onSubscribe(Subscription s) {
        lock.lock();
        try {
            subscription = s;
            if (closed) {
                s.cancel();
                return;
            }
        } finally {
            lock.unlock();
        }
        s.request(1);
    }

    @Override
    public void onNext(ReadBuffer buffer) {
        // toArray copies and releases Netty's buffer.
        byte[] bytes = buffer.toArray();
        boolean more;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            chunks.add(bytes);
            queued += bytes.length;
            if (queued >= WAKE_BYTES) {
                ready.signal();
            }
            more = queued < MAX_QUEUED;
            paused = !more;
        } finally {
            lock.unlock();
        }
        if (more) {
            subscription.request(1);
        }
    }

    @Override
    public void onError(Throwable t) {
        end(t);
    }

    @Override
    public void onComplete() {
        end(null);
    }

    private void end(Throwable t) {
        lock.lock();
        try {
            ended = true;
            failure = t;
            ready.signal();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int read() throws IOException {
        return SingleByte.read(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        boolean resume = false;
        int n = 0;
        lock.lock();
        try {
            if (closed) {
                throw new IOException("the request body was closed");
            }
            // A chunk in hand is read out first; after it, the reader sleeps until WAKE_BYTES or the end are there
            // (the queue is paused only when it holds more than that).
            while (!inHand() && queued < WAKE_BYTES && !ended) {
                ready.await();
            }
            while (n < len) {
                if (!inHand()) {
                    current = chunks.poll();
                    position = 0;
                    if (current == null) {
                        break;
                    }
                    queued -= current.length;
                }
                int k = Math.min(len - n, current.length - position);
                System.arraycopy(current, position, b, off + n, k);
                position += k;
                n += k;
            }
            if (paused && queued <= MAX_QUEUED / 2) {
                paused = false;
                resume = true;
            }
            if (n == 0) {
                if (failure != null) {
                    throw new IOException("the request body failed: " + failure.getMessage(), failure);
                }
                return -1;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the request body");
        } finally {
            lock.unlock();
        }
        if (resume) {
            subscription.request(1);
        }
        return n;
    }

    /** The bytes waiting for the reader. */
    long queued() {
        lock.lock();
        try {
            return queued;
        } finally {
            lock.unlock();
        }
    }

    private boolean inHand() {
        return current != null && position < current.length;
    }

    @Override
    public void close() {
        Subscription cancel = null;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            chunks.clear();
            current = null;
            if (!ended) {
                cancel = subscription;
            }
        } finally {
            lock.unlock();
        }
        if (cancel != null) {
            cancel.cancel();
        }
    }
}

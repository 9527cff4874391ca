package io.pgvault.core.storage.s3;

import io.pgvault.core.storage.ExactLengthInputStream;
import io.pgvault.core.storage.ObjectStore;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import software.amazon.awssdk.core.async.AsyncRequestBody;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;

/**
 * A request body the SDK can send again: the plain client retries a failed attempt (503
 * SlowDown, a reset connection, a read timeout) by subscribing to the body once more, and each
 * subscription here opens the content from its first byte. The SDK's own stream body cannot do
 * that, so without this every transient failure of an upload failed the upload. (The
 * multipart client subscribes once and retries each part from its own buffer.) Each opened
 * stream is length-checked, and all are closed by {@link #close()} once the request is over.
 */
final class ReopeningRequestBody implements AsyncRequestBody, AutoCloseable {

    private final String key;
    private final ObjectStore.Body body;
    private final long length;
    private final ExecutorService readers;
    private final List<InputStream> opened = new ArrayList<>();
    private boolean closed;

    ReopeningRequestBody(String key, ObjectStore.Body body, long length, ExecutorService readers) {
        this.key = key;
        this.body = body;
        this.length = length;
        this.readers = readers;
    }

    /**
     * A body that can be read once only: a retry fails with a clear I/O error, and the caller
     * retries from its source. (Not the SDK's NonRetryableException: signalled from a body whose
     * request never connected, it left the call waiting for ever.)
     */
    static ObjectStore.Body once(String key, InputStream data) {
        boolean[] used = {false};
        return () -> {
            synchronized (used) {
                if (used[0]) {
                    throw new IOException("the data for " + key + " is a stream that cannot be read twice: the store's retry is not possible");
                }
                used[0] = true;
                return data;
            }
        };
    }

    @Override
    public Optional<Long> contentLength() {
        return Optional.of(length);
    }

    @Override
    public void subscribe(Subscriber<? super ByteBuffer> subscriber) {
        InputStream attempt;
        try {
            synchronized (opened) {
                if (closed) {
                    // A try the SDK starts after the request was given up (an interrupted wait): nothing may be left open.
                    throw new IOException("the upload of " + key + " is over");
                }
                attempt = new ExactLengthInputStream(body.open(), key, length);
                opened.add(attempt);
            }
        } catch (IOException | RuntimeException e) {
            subscriber.onSubscribe(new Subscription() {
                @Override
                public void request(long n) {
                }

                @Override
                public void cancel() {
                }
            });
            subscriber.onError(e);
            return;
        }
        AsyncRequestBody.fromInputStream(attempt, length, readers).subscribe(subscriber);
    }

    @Override
    public void close() {
        synchronized (opened) {
            closed = true;
            for (InputStream in : opened) {
                try {
                    in.close();
                } catch (IOException ignored) {
                    // the request is over; nothing more is read from it
                }
            }
            opened.clear();
        }
    }
}

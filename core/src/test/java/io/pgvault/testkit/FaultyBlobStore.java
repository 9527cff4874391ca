package io.pgvault.testkit;

import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.domain.Blob;
import org.jclouds.blobstore.domain.BlobMetadata;
import org.jclouds.blobstore.domain.PageSet;
import org.jclouds.blobstore.domain.StorageMetadata;
import org.jclouds.blobstore.options.GetOptions;
import org.jclouds.blobstore.options.ListContainerOptions;
import org.jclouds.blobstore.options.PutOptions;
import org.jclouds.blobstore.util.ForwardingBlobStore;
import org.jclouds.http.HttpResponse;
import org.jclouds.http.HttpResponseException;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The blob store behind S3Proxy, with faults a test switches on and off while a server in
 * another JVM talks S3 to it: what {@link FaultInjectingStore} does in-process, at the S3
 * API. S3Proxy answers an {@link HttpResponseException} with that response's status (and
 * no body), so {@link Mode#UNAVAILABLE} reaches the client as a 503, as a store that sheds
 * load (SlowDown) does, and {@link Mode#INTERNAL_ERROR} as a 500. {@link Mode#LATE} holds
 * each request past the client's read timeout: reads before they are served, writes after
 * they are done, so a write lands although its client gave up on it (the ambiguous outcome
 * a real timeout leaves). Operations on containers are left alone.
 */
public final class FaultyBlobStore extends ForwardingBlobStore {

    public enum Mode {
        /** Every request served as is. */
        HEALTHY,
        /** Every request answered 503. */
        UNAVAILABLE,
        /** Every request answered 500. */
        INTERNAL_ERROR,
        /** Every request answered only after {@link #lateBy}. */
        LATE
    }

    private volatile Mode mode = Mode.HEALTHY;
    private volatile Duration lateBy = Duration.ofSeconds(35);
    private final Map<Mode, AtomicLong> faulted = new EnumMap<>(Mode.class);

    public FaultyBlobStore(BlobStore delegate) {
        super(delegate);
        for (Mode m : Mode.values()) {
            faulted.put(m, new AtomicLong());
        }
    }

    /** Requests that arrive from now on get {@code mode}. */
    public void mode(Mode mode) {
        this.mode = mode;
    }

    public Mode mode() {
        return mode;
    }

    /** How long {@link Mode#LATE} holds a request (default 35 s: past the AWS SDK's 30 s read timeout). */
    public void lateBy(Duration delay) {
        this.lateBy = delay;
    }

    /** How many requests got {@code mode} (a fault) so far. */
    public long faulted(Mode mode) {
        return faulted.get(mode).get();
    }

    private <T> T read(Supplier<T> call) {
        Mode now = mode;
        fail(now);
        if (now == Mode.LATE) {
            pause();
        }
        return call.get();
    }

    private <T> T write(Supplier<T> call) {
        Mode now = mode;
        fail(now);
        T result = call.get();
        if (now == Mode.LATE) {
            pause();
        }
        return result;
    }

    private void fail(Mode now) {
        if (now == Mode.HEALTHY) {
            return;
        }
        faulted.get(now).incrementAndGet();
        switch (now) {
            case UNAVAILABLE -> throw new HttpResponseException("injected: slow down", null,
                    HttpResponse.builder().statusCode(503).message("Slow Down").build());
            case INTERNAL_ERROR -> throw new HttpResponseException("injected: internal error", null,
                    HttpResponse.builder().statusCode(500).message("Internal Server Error").build());
            default -> {
                // LATE: served, but late
            }
        }
    }

    private void pause() {
        try {
            Thread.sleep(lateBy.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public boolean blobExists(String container, String name) {
        return read(() -> super.blobExists(container, name));
    }

    @Override
    public BlobMetadata blobMetadata(String container, String name) {
        return read(() -> super.blobMetadata(container, name));
    }

    @Override
    public Blob getBlob(String container, String name) {
        return read(() -> super.getBlob(container, name));
    }

    @Override
    public Blob getBlob(String container, String name, GetOptions options) {
        return read(() -> super.getBlob(container, name, options));
    }

    @Override
    public PageSet<? extends StorageMetadata> list(String container) {
        return read(() -> super.list(container));
    }

    @Override
    public PageSet<? extends StorageMetadata> list(String container, ListContainerOptions options) {
        return read(() -> super.list(container, options));
    }

    @Override
    public String putBlob(String container, Blob blob) {
        return write(() -> super.putBlob(container, blob));
    }

    @Override
    public String putBlob(String container, Blob blob, PutOptions options) {
        return write(() -> super.putBlob(container, blob, options));
    }

    @Override
    public void removeBlob(String container, String name) {
        write(() -> {
            super.removeBlob(container, name);
            return null;
        });
    }

    @Override
    public void removeBlobs(String container, Iterable<String> names) {
        write(() -> {
            super.removeBlobs(container, names);
            return null;
        });
    }
}

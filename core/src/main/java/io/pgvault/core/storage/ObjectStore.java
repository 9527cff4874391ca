package io.pgvault.core.storage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where a repository's objects live: a local directory or an S3 bucket (with a prefix).
 *
 * <h2>Contract (every driver; {@code ObjectStoreContract} tests it)</h2>
 * <ul>
 *   <li>Keys are relative, '/'-separated, made of {@code [A-Za-z0-9._-]} segments, no
 *       empty, {@code .} or {@code ..} segment (see {@link ObjectKeys#check}); a bad key is
 *       an {@link IllegalArgumentException} that names it.</li>
 *   <li>{@link #put} is atomic and durable: when it returns, the whole object is stored and
 *       survives a crash of this host; readers never see a half-written object, and a
 *       failed put leaves the previous state (no object, or the old one) visible.</li>
 *   <li>{@link #putIfAbsent} does the same, but only if no object exists under the key;
 *       exactly one of several concurrent callers wins. Only stores that report
 *       {@link StorageFeature#CONDITIONAL_CREATE} guarantee that; others check then write.</li>
 *   <li>{@link #get} of a missing key is {@code Optional.empty()}, never an exception.</li>
 *   <li>{@link #list} returns every object under a key prefix (a plain string prefix, not
 *       a directory), sorted by key; a prefix with nothing under it lists as empty.</li>
 *   <li>{@link #delete} removes the given keys; missing keys are not an error.</li>
 *   <li>Failures are {@link StorageException}s: {@link StorageUnavailableException} when
 *       the store cannot be reached (worth retrying), {@link StorageFullException} when it
 *       has no room, plain {@link StorageException} otherwise. Each names the key.</li>
 * </ul>
 */
public interface ObjectStore extends AutoCloseable {

    /** What this store guarantees beyond the base contract. */
    Set<StorageFeature> features();

    /** A short, credential-free description for logs and messages ({@code file:///srv/repo}, {@code s3://bucket/prefix}). */
    String describe();

    /**
     * Stores {@code data} under {@code key}, replacing any existing object, atomically and durably.
     *
     * @param length exact byte count of {@code data}, or -1 when unknown; a stream that ends
     *     early or runs long fails the put and stores nothing
     */
    void put(String key, InputStream data, long length) throws IOException;

    /**
     * Content a store may read more than once: each call of {@link #open} starts it again from
     * its first byte. A store that can retry an upload after a transient failure (S3 answering
     * 503 SlowDown, a connection reset) opens it again for each try.
     */
    @FunctionalInterface
    interface Body {
        InputStream open() throws IOException;
    }

    /** {@link #put(String, InputStream, long)} of content the store may read again to retry; by default it is read once. */
    default void put(String key, Body body, long length) throws IOException {
        try (InputStream data = body.open()) {
            put(key, data, length);
        }
    }

    /** {@link #putIfAbsent(String, InputStream, long)} of content the store may read again to retry; by default it is read once. */
    default boolean putIfAbsent(String key, Body body, long length) throws IOException {
        try (InputStream data = body.open()) {
            return putIfAbsent(key, data, length);
        }
    }

    /** Stores a local file; drivers may upload it in parallel parts. */
    void putFile(String key, Path file) throws IOException;

    /**
     * Stores {@code data} under {@code key} only if nothing is stored there yet.
     *
     * @return true if this call created the object, false if one existed (nothing written)
     */
    boolean putIfAbsent(String key, InputStream data, long length) throws IOException;

    /** Opens an object for streamed reading; the caller closes the stream. */
    Optional<InputStream> get(String key) throws IOException;

    /** Size and time of an object, if it exists. */
    Optional<ObjectStat> stat(String key) throws IOException;

    /** Every object whose key starts with {@code prefix}, sorted by key. */
    List<ObjectStat> list(String prefix) throws IOException;

    /** Deletes the given keys (in batches where the store allows); missing keys are ignored. */
    void delete(Collection<String> keys) throws IOException;

    @Override
    void close() throws IOException;
}

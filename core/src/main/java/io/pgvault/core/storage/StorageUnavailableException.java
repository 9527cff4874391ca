package io.pgvault.core.storage;

import java.time.Duration;
import java.util.Optional;

/** The store could not be reached or answered with a server-side error: worth retrying later. */
public class StorageUnavailableException extends StorageException {

    private final Duration retryAfter;

    public StorageUnavailableException(String message, Throwable cause) {
        this(message, cause, null);
    }

    /** @param retryAfter how long the store asked its clients to wait (HTTP {@code Retry-After}), or null */
    public StorageUnavailableException(String message, Throwable cause, Duration retryAfter) {
        super(message, cause);
        this.retryAfter = retryAfter;
    }

    /** How long the store asked its clients to wait before they try again, when it said. */
    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }
}

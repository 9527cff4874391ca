package io.pgvault.server.load;

import java.time.Duration;

/**
 * A request waited its turn for as long as the server lets it and did not get one: the
 * server is at its concurrency limit for this kind of request. Answered 503 with
 * {@code Retry-After}; nothing was read or changed.
 */
public final class BusyException extends RuntimeException {

    private final Duration retryAfter;

    public BusyException(String message, Duration retryAfter) {
        super(message);
        this.retryAfter = retryAfter;
    }

    public Duration retryAfter() {
        return retryAfter;
    }
}

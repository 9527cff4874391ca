package io.pgvault.core.spool;

import io.pgvault.core.storage.StorageUnavailableException;

import java.time.Duration;

/**
 * The local spool has no room for this upload now: its byte budget is taken by uploads in
 * flight, or its file system is nearly full. Nothing was stored and nothing is lost; the
 * sender retries (PostgreSQL's archiver does) after {@link #retryAfter()}.
 */
public final class SpoolFullException extends StorageUnavailableException {

    public SpoolFullException(String message, Duration retryAfter) {
        super(message, null, retryAfter);
    }

    /** @param cause the write that met a full disk */
    public SpoolFullException(String message, Throwable cause, Duration retryAfter) {
        super(message, cause, retryAfter);
    }
}

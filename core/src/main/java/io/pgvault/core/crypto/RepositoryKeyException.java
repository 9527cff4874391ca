package io.pgvault.core.crypto;

import io.pgvault.core.repo.UnsupportedFormatException;

/**
 * A repository key that is missing, wrong, or given where none is needed; the message says
 * which and what to pass. Like a newer format, no retry changes it.
 */
public class RepositoryKeyException extends UnsupportedFormatException {
    public RepositoryKeyException(String message) {
        super(message);
    }
}

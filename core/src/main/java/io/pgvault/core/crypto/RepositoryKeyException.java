package io.pgvault.core.crypto;

import java.io.IOException;

/** A repository key that is missing, wrong, or given where none is needed; the message says which and what to pass. */
public class RepositoryKeyException extends IOException {
    public RepositoryKeyException(String message) {
        super(message);
    }
}

package io.pgvault.core.storage;

/** The store has no room (disk full, quota exceeded). Nothing was stored. */
public class StorageFullException extends StorageException {

    public StorageFullException(String message, Throwable cause) {
        super(message, cause);
    }
}

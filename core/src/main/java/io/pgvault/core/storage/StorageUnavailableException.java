package io.pgvault.core.storage;

/** The store could not be reached or answered with a server-side error: worth retrying later. */
public class StorageUnavailableException extends StorageException {

    public StorageUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}

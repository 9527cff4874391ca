package io.pgvault.core.repo;

import java.io.IOException;

/** A stored object does not match what it says about itself (bad envelope, checksum or length). */
public class CorruptObjectException extends IOException {

    public CorruptObjectException(String message) {
        super(message);
    }

    public CorruptObjectException(String message, Throwable cause) {
        super(message, cause);
    }
}

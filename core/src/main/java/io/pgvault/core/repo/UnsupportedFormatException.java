package io.pgvault.core.repo;

import java.io.IOException;

/** The repository or an object in it was written by a newer pgvault than this one. */
public class UnsupportedFormatException extends IOException {

    public UnsupportedFormatException(String message) {
        super(message);
    }
}

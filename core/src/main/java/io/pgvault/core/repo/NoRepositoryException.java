package io.pgvault.core.repo;

import java.io.IOException;

/** There is no pgvault repository where the URL points (no format object): a wrong URL or prefix, not damage. */
public class NoRepositoryException extends IOException {

    public NoRepositoryException(String message) {
        super(message);
    }
}

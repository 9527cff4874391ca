package io.pgvault.server.catalog;

/** The catalog database failed. The repository is unaffected; the catalog can be rebuilt. */
public class CatalogException extends RuntimeException {

    public CatalogException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.pgvault.server.api;

import io.micronaut.http.HttpStatus;

/** A refusal with the status and message the client should see. */
public class ApiException extends RuntimeException {

    private final HttpStatus status;

    public ApiException(HttpStatus status, String message) {
        super(message);
        this.status = status;
    }

    public HttpStatus status() {
        return status;
    }
}

package io.pgvault.server.api;

import io.micronaut.http.HttpHeaders;
import io.micronaut.http.HttpMethod;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Error;
import io.pgvault.core.archive.WalConflictException;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.storage.StorageException;
import io.pgvault.core.storage.StorageFullException;
import io.pgvault.core.storage.StorageUnavailableException;
import io.pgvault.core.wal.InvalidWalException;
import io.pgvault.core.wal.WalProblem;
import io.pgvault.server.load.BusyException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;

/**
 * Maps every refusal to one status and a plain-text message. {@code curl -f} in
 * {@code archive_command} only shows the status, so each refusal is logged here too:
 * the server log is where a DBA finds the reason.
 */
@Controller
public class ApiErrors {

    private static final Logger LOG = LoggerFactory.getLogger(ApiErrors.class);

    /** The status the handlers below answer {@code e} with: for recording a refusal where it happens, in the same words. */
    public static HttpStatus statusOf(Throwable e) {
        if (e instanceof ApiException api) {
            return api.status();
        } else if (e instanceof InvalidWalException invalid) {
            return invalid.problem() == WalProblem.FOREIGN_SYSTEM ? HttpStatus.CONFLICT : HttpStatus.BAD_REQUEST;
        } else if (e instanceof WalConflictException) {
            return HttpStatus.CONFLICT;
        } else if (e instanceof StorageFullException) {
            return HttpStatus.INSUFFICIENT_STORAGE;
        } else if (e instanceof StorageException || e instanceof BusyException) {
            return HttpStatus.SERVICE_UNAVAILABLE;
        } else if (e instanceof IllegalArgumentException) {
            return HttpStatus.BAD_REQUEST;
        }
        return HttpStatus.INTERNAL_SERVER_ERROR;
    }

    @Error(global = true, exception = ApiException.class)
    public HttpResponse<String> api(HttpRequest<?> request, ApiException e) {
        return respond(request, e.status(), e.getMessage());
    }

    @Error(global = true, exception = InvalidWalException.class)
    public HttpResponse<String> invalidWal(HttpRequest<?> request, InvalidWalException e) {
        return respond(request, statusOf(e), e.getMessage());
    }

    @Error(global = true, exception = WalConflictException.class)
    public HttpResponse<String> conflict(HttpRequest<?> request, WalConflictException e) {
        return respond(request, HttpStatus.CONFLICT, e.getMessage());
    }

    @Error(global = true, exception = StorageFullException.class)
    public HttpResponse<String> full(HttpRequest<?> request, StorageFullException e) {
        return respond(request, HttpStatus.INSUFFICIENT_STORAGE, e.getMessage());
    }

    @Error(global = true, exception = StorageUnavailableException.class)
    public HttpResponse<String> unavailable(HttpRequest<?> request, StorageUnavailableException e) {
        // A full spool says how long to wait; an outage of the store does not know.
        return e.retryAfter().isPresent() ? retryLater(request, e.getMessage(), e.retryAfter().get())
                : respond(request, HttpStatus.SERVICE_UNAVAILABLE, e.getMessage());
    }

    @Error(global = true, exception = BusyException.class)
    public HttpResponse<String> busy(HttpRequest<?> request, BusyException e) {
        return retryLater(request, e.getMessage(), e.retryAfter());
    }

    /** At capacity, not broken: 503 with the time to wait, which PostgreSQL's archiver, wal-fetch and S3-style clients honour. */
    private static HttpResponse<String> retryLater(HttpRequest<?> request, String message, Duration retryAfter) {
        // A warning, not an error: the server is doing what it was configured to do.
        LOG.warn("{} {} -> 503: {}", request.getMethodName(), request.getPath(), message);
        return response(request, HttpStatus.SERVICE_UNAVAILABLE, message)
                .header(HttpHeaders.RETRY_AFTER, Long.toString(Math.max(1, retryAfter.toSeconds())));
    }

    @Error(global = true, exception = CorruptObjectException.class)
    public HttpResponse<String> corrupt(HttpRequest<?> request, CorruptObjectException e) {
        LOG.error("Damaged object in the repository: {}", e.getMessage());
        return respond(request, HttpStatus.INTERNAL_SERVER_ERROR, e.getMessage());
    }

    @Error(global = true, exception = StorageException.class)
    public HttpResponse<String> storage(HttpRequest<?> request, StorageException e) {
        // Unclassified storage failures are treated as transient: PostgreSQL retries.
        return respond(request, HttpStatus.SERVICE_UNAVAILABLE, e.getMessage());
    }

    @Error(global = true, exception = IllegalArgumentException.class)
    public HttpResponse<String> badInput(HttpRequest<?> request, IllegalArgumentException e) {
        return respond(request, HttpStatus.BAD_REQUEST, e.getMessage());
    }

    static HttpResponse<String> respond(HttpRequest<?> request, HttpStatus status, String message) {
        if (status.getCode() >= 500) {
            LOG.error("{} {} -> {}: {}", request.getMethodName(), request.getPath(), status.getCode(), message);
        } else {
            LOG.warn("{} {} -> {}: {}", request.getMethodName(), request.getPath(), status.getCode(), message);
        }
        return response(request, status, message);
    }

    private static MutableHttpResponse<String> response(HttpRequest<?> request, HttpStatus status, String message) {
        var response = HttpResponse.<String>status(status).contentType(MediaType.TEXT_PLAIN_TYPE).body(message + "\n");
        if (request.getMethod() == HttpMethod.PUT || request.getMethod() == HttpMethod.POST) {
            // The refused body may be unread: close rather than leave it in a kept-alive connection.
            response.header(HttpHeaders.CONNECTION, "close");
        }
        return response;
    }
}

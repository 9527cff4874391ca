package io.pgvault.server.wal;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.body.ByteBody;
import io.micronaut.http.MediaType;
import io.micronaut.http.ServerHttpRequest;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Head;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.annotation.Put;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.pgvault.core.archive.ArchiveResult;
import io.pgvault.core.archive.PushHeaders;
import io.pgvault.server.api.ApiException;
import io.pgvault.server.api.DownloadBody;
import io.pgvault.server.load.FairLimiter;
import io.pgvault.server.load.RequestLimits;
import jakarta.inject.Named;

import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * The endpoints PostgreSQL's {@code archive_command} and {@code restore_command} call:
 * <pre>
 *   curl -fsS -T %p http://HOST:8432/v1/clusters/main/wal/%f
 *   curl -fsS -o %p http://HOST:8432/v1/clusters/main/wal/%f
 * </pre>
 * Uploads stream through on the blocking executor, handed over from the event loop in
 * batches ({@link GatheredBody}: a bounded buffer per request). Each
 * kind runs only so many at once, fair across clusters ({@link RequestLimits}).
 */
@Controller("/v1/clusters/{cluster}/wal")
@ExecuteOn(TaskExecutors.BLOCKING)
public class WalController {

    private final WalService wal;
    private final FetchBuffers buffers;
    private final RequestLimits limits;
    private final Executor blocking;

    public WalController(WalService wal, FetchBuffers buffers, RequestLimits limits, @Named(TaskExecutors.BLOCKING) Executor blocking) {
        this.wal = wal;
        this.buffers = buffers;
        this.limits = limits;
        this.blocking = blocking;
    }

    @Put(value = "/{file}", consumes = MediaType.ALL, produces = MediaType.TEXT_PLAIN)
    public HttpResponse<String> push(String cluster, String file, HttpRequest<?> request) throws IOException {
        ArchiveResult result;
        ByteBody bytes = ((ServerHttpRequest<?>) request).byteBody();
        InputStream body = null;
        String claimed = request.getHeaders().get(PushHeaders.SHA256);
        if (claimed != null) {
            try {
                return confirm(cluster, file, claimed, request);
            } catch (IOException | RuntimeException e) {
                drain(bytes.toInputStream()); // a body sent with it all the same: read, so the refusal arrives
                throw e;
            }
        }
        try (FairLimiter.Permit turn = limits.pushes().acquire(cluster)) {
            boolean zstd = zstdBody(request);
            // Only with a turn: a push waiting for one holds no queued bytes.
            body = GatheredBody.of(bytes);
            // A zstd body announces the file's own length apart; its Content-Length is the frames'.
            result = wal.push(cluster, file, body, zstd ? rawLength(request) : request.getContentLength(), zstd);
        } catch (IOException | RuntimeException e) {
            // Read what the client still sends, so it receives the refusal instead of a reset connection.
            drain(body != null ? body : bytes.toInputStream());
            throw e;
        } finally {
            if (body != null) {
                body.close();
            }
        }
        boolean stored = result.outcome() == ArchiveResult.Outcome.STORED;
        String message = (stored ? "stored " : "already archived, identical: ") + file + " sha256=" + result.header().sha256() + "\n";
        return stored ? HttpResponse.created(message) : HttpResponse.ok(message);
    }

    /**
     * A push by reference: no body, the file's SHA-256 and length. 200 when the repository holds
     * exactly that file; 412 otherwise, and the sender sends the file itself.
     */
    private HttpResponse<String> confirm(String cluster, String file, String sha256, HttpRequest<?> request) throws IOException {
        if (!sha256.strip().matches("[0-9a-fA-F]{64}") || request.getContentLength() > 0) {
            throw new ApiException(HttpStatus.BAD_REQUEST, PushHeaders.SHA256 + " takes the file's SHA-256 (64 hex digits) with "
                    + PushHeaders.RAW_LENGTH + " and no body; nothing was stored");
        }
        Optional<ArchiveResult> result = wal.confirm(cluster, file, sha256.strip(), rawLength(request));
        if (result.isEmpty()) {
            return HttpResponse.<String>status(HttpStatus.PRECONDITION_FAILED).body("not stored with that content: send " + file + "\n");
        }
        return HttpResponse.ok("already archived, identical: " + file + " sha256=" + result.get().header().sha256() + "\n");
    }

    /** Whether the body is zstd frames ({@code X-Pgvault-Encoding: zstd}, as wal-push sends it); any other encoding is refused. */
    private static boolean zstdBody(HttpRequest<?> request) {
        String encoding = request.getHeaders().get(PushHeaders.ENCODING);
        if (encoding == null || encoding.isBlank()) {
            return false;
        }
        if (encoding.strip().equalsIgnoreCase(PushHeaders.ZSTD)) {
            return true;
        }
        throw new ApiException(HttpStatus.BAD_REQUEST, PushHeaders.ENCODING + ": " + encoding + " is not an encoding pgvault reads: send the file as it is, "
                + "or zstd frames with " + PushHeaders.ENCODING + ": zstd and " + PushHeaders.RAW_LENGTH + "; nothing was stored");
    }

    /** The file's own length, which a zstd body or a push by reference must announce ({@link PushHeaders#RAW_LENGTH}). */
    private static long rawLength(HttpRequest<?> request) {
        String value = request.getHeaders().get(PushHeaders.RAW_LENGTH);
        if (value == null || !value.strip().matches("\\d{1,12}")) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "this push needs " + PushHeaders.RAW_LENGTH + ": the file's own length in bytes"
                    + (value == null ? "" : ", not '" + value + "'") + "; nothing was stored");
        }
        return Long.parseLong(value.strip());
    }

    private static void drain(InputStream body) {
        try {
            body.transferTo(java.io.OutputStream.nullOutputStream());
        } catch (IOException | RuntimeException ignored) {
            // the client is gone or the body was cut; the refusal stands
        }
    }

    /**
     * Files up to this size (every segment of the default 16 MiB and up to 64 MiB) are read
     * and verified whole before the response starts, when {@link FetchBuffers} has room: a
     * checksum mismatch is then a clean 500 rather than a connection cut mid-body, and the
     * body is written from memory. Larger segments, and any GET that finds no room, stream.
     */
    static final long WHOLE_BODY_LIMIT = 64L << 20;

    /**
     * Whether the file is archived, and its length, with no body. Answered here rather than by
     * the GET route: the server builds a GET's response for a HEAD and drops its body without
     * closing it, so each HEAD (a probe, {@code curl -I}) kept a fetch turn and up to a segment
     * of buffer room for good. The content is not read, so not verified: a GET still is.
     */
    @Head("/{file}")
    @Produces(MediaType.APPLICATION_OCTET_STREAM)
    public HttpResponse<?> head(String cluster, String file) throws IOException {
        try (FairLimiter.Permit turn = limits.fetches().acquire(cluster)) {
            WalService.Fetched fetched = wal.fetch(cluster, file);
            fetched.content().close();
            return HttpResponse.ok().contentType(MediaType.APPLICATION_OCTET_STREAM_TYPE).contentLength(fetched.rawSize());
        }
    }

    @Get(value = "/{file}", produces = MediaType.APPLICATION_OCTET_STREAM, headRoute = false)
    public HttpResponse<?> fetch(String cluster, String file) throws IOException {
        FairLimiter.Permit turn = limits.fetches().acquire(cluster);
        try {
            WalService.Fetched fetched = wal.fetch(cluster, file);
            InputStream body = fetched.rawSize() <= WHOLE_BODY_LIMIT
                    ? buffers.whole(fetched.content(), fetched.rawSize()).orElseGet(fetched::content) : fetched.content();
            // The stream is closed when the body is written or the client is gone: that gives a whole body's
            // room back, and the turn. Not a StreamedFile, whose conditional-GET shortcut answers 304 without
            // ever closing the stream.
            return HttpResponse.ok(DownloadBody.of(turn.heldBy(body), blocking)).contentType(MediaType.APPLICATION_OCTET_STREAM_TYPE);
        } catch (IOException | RuntimeException e) {
            turn.close();
            throw e;
        }
    }
}

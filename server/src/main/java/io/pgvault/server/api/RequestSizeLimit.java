package io.pgvault.server.api;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpMethod;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.RequestFilter;
import io.micronaut.http.annotation.ServerFilter;
import io.micronaut.http.filter.FilterPatternStyle;

import java.util.regex.Pattern;

/**
 * Only a WAL push may send a large body (up to {@code micronaut.server.max-request-size}, for
 * 1 GiB segments, and it is streamed to disk). Every other endpoint takes small JSON, which
 * the server reads whole: a body over {@value #MAX_JSON_BYTES} bytes is refused with 413
 * before it is read, and one without a length (chunked) with 411, so a client cannot make the
 * server buffer a gigabyte of "JSON".
 */
@ServerFilter(value = "/**", patternStyle = FilterPatternStyle.ANT)
public class RequestSizeLimit {

    static final long MAX_JSON_BYTES = 1L << 20;
    private static final Pattern WAL_PUSH = Pattern.compile("/v1/clusters/[^/]+/wal/[^/]+");

    @RequestFilter
    @Nullable
    public MutableHttpResponse<String> limit(HttpRequest<?> request) {
        if (request.getMethod() == HttpMethod.PUT && WAL_PUSH.matcher(request.getPath()).matches()) {
            return null;
        }
        long length = request.getContentLength();
        if (length > MAX_JSON_BYTES) {
            return refuse(HttpStatus.REQUEST_ENTITY_TOO_LARGE, request.getMethod() + " " + request.getPath() + " takes at most "
                    + MAX_JSON_BYTES + " bytes of JSON, not " + length + " (only WAL pushes send large bodies)");
        }
        if (length < 0 && request.getHeaders().contains("Transfer-Encoding")) {
            return refuse(HttpStatus.LENGTH_REQUIRED, request.getMethod() + " " + request.getPath() + " needs a Content-Length "
                    + "(its JSON body is small; chunked bodies are taken for WAL pushes only)");
        }
        return null;
    }

    private static MutableHttpResponse<String> refuse(HttpStatus status, String message) {
        return HttpResponse.<String>status(status).contentType(MediaType.TEXT_PLAIN_TYPE).body(message + "\n");
    }
}

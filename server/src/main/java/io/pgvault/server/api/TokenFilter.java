package io.pgvault.server.api;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.RequestFilter;
import io.micronaut.http.annotation.ServerFilter;
import io.pgvault.server.config.ServerConfig;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * When {@code pgvault.security.token} is set, every {@code /v1} request must send
 * {@code Authorization: Bearer <token>}; others get 401. Health and metrics stay open.
 */
@ServerFilter("/v1/**")
public class TokenFilter {

    private final byte[] token;

    public TokenFilter(ServerConfig config) {
        String configured = config.getSecurity().getToken();
        this.token = configured == null || configured.isBlank() ? null : configured.getBytes(StandardCharsets.UTF_8);
    }

    @RequestFilter
    @Nullable
    public MutableHttpResponse<String> check(HttpRequest<?> request) {
        if (token == null) {
            return null;
        }
        String header = request.getHeaders().getAuthorization().orElse("");
        byte[] presented = header.startsWith("Bearer ") ? header.substring(7).trim().getBytes(StandardCharsets.UTF_8) : new byte[0];
        if (MessageDigest.isEqual(presented, token)) {
            return null;
        }
        return HttpResponse.<String>status(HttpStatus.UNAUTHORIZED)
                .contentType(MediaType.TEXT_PLAIN_TYPE)
                .body("this pgvault server requires a token: send -H 'Authorization: Bearer <pgvault.security.token>'\n");
    }
}

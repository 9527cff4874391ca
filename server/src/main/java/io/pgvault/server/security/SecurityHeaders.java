package io.pgvault.server.security;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.ResponseFilter;
import io.micronaut.http.annotation.ServerFilter;
import io.micronaut.http.filter.FilterPatternStyle;

/**
 * Headers every answer carries: the dashboard may only load from this server and cannot be
 * framed by another site (clickjacking: a meta tag cannot say frame-ancestors); nothing is
 * sniffed into another type; API answers, which hold a cluster's state and are fetched
 * with a token, are never cached by a browser or a proxy.
 */
@ServerFilter(value = "/**", patternStyle = FilterPatternStyle.ANT)
public class SecurityHeaders {

    static final String POLICY = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            + "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    @ResponseFilter
    public void add(HttpRequest<?> request, MutableHttpResponse<?> response) {
        response.header("X-Content-Type-Options", "nosniff");
        response.header("Referrer-Policy", "no-referrer");
        if (request.getPath().startsWith("/v1/")) {
            response.header("Cache-Control", "no-store");
        } else {
            response.header("Content-Security-Policy", POLICY);
            response.header("X-Frame-Options", "DENY");
        }
    }
}

package io.pgvault.server.security;

import io.micronaut.http.HttpRequest;
import io.pgvault.core.security.ApiTokenEntry;

import java.security.Principal;
import java.util.Optional;

/**
 * Who sent a request, as {@link AccessFilter} established it, for the few endpoints that
 * answer with a listing over clusters and must cut it to the caller's. A request that
 * never passed the filter reads as a caller with no cluster at all (fail closed).
 */
public final class Caller implements Principal {

    private static final String ATTRIBUTE = "pgvault.caller";
    private static final Caller ANYONE = new Caller(null);
    private static final Caller NOBODY = new Caller(null);

    private final ApiTokenEntry token;

    private Caller(ApiTokenEntry token) {
        this.token = token;
    }

    /** The caller of a server without tokens: everything is open. */
    static Caller anyone() {
        return ANYONE;
    }

    static Caller of(ApiTokenEntry token) {
        return new Caller(token);
    }

    void attachTo(HttpRequest<?> request) {
        request.setAttribute(ATTRIBUTE, this);
    }

    public static Caller of(HttpRequest<?> request) {
        return request.getAttribute(ATTRIBUTE, Caller.class).orElse(NOBODY);
    }

    /** Whether listings may show this cluster to the caller. */
    public boolean sees(String cluster) {
        if (this == ANYONE) {
            return true;
        }
        return token != null && token.covers(cluster);
    }

    public Optional<ApiTokenEntry> token() {
        return Optional.ofNullable(token);
    }

    @Override
    public String getName() {
        return token == null ? "anonymous" : token.name();
    }
}

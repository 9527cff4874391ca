package io.pgvault.server.security;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpAttributes;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.RequestFilter;
import io.micronaut.http.annotation.ServerFilter;
import io.micronaut.http.filter.FilterPatternStyle;
import io.pgvault.core.security.ApiRole;
import io.pgvault.core.security.ApiTokenEntry;
import io.pgvault.server.config.ServerConfig;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Every request, API and management endpoints alike, checked against {@link ApiAccess}:
 * 401 without a token this server knows, 403 for a token whose role or clusters do not
 * cover the request. Messages say what was needed and how to get it; they never echo the
 * token or its hash.
 */
@ServerFilter(value = "/**", patternStyle = FilterPatternStyle.ANT)
public class AccessFilter {

    private final TokenRegistry tokens;
    private final ApiAccess access;

    public AccessFilter(TokenRegistry tokens, ServerConfig config) {
        this.tokens = tokens;
        this.access = new ApiAccess(config.getSecurity().isAnonymousHealth(), config.getSecurity().isAnonymousMetrics());
    }

    @RequestFilter
    @Nullable
    public MutableHttpResponse<String> check(HttpRequest<?> request) {
        String path = request.getPath();
        Optional<ApiAccess.Requirement> requirement;
        try {
            requirement = access.require(request.getMethod(), path, name -> single(request, name));
        } catch (IllegalArgumentException e) {
            return refuse(HttpStatus.BAD_REQUEST, e.getMessage());
        }
        if (requirement.isEmpty()) {
            return refuse(HttpStatus.NOT_FOUND, "pgvault has no API endpoint " + request.getMethod() + " " + path
                    + " (an endpoint missing from the access table is refused to every token)");
        }
        ApiAccess.Requirement needed = requirement.get();
        if (!tokens.enabled()) {
            // No tokens: everyone is everything, health details included (as before tokens existed).
            Caller.anyone().attachTo(request);
            request.setAttribute(HttpAttributes.PRINCIPAL, Caller.anyone());
            return null;
        }
        Optional<String> presented = bearer(request);
        Optional<ApiTokenEntry> token = presented.flatMap(tokens::find);
        if (needed.anonymous()) {
            token.ifPresent(t -> identify(request, t));
            return null;
        }
        if (presented.isEmpty()) {
            return refuse(HttpStatus.UNAUTHORIZED, "this pgvault server requires a token for " + request.getMethod() + " " + path
                    + ": send -H 'Authorization: Bearer TOKEN' (curl -H @FILE with a token file, or --token-file FILE) with a token of role "
                    + roles(needed) + forCluster(needed) + "; pgvault token create makes one");
        }
        if (token.isEmpty()) {
            return refuse(HttpStatus.UNAUTHORIZED, "the token sent is not one this pgvault server knows (not in pgvault.security.tokens-file, "
                    + "nor pgvault.security.token); check the token file, or create a token with pgvault token create and add its line "
                    + "to the server's tokens file");
        }
        ApiTokenEntry t = token.get();
        if (!needed.roles().contains(t.role())) {
            return refuse(HttpStatus.FORBIDDEN, t.describe() + " may not " + needed.endpoint() + ": that needs role " + roles(needed)
                    + forCluster(needed) + "; use such a token (pgvault token create NAME --role " + weakest(needed).word()
                    + (needed.cluster() == null ? "" : " --cluster " + needed.cluster()) + ")");
        }
        if (needed.everyCluster() && !t.allClusters()) {
            return refuse(HttpStatus.FORBIDDEN, t.describe() + " is for some clusters only, and " + needed.endpoint() + " shows every "
                    + "cluster's names and figures; use a token for all clusters (pgvault token create NAME --role " + t.role().word()
                    + ", without --cluster)");
        }
        if (needed.cluster() != null && !t.covers(needed.cluster())) {
            return refuse(HttpStatus.FORBIDDEN, t.describe() + " may not act on cluster '" + needed.cluster() + "' (" + needed.endpoint()
                    + "); use a token for that cluster (pgvault token create NAME --role " + t.role().word() + " --cluster "
                    + needed.cluster() + ")");
        }
        identify(request, t);
        return null;
    }

    private static void identify(HttpRequest<?> request, ApiTokenEntry token) {
        Caller caller = Caller.of(token);
        caller.attachTo(request);
        // Micronaut's health endpoint shows details to a request with a principal
        // (details-visible: AUTHENTICATED); archive tokens live on database hosts and get the status only.
        if (token.role() != ApiRole.ARCHIVE) {
            request.setAttribute(HttpAttributes.PRINCIPAL, caller);
        }
    }

    @Nullable
    private static String single(HttpRequest<?> request, String name) {
        List<String> values = request.getParameters().getAll(name);
        if (values.size() > 1) {
            throw new IllegalArgumentException("the query gives '" + name + "' " + values.size() + " times; give it once");
        }
        return values.isEmpty() ? null : values.get(0);
    }

    private static Optional<String> bearer(HttpRequest<?> request) {
        String header = request.getHeaders().getAuthorization().orElse("").strip();
        if (header.length() < 7 || !header.substring(0, 7).toLowerCase(Locale.ROOT).equals("bearer ")) {
            return Optional.empty();
        }
        String token = header.substring(7).strip();
        return token.isEmpty() ? Optional.empty() : Optional.of(token);
    }

    private static String roles(ApiAccess.Requirement needed) {
        return needed.roles().stream().sorted().map(ApiRole::word).collect(Collectors.joining(" or "));
    }

    private static ApiRole weakest(ApiAccess.Requirement needed) {
        return needed.roles().stream().sorted().findFirst().orElse(ApiRole.ADMIN);
    }

    private static String forCluster(ApiAccess.Requirement needed) {
        return needed.cluster() == null ? "" : " for cluster '" + needed.cluster() + "'";
    }

    private static MutableHttpResponse<String> refuse(HttpStatus status, String message) {
        MutableHttpResponse<String> response = HttpResponse.<String>status(status).contentType(MediaType.TEXT_PLAIN_TYPE).body(message + "\n");
        if (status == HttpStatus.UNAUTHORIZED) {
            response.header("WWW-Authenticate", "Bearer realm=\"pgvault\"");
        }
        return response;
    }
}

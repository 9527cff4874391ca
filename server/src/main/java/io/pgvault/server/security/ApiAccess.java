package io.pgvault.server.security;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpMethod;
import io.pgvault.core.security.ApiRole;

import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static io.pgvault.core.security.ApiRole.ADMIN;
import static io.pgvault.core.security.ApiRole.ARCHIVE;
import static io.pgvault.core.security.ApiRole.READ;

/**
 * Who may call what: the one table that maps every endpoint to the roles allowed and the
 * cluster a token must cover. A {@code /v1} request that matches no line is refused,
 * whatever its token, so an endpoint added without a line here cannot be reached
 * ({@code ApiAccessTest} also checks every route of the server against this table).
 * Outside {@code /v1} (Micronaut's management endpoints) admin is required, except
 * {@code /health} and {@code /prometheus} when configured open, and the dashboard's static
 * files ({@code /} and {@code /ui/...}), which hold no data.
 */
public final class ApiAccess {

    /** Where the cluster a request acts on comes from. */
    public enum ClusterFrom {
        /** None: the request is not about one cluster (admin-only operations). */
        NONE,
        /** The path's {@code {cluster}} segment. */
        PATH,
        /** A listing over clusters: any token with the role may call it; the answer holds only its clusters. */
        LISTING,
        /** The {@code key} query value: {@code clusters/NAME/...}, or the format object that every reader needs. */
        OBJECT_KEY,
        /** The {@code prefix} query value: one cluster's prefix, or a listing as {@link #LISTING}. */
        OBJECT_PREFIX
    }

    /** A line of the table. {@code roles} always includes admin. */
    public record Rule(HttpMethod method, String pattern, Set<ApiRole> roles, ClusterFrom clusterFrom) {
        public String endpoint() {
            return method + " " + pattern;
        }
    }

    /**
     * What a request needs.
     *
     * @param cluster   the cluster the token must cover; null when any token with the role will do
     * @param anonymous true when no token is needed at all
     * @param listing   true when the answer is cut to the caller's clusters
     * @param everyCluster true when the answer covers every cluster and cannot be cut: a token scoped to some is refused
     */
    public record Requirement(String endpoint, Set<ApiRole> roles, @Nullable String cluster, boolean anonymous, boolean listing,
                              boolean everyCluster) {

        public Requirement(String endpoint, Set<ApiRole> roles, @Nullable String cluster, boolean anonymous, boolean listing) {
            this(endpoint, roles, cluster, anonymous, listing, false);
        }
    }

    /** The format object: every reader opens it first, whatever its clusters. */
    static final String FORMAT_OBJECT = "pgvault-format.json";
    private static final String CLUSTERS = "clusters/";

    public static final List<Rule> V1 = List.of(
            // archive_command and curl restore_command
            rule(HttpMethod.PUT, "/v1/clusters/{cluster}/wal/{file}", ClusterFrom.PATH, ARCHIVE),
            rule(HttpMethod.GET, "/v1/clusters/{cluster}/wal/{file}", ClusterFrom.PATH, ARCHIVE, READ),
            // what restores, info, backups and listings read
            rule(HttpMethod.GET, "/v1/clusters/{cluster}/wal", ClusterFrom.PATH, READ),
            rule(HttpMethod.GET, "/v1/clusters/{cluster}/backups", ClusterFrom.PATH, READ),
            rule(HttpMethod.GET, "/v1/clusters/{cluster}/backups/{id}", ClusterFrom.PATH, READ),
            rule(HttpMethod.GET, "/v1/clusters/{cluster}/stream", ClusterFrom.PATH, READ),
            // check without side effects on the cluster: monitoring with a read token.
            rule(HttpMethod.GET, "/v1/clusters/{cluster}/check", ClusterFrom.PATH, READ),
            rule(HttpMethod.GET, "/v1/clusters/{cluster}", ClusterFrom.PATH, READ),
            rule(HttpMethod.GET, "/v1/clusters", ClusterFrom.LISTING, READ),
            // the dashboard's data
            rule(HttpMethod.GET, "/v1/status", ClusterFrom.LISTING, READ),
            rule(HttpMethod.GET, "/v1/clusters/{cluster}/status", ClusterFrom.PATH, READ),
            rule(HttpMethod.GET, "/v1/clusters/{cluster}/plan", ClusterFrom.PATH, READ),
            rule(HttpMethod.GET, "/v1/repository/objects", ClusterFrom.OBJECT_PREFIX, READ),
            rule(HttpMethod.GET, "/v1/repository/object", ClusterFrom.OBJECT_KEY, READ),
            // changes
            rule(HttpMethod.POST, "/v1/clusters/{cluster}/backups", ClusterFrom.PATH),
            rule(HttpMethod.DELETE, "/v1/clusters/{cluster}/backups/{id}", ClusterFrom.PATH),
            rule(HttpMethod.POST, "/v1/clusters/{cluster}/expire", ClusterFrom.PATH),
            // check with a restore point and a forced WAL switch: writes on the cluster, so admin.
            rule(HttpMethod.POST, "/v1/clusters/{cluster}/check", ClusterFrom.PATH),
            rule(HttpMethod.POST, "/v1/clusters", ClusterFrom.NONE),
            rule(HttpMethod.PATCH, "/v1/clusters/{cluster}", ClusterFrom.PATH),
            rule(HttpMethod.DELETE, "/v1/clusters/{cluster}", ClusterFrom.PATH),
            rule(HttpMethod.POST, "/v1/catalog/rebuild", ClusterFrom.NONE));

    private final boolean anonymousHealth;
    private final boolean anonymousMetrics;

    public ApiAccess(boolean anonymousHealth, boolean anonymousMetrics) {
        this.anonymousHealth = anonymousHealth;
        this.anonymousMetrics = anonymousMetrics;
    }

    private static Rule rule(HttpMethod method, String pattern, ClusterFrom from, ApiRole... roles) {
        Set<ApiRole> allowed = EnumSet.of(ADMIN, roles);
        return new Rule(method, pattern, Set.copyOf(allowed), from);
    }

    /**
     * What the request needs; empty when it is a {@code /v1} request no line maps (refused).
     *
     * @param path  the decoded path, as the router sees it
     * @param query a query value by name, null when absent
     * @throws IllegalArgumentException for a path or key with empty, {@code .} or {@code ..} segments
     */
    public Optional<Requirement> require(HttpMethod method, String path, java.util.function.Function<String, String> query) {
        List<String> segments = segments(path);
        HttpMethod effective = method == HttpMethod.HEAD ? HttpMethod.GET : method;
        if (segments.isEmpty() || !segments.get(0).equals("v1")) {
            return Optional.of(management(effective, segments));
        }
        for (Rule rule : V1) {
            if (rule.method() != effective) {
                continue;
            }
            Optional<String> cluster = match(segments(rule.pattern()), segments);
            if (cluster.isEmpty()) {
                continue;
            }
            return Optional.of(switch (rule.clusterFrom()) {
                case NONE -> new Requirement(rule.endpoint(), rule.roles(), null, false, false);
                case PATH -> new Requirement(rule.endpoint(), rule.roles(), cluster.get(), false, false);
                case LISTING -> new Requirement(rule.endpoint(), rule.roles(), null, false, true);
                case OBJECT_KEY -> objectKey(rule, query.apply("key"));
                case OBJECT_PREFIX -> objectPrefix(rule, query.apply("prefix"));
            });
        }
        return Optional.empty();
    }

    private Requirement management(HttpMethod method, List<String> segments) {
        String first = segments.isEmpty() ? "" : segments.get(0);
        if (method == HttpMethod.GET && (segments.isEmpty() || first.equals("ui"))) {
            // The dashboard's page, scripts and styles hold no data: the page asks for a token and sends it with each /v1 call.
            return new Requirement("GET /" + String.join("/", segments) + " (the dashboard)", EnumSet.allOf(ApiRole.class), null, true, false);
        }
        if (first.equals("health")) {
            return new Requirement("GET /health", EnumSet.allOf(ApiRole.class), null, anonymousHealth, false);
        }
        if (first.equals("prometheus") && segments.size() == 1) {
            // Every cluster's name and figures in one answer: not for a token scoped to some of them.
            return new Requirement("GET /prometheus", Set.of(READ, ADMIN), null, anonymousMetrics, false, true);
        }
        return new Requirement("/" + String.join("/", segments) + " (outside the API)", Set.of(ADMIN), null, false, false);
    }

    private static Requirement objectKey(Rule rule, @Nullable String key) {
        String cluster = key == null ? null : clusterOfKey(key);
        // The format object, or a key the controller refuses anyway: no cluster to check.
        return new Requirement(rule.endpoint(), rule.roles(), cluster, false, false);
    }

    private static Requirement objectPrefix(Rule rule, @Nullable String prefix) {
        String cluster = prefix == null ? null : clusterOfKey(prefix);
        return new Requirement(rule.endpoint(), rule.roles(), cluster, false, cluster == null);
    }

    /** The cluster of {@code clusters/NAME/...}; null for keys outside any one cluster. */
    @Nullable
    public static String clusterOf(String key) {
        if (!key.startsWith(CLUSTERS)) {
            return null;
        }
        int end = key.indexOf('/', CLUSTERS.length());
        return end < 0 ? null : key.substring(CLUSTERS.length(), end);
    }

    /** {@link #clusterOf} of a key or prefix a client sent. @throws IllegalArgumentException for empty, '.' or '..' segments */
    @Nullable
    static String clusterOfKey(String key) {
        segments(key);
        return clusterOf(key);
    }

    /** The path's segments; a trailing slash is ignored. */
    static List<String> segments(String path) {
        String p = path.startsWith("/") ? path.substring(1) : path;
        if (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (p.isEmpty()) {
            return List.of();
        }
        List<String> segments = List.of(p.split("/", -1));
        for (String s : segments) {
            if (s.isEmpty() || s.equals(".") || s.equals("..")) {
                throw new IllegalArgumentException("'" + path + "' has an empty, '.' or '..' segment; pgvault's paths and keys have none");
            }
        }
        return segments;
    }

    /** The {@code {cluster}} segment (or "" when the pattern has none) if the path matches the pattern. */
    private static Optional<String> match(List<String> pattern, List<String> path) {
        if (pattern.size() != path.size()) {
            return Optional.empty();
        }
        String cluster = "";
        for (int i = 0; i < pattern.size(); i++) {
            String p = pattern.get(i);
            if (p.equals("{cluster}")) {
                cluster = path.get(i);
            } else if (!p.startsWith("{") && !p.equals(path.get(i))) {
                return Optional.empty();
            }
        }
        return Optional.of(cluster);
    }
}

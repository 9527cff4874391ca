package io.pgvault.server.security;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.micronaut.context.ApplicationContext;
import io.micronaut.http.HttpMethod;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.web.router.Router;
import io.micronaut.web.router.UriRouteInfo;
import io.pgvault.core.security.ApiRole;
import io.pgvault.core.security.ApiTokenEntry;
import io.pgvault.core.security.TokenSecret;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every endpoint of the access table, called by every role for its own cluster and for
 * another, over real HTTP against one server; then the cases a DBA worries about by name.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApiAccessTest {

    private static final String A = "alpha";
    private static final String B = "beta";
    private static final String WAL = "000000010000000000000001";
    private static final String BACKUP = "20260101T000000Z-abcdef";

    private final HttpClient http = HttpClient.newHttpClient();
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    /** Token by name: admin (all clusters), and archive / read for alpha. */
    private final Map<String, String> tokens = new LinkedHashMap<>();
    private final List<String> hashes = new ArrayList<>();
    private final List<String> bodies = new ArrayList<>();
    private Path dir;
    private Path tokensFile;
    private EmbeddedServer server;

    @BeforeAll
    void start() throws IOException {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
        logs.start();
        dir = Files.createTempDirectory("pgvault-access-test");
        StringBuilder lines = new StringBuilder("# name role clusters hash\n");
        for (String[] t : new String[][] {{"ops", "admin", "*"}, {"alpha-archive", "archive", A}, {"alpha-read", "read", A}}) {
            String token = TokenSecret.generate();
            tokens.put(t[0], token);
            ApiTokenEntry entry = new ApiTokenEntry(t[0], ApiRole.parse(t[1]), ApiTokenEntry.parseClusters(t[2]), TokenSecret.digest(token));
            hashes.add(TokenSecret.hashText(entry.hash()));
            lines.append(entry.toLine()).append('\n');
        }
        tokensFile = dir.resolve("tokens");
        Files.writeString(tokensFile, lines);
        Files.setPosixFilePermissions(tokensFile, PosixFilePermissions.fromString("rw-r-----"));
        // Objects of two clusters, laid down as the local store keeps them.
        for (String cluster : List.of(A, B)) {
            Path descriptor = dir.resolve("repo/clusters/" + cluster + "/cluster.json");
            Files.createDirectories(descriptor.getParent());
            Files.writeString(descriptor, "{}");
        }
        server = ApplicationContext.run(EmbeddedServer.class, properties(Map.of("pgvault.security.tokens-file", tokensFile.toString())));
        // Two registered clusters, for the filtered listing.
        for (String cluster : List.of(A, B)) {
            HttpResponse<String> added = call("ops", "POST", "/v1/clusters", "{\"name\":\"" + cluster + "\"}");
            assertThat(added.statusCode()).as(added.body()).isEqualTo(201);
        }
    }

    private Map<String, Object> properties(Map<String, Object> extra) {
        Map<String, Object> props = new LinkedHashMap<>(Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dir.resolve("data").toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog/pgvault")
                        + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH"));
        props.putAll(extra);
        return props;
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.getApplicationContext().close();
        }
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
        Fixtures.deleteTree(dir);
    }

    private HttpResponse<String> call(String tokenName, String method, String path, String body) {
        return callWith(tokenName == null ? null : tokens.get(tokenName), method, path, body);
    }

    private HttpResponse<String> callWith(String token, String method, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getPort() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null && body.startsWith("{")) {
            b.header("Content-Type", "application/json");
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            bodies.add(r.body());
            return r;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A concrete request for a line of the table, acting on {@code cluster}. */
    private static String concrete(ApiAccess.Rule rule, String cluster) {
        String path = rule.pattern().replace("{cluster}", cluster).replace("{file}", WAL).replace("{id}", BACKUP);
        return switch (rule.clusterFrom()) {
            case OBJECT_KEY -> path + "?key=clusters/" + cluster + "/cluster.json";
            case OBJECT_PREFIX -> path + "?prefix=clusters/" + cluster + "/";
            default -> path;
        };
    }

    private static String bodyFor(ApiAccess.Rule rule) {
        if (rule.method() == HttpMethod.PUT) {
            return "not a WAL segment";
        }
        return rule.method() == HttpMethod.POST || rule.method() == HttpMethod.PATCH ? "{}" : null;
    }

    @Test
    void everyRoleIsAllowedExactlyWhatTheTableSaysOnItsOwnClusterAndRefusedElsewhere() {
        List<String> failures = new ArrayList<>();
        // Destructive admin calls last, so the others meet the clusters as set up.
        List<ApiAccess.Rule> rules = new ArrayList<>(ApiAccess.V1);
        rules.sort((x, y) -> Boolean.compare(x.method() == HttpMethod.DELETE, y.method() == HttpMethod.DELETE));
        for (ApiAccess.Rule rule : rules) {
            for (String name : List.of("alpha-archive", "alpha-read", "ops")) {
                ApiRole role = name.equals("ops") ? ApiRole.ADMIN : name.equals("alpha-read") ? ApiRole.READ : ApiRole.ARCHIVE;
                // An admin token covers every cluster: it acts on unregistered ones, so its changes leave alpha and beta be.
                for (String cluster : name.equals("ops") ? List.of("gamma", "delta") : List.of(A, B)) {
                    boolean scoped = rule.clusterFrom() != ApiAccess.ClusterFrom.NONE && rule.clusterFrom() != ApiAccess.ClusterFrom.LISTING;
                    boolean allowed = rule.roles().contains(role) && (role == ApiRole.ADMIN || !scoped || cluster.equals(A));
                    String path = concrete(rule, cluster);
                    HttpResponse<String> r = call(name, rule.method().name(), path, bodyFor(rule));
                    boolean passed = r.statusCode() != 401 && r.statusCode() != 403 && !r.body().contains("access table");
                    if (passed != allowed) {
                        failures.add(name + " " + rule.method() + " " + path + ": expected " + (allowed ? "allowed" : "403") + ", got "
                                + r.statusCode() + " " + r.body().strip());
                    } else if (!allowed && r.statusCode() != 403) {
                        failures.add(name + " " + rule.method() + " " + path + ": expected 403, got " + r.statusCode());
                    }
                }
            }
            HttpResponse<String> anonymous = call(null, rule.method().name(), concrete(rule, A), bodyFor(rule));
            if (anonymous.statusCode() != 401) {
                failures.add("no token " + rule.endpoint() + ": expected 401, got " + anonymous.statusCode());
            }
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void everyRouteOfTheServerHasALineInTheTable() {
        Router router = server.getApplicationContext().getBean(Router.class);
        List<String> unmapped = new ArrayList<>();
        ApiAccess access = new ApiAccess(true, true);
        router.uriRoutes().forEach((UriRouteInfo<?, ?> route) -> {
            String template = route.getUriMatchTemplate().toString().replaceAll("\\{\\?[^}]*}", "");
            String path = template.replaceAll("\\{[^}]*}", "x");
            if (access.require(route.getHttpMethod(), path, q -> null).isEmpty()) {
                unmapped.add(route.getHttpMethod() + " " + template);
            }
        });
        assertThat(unmapped).as("routes without a line in ApiAccess (refused to every token)").isEmpty();
        // And the converse: a /v1 request no line maps is refused even to admin.
        HttpResponse<String> r = call("ops", "GET", "/v1/not-an-endpoint", null);
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(r.body()).contains("access table");
    }

    @Test
    void anArchiveTokenPushesAndFetchesItsClustersWalAndNothingElse() {
        HttpResponse<String> other = call("alpha-archive", "PUT", "/v1/clusters/" + B + "/wal/" + WAL, "x");
        assertThat(other.statusCode()).isEqualTo(403);
        assertThat(other.body()).contains("token 'alpha-archive' (role archive, clusters alpha) may not act on cluster 'beta'")
                .contains("pgvault token create NAME --role archive --cluster beta");
        HttpResponse<String> object = call("alpha-archive", "GET", "/v1/repository/object?key=clusters/" + A + "/cluster.json", null);
        assertThat(object.statusCode()).isEqualTo(403);
        assertThat(object.body()).contains("needs role read or admin for cluster 'alpha'");
        assertThat(call("alpha-archive", "DELETE", "/v1/clusters/" + A + "/backups/" + BACKUP, null).statusCode()).isEqualTo(403);
        assertThat(call("alpha-archive", "PATCH", "/v1/clusters/" + A, "{\"conninfo\":\"host=evil\"}").statusCode()).isEqualTo(403);
        // Its own cluster's WAL passes the filter (and is then judged on its content).
        HttpResponse<String> own = call("alpha-archive", "PUT", "/v1/clusters/" + A + "/wal/" + WAL, "not a segment");
        assertThat(own.statusCode()).isNotIn(401, 403);
    }

    @Test
    void aReadTokenCannotPushWalNorReadAnotherClustersObjects() {
        HttpResponse<String> push = call("alpha-read", "PUT", "/v1/clusters/" + A + "/wal/" + WAL, "x");
        assertThat(push.statusCode()).isEqualTo(403);
        assertThat(push.body()).contains("needs role archive or admin for cluster 'alpha'");
        assertThat(call("alpha-read", "GET", "/v1/repository/object?key=clusters/" + B + "/cluster.json", null).statusCode()).isEqualTo(403);
        assertThat(call("alpha-read", "GET", "/v1/repository/objects?prefix=clusters/" + B + "/", null).statusCode()).isEqualTo(403);
        assertThat(call("alpha-read", "GET", "/v1/repository/object?key=clusters/" + A + "/cluster.json", null).statusCode()).isEqualTo(200);
        assertThat(call("alpha-read", "GET", "/v1/repository/object?key=pgvault-format.json", null).statusCode()).isEqualTo(200);
        // A way round through '..' is refused before any store sees it.
        HttpResponse<String> dotdot = call("alpha-read", "GET", "/v1/repository/object?key=clusters/" + A + "/../" + B + "/cluster.json", null);
        assertThat(dotdot.statusCode()).isEqualTo(400);
        HttpResponse<String> twice = call("alpha-read", "GET", "/v1/repository/object?key=clusters/" + A + "/cluster.json&key=clusters/"
                + B + "/cluster.json", null);
        assertThat(twice.statusCode()).isEqualTo(400);
    }

    @Test
    void aHeadIsJudgedAsTheGetItStandsFor() {
        // The download routes answer HEAD themselves: the same rules, nothing learnt about another cluster's files.
        assertThat(call("alpha-read", "HEAD", "/v1/repository/object?key=clusters/" + A + "/cluster.json", null).statusCode()).isEqualTo(200);
        assertThat(call("alpha-read", "HEAD", "/v1/repository/object?key=clusters/" + B + "/cluster.json", null).statusCode()).isEqualTo(403);
        assertThat(call("alpha-read", "HEAD", "/v1/repository/object?key=clusters/" + B + "/no-such-object", null).statusCode()).isEqualTo(403);
        assertThat(call("alpha-read", "HEAD", "/v1/repository/object?key=clusters/" + A + "/../" + B + "/cluster.json", null).statusCode())
                .isEqualTo(400);
        assertThat(call("alpha-read", "HEAD", "/v1/clusters/" + B + "/wal/" + WAL, null).statusCode()).isEqualTo(403);
        assertThat(call("alpha-read", "HEAD", "/v1/clusters/" + A + "/wal/" + WAL, null).statusCode()).isNotIn(401, 403);
        assertThat(call(null, "HEAD", "/v1/clusters/" + A + "/wal/" + WAL, null).statusCode()).isEqualTo(401);
    }

    @Test
    void listingsShowOnlyTheCallersClusters() {
        String all = call("alpha-read", "GET", "/v1/repository/objects?prefix=clusters/", null).body();
        assertThat(all).contains("clusters/alpha/cluster.json").doesNotContain("beta");
        String everything = call("alpha-read", "GET", "/v1/repository/objects", null).body();
        assertThat(everything).contains("clusters/alpha/").doesNotContain("beta");
        assertThat(call("ops", "GET", "/v1/repository/objects?prefix=clusters/", null).body()).contains("alpha").contains("beta");
        String clusters = call("alpha-read", "GET", "/v1/clusters", null).body();
        assertThat(clusters).contains("\"alpha\"").doesNotContain("beta");
        assertThat(call("ops", "GET", "/v1/clusters", null).body()).contains("\"alpha\"").contains("\"beta\"");
        // The dashboard's data: the overview, /health's details.
        String status = call("alpha-read", "GET", "/v1/status", null).body();
        assertThat(status).contains("\"name\":\"alpha\"").doesNotContain("beta");
        assertThat(call("ops", "GET", "/v1/status", null).body()).contains("\"name\":\"alpha\"").contains("\"name\":\"beta\"");
        assertThat(call("alpha-read", "GET", "/health", null).body()).contains("\"alpha\"").doesNotContain("beta");
        assertThat(call("alpha-archive", "GET", "/v1/status", null).statusCode()).isEqualTo(403);
    }

    @Test
    void theDashboardsFilesAreOpenOnlyToGetAndPathTricksDoNotReachTheApi() {
        assertThat(call(null, "GET", "/", null).statusCode()).isEqualTo(200);
        assertThat(call(null, "POST", "/", "{}").statusCode()).isEqualTo(401);
        for (String trick : List.of("/ui/../v1/status", "/ui/%2e%2e/v1/status", "/ui%2f..%2fv1/status", "//v1/status", "/ui/./../v1/status")) {
            HttpResponse<String> r = call(null, "GET", trick, null);
            assertThat(r.statusCode()).as(trick).isIn(400, 401, 404);
            assertThat(r.body()).as(trick).doesNotContain("\"clusters\"");
        }
    }

    @Test
    void closedMetricsNameEveryClusterSoATokenScopedToSomeIsRefused() throws Exception {
        try (EmbeddedServer closed = ApplicationContext.run(EmbeddedServer.class, properties(Map.of(
                "pgvault.security.tokens-file", tokensFile.toString(), "pgvault.security.anonymous-metrics", false,
                "pgvault.data-dir", dir.resolve("closed").toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("closed/catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH")))) {
            URI metrics = URI.create("http://127.0.0.1:" + closed.getPort() + "/prometheus");
            HttpResponse<String> anonymous = http.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(anonymous.statusCode()).isEqualTo(401);
            HttpResponse<String> scoped = http.send(HttpRequest.newBuilder(metrics).header("Authorization", "Bearer " + tokens.get("alpha-read"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(scoped.statusCode()).isEqualTo(403);
            assertThat(scoped.body()).contains("every cluster's names and figures").contains("without --cluster");
            HttpResponse<String> all = http.send(HttpRequest.newBuilder(metrics).header("Authorization", "Bearer " + tokens.get("ops"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(all.statusCode()).isEqualTo(200);
        }
    }

    @Test
    void anUnknownOrMissingTokenIs401AndNoMessageEchoesATokenOrHash() {
        String forged = TokenSecret.generate();
        HttpResponse<String> unknown = callWith(forged, "GET", "/v1/clusters", null);
        assertThat(unknown.statusCode()).isEqualTo(401);
        assertThat(unknown.body()).contains("not one this pgvault server knows").doesNotContain(forged);
        HttpResponse<String> none = call(null, "GET", "/v1/clusters", null);
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.body()).contains("Authorization: Bearer").contains("pgvault token create");
        assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"pgvault\"");
    }

    @Test
    void managementEndpointsAreRefusedWithoutATokenAndOnlyHealthAndMetricsAreOpen() {
        for (String path : List.of("/refresh", "/threaddump", "/beans", "/routes", "/env", "/loggers", "/info", "/metrics", "/stop", "/caches")) {
            for (String method : List.of("GET", "POST")) {
                HttpResponse<String> r = call(null, method, path, method.equals("POST") ? "{}" : null);
                assertThat(r.statusCode()).as(method + " " + path).isEqualTo(401);
                HttpResponse<String> archive = call("alpha-archive", method, path, method.equals("POST") ? "{}" : null);
                assertThat(archive.statusCode()).as(method + " " + path + " with an archive token").isEqualTo(403);
                // Even an admin token finds them switched off.
                assertThat(call("ops", method, path, method.equals("POST") ? "{}" : null).statusCode()).as(method + " " + path + " as admin")
                        .isIn(404, 405);
            }
        }
        HttpResponse<String> health = call(null, "GET", "/health", null);
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).contains("\"status\":\"UP\"").doesNotContain("repository").doesNotContain("details");
        assertThat(call("alpha-archive", "GET", "/health", null).body()).doesNotContain("repository");
        assertThat(call("alpha-read", "GET", "/health", null).body()).contains("repository");
        assertThat(call(null, "GET", "/prometheus", null).body()).contains("jvm_memory_used_bytes");
    }

    @Test
    void aTokenAddedToTheFileWorksWithoutARestart() throws Exception {
        String token = TokenSecret.generate();
        String line = new ApiTokenEntry("late", ApiRole.READ, Set.of(B), TokenSecret.digest(token)).toLine();
        hashes.add(line.substring(line.indexOf("sha256:")));
        tokens.put("late", token);
        String path = "/v1/repository/object?key=clusters/" + B + "/cluster.json";
        assertThat(call("late", "GET", path, null).statusCode()).isEqualTo(401);
        Files.writeString(tokensFile, Files.readString(tokensFile) + line + "\n");
        long deadline = System.nanoTime() + 10_000_000_000L;
        int status;
        do {
            Thread.sleep(300);
            status = call("late", "GET", path, null).statusCode();
        } while (status == 401 && System.nanoTime() < deadline);
        assertThat(status).isEqualTo(200);
    }

    @Test
    void aTokensFileOthersMayWriteOrThatHoldsATokenInsteadOfAHashStopsTheStart() throws Exception {
        Path open = dir.resolve("open-tokens");
        Files.writeString(open, tokens.size() + "\n");
        Files.writeString(open, "");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-rw-rw-"));
        assertThatThrownBy(() -> ApplicationContext.run(EmbeddedServer.class, properties(Map.of(
                "pgvault.security.tokens-file", open.toString(), "pgvault.data-dir", dir.resolve("other").toString()))).close())
                .hasStackTraceContaining("may be written by group or others (rw-rw-rw-)").hasStackTraceContaining("chmod go-w");
        String token = TokenSecret.generate();
        Path plain = dir.resolve("plain-tokens");
        Files.writeString(plain, "ops admin * " + token + "\n");
        assertThatThrownBy(() -> ApplicationContext.run(EmbeddedServer.class, properties(Map.of(
                "pgvault.security.tokens-file", plain.toString(), "pgvault.data-dir", dir.resolve("other").toString()))).close())
                .hasStackTraceContaining("line 1: 'pgv_") .hasStackTraceContaining("is not a token hash")
                .satisfies(e -> assertThat(stackTrace(e)).doesNotContain(token));
    }

    private static String stackTrace(Throwable e) {
        java.io.StringWriter w = new java.io.StringWriter();
        e.printStackTrace(new java.io.PrintWriter(w));
        return w.toString();
    }

    @Test
    void noTokenOrHashEverReachesTheLogOrAResponse() {
        call("alpha-archive", "PUT", "/v1/clusters/" + B + "/wal/" + WAL, "x");
        callWith(TokenSecret.generate(), "GET", "/v1/clusters", null);
        List<String> secrets = new ArrayList<>(tokens.values());
        for (String hash : hashes) {
            secrets.add(hash);
            secrets.add(hash.substring("sha256:".length()));
            secrets.add(hash.substring("sha256:".length()).toUpperCase(java.util.Locale.ROOT));
        }
        List<String> logged = logs.list.stream().map(e -> e.getFormattedMessage() + " " + (e.getThrowableProxy() == null ? ""
                : e.getThrowableProxy().getMessage())).toList();
        assertThat(logged).isNotEmpty();
        for (String secret : secrets) {
            assertThat(logged).noneMatch(l -> l.contains(secret));
            assertThat(bodies).noneMatch(b -> b.contains(secret));
        }
        assertThat(HexFormat.of()).isNotNull();
    }

    @Test
    void aServerBeyondLoopbackWithoutAnyTokenWarnsLoudly() {
        int before = logs.list.size();
        try (ApplicationContext open = ApplicationContext.run(EmbeddedServer.class, properties(Map.of(
                "micronaut.server.host", "0.0.0.0", "pgvault.data-dir", dir.resolve("open").toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("open/catalog")
                        + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH")))
                .getApplicationContext()) {
            assertThat(open.isRunning()).isTrue();
        }
        assertThat(logs.list.subList(before, logs.list.size()))
                .anyMatch(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN && e.getFormattedMessage().contains("requires NO token")
                        && e.getFormattedMessage().contains("0.0.0.0"));
        // The server under test listens on loopback with tokens: no such warning.
        assertThat(logs.list.subList(0, before)).noneMatch(e -> e.getFormattedMessage().contains("requires NO token"));
    }
}

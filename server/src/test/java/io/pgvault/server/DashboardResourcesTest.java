package io.pgvault.server;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.security.ApiRole;
import io.pgvault.core.security.ApiTokenEntry;
import io.pgvault.core.security.TokenSecret;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The dashboard's static side, on a server with tokens: the shell and its scripts (and
 * uPlot, from its webjar) load without a token and hold no data; the data behind them
 * still needs one. And what the browser test cannot see everywhere: no script builds
 * markup from strings, and nothing refers to another host.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DashboardResourcesTest {

    private final HttpClient http = HttpClient.newHttpClient();
    private Path dir;
    private EmbeddedServer server;

    @BeforeAll
    void start() throws Exception {
        dir = Files.createTempDirectory("pgvault-dashboard-test");
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, new ApiTokenEntry("viewer", ApiRole.READ, ApiTokenEntry.parseClusters("*"),
                TokenSecret.digest(TokenSecret.generate())).toLine() + "\n");
        Files.setPosixFilePermissions(tokens, PosixFilePermissions.fromString("rw-------"));
        server = ApplicationContext.run(EmbeddedServer.class, Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dir.resolve("data").toString(),
                "pgvault.security.tokens-file", tokens.toString()));
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
        Fixtures.deleteTree(dir);
    }

    @Test
    void theShellLoadsWithoutATokenAndHoldsNoData() throws Exception {
        HttpResponse<String> index = get("/");
        assertThat(index.statusCode()).as(index.body()).isEqualTo(200);
        assertThat(index.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/html"));
        assertThat(index.body()).contains("<script type=\"module\" src=\"/ui/app.js\">")
                .contains("data-testid=\"login-form\"")
                .doesNotContain("\"clusters\"");
        for (String script : List.of("/ui/app.js", "/ui/api.js", "/ui/cluster.js", "/ui/overview.js", "/ui/vendor/uplot/uPlot.iife.min.js")) {
            HttpResponse<String> r = get(script);
            assertThat(r.statusCode()).as(script).isEqualTo(200);
            // A module script with another MIME type is refused by the browser.
            assertThat(r.headers().firstValue("Content-Type")).as(script).hasValueSatisfying(t -> assertThat(t).contains("javascript"));
        }
        assertThat(get("/ui/vendor/uplot/uPlot.min.css").statusCode()).isEqualTo(200);
        assertThat(get("/ui/style.css").statusCode()).isEqualTo(200);
        // No other site may frame the page (a meta tag cannot say so), nothing is sniffed into another type.
        assertThat(index.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(p -> assertThat(p)
                .contains("frame-ancestors 'none'").contains("default-src 'self'"));
        assertThat(index.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    }

    @Test
    void theDataStillNeedsAToken() throws Exception {
        HttpResponse<String> refused = get("/v1/clusters");
        assertThat(refused.statusCode()).isEqualTo(401);
        // API answers hold a cluster's state: never kept by a browser or a proxy.
        assertThat(refused.headers().firstValue("Cache-Control")).hasValue("no-store");
        assertThat(get("/ui/../v1/clusters").statusCode()).isNotEqualTo(200);
    }

    private static final Pattern MARKUP_FROM_STRINGS = Pattern.compile("innerHTML|outerHTML|insertAdjacentHTML|document\\.write|\\beval\\(|new Function\\(");
    private static final Pattern OTHER_HOST = Pattern.compile("(https?:)?//[a-zA-Z0-9.-]+\\.[a-z]{2,}");

    @Test
    void scriptsNeverParseMarkupAndNothingComesFromAnotherHost() throws Exception {
        Path root = Path.of(getClass().getResource("/public/index.html").toURI()).getParent();
        List<Path> files;
        try (Stream<Path> walk = Files.walk(root)) {
            files = walk.filter(Files::isRegularFile).toList();
        }
        assertThat(files).hasSizeGreaterThan(5);
        for (Path f : files) {
            String text = Files.readString(f);
            if (f.toString().endsWith(".js")) {
                assertThat(MARKUP_FROM_STRINGS.matcher(text).find()).as(f + " builds markup from strings (use el() and text nodes)").isFalse();
            }
            assertThat(OTHER_HOST.matcher(text).find()).as(f + " names another host: the dashboard loads nothing from elsewhere").isFalse();
        }
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private URI uri(String path) throws URISyntaxException {
        return new URI("http://127.0.0.1:" + server.getPort() + path);
    }
}

package io.pgvault.cli;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The admin commands against a real server (in-process), with and without the token. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterCommandTest {

    private static final String TOKEN = "s3cr3t-token";
    private EmbeddedServer server;
    private Path dir;

    private record Run(int exit, String out, String err) {
    }

    @BeforeAll
    void startServer() throws Exception {
        dir = Files.createTempDirectory("pgvault-cli-test");
        server = ApplicationContext.run(EmbeddedServer.class, Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dir.toString(),
                "pgvault.security.token", TOKEN,
                "micronaut.metrics.binders.logback.enabled", false,
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:mem:cli-test;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH"));
    }

    @AfterAll
    void stopServer() {
        server.close();
        Fixtures.deleteTree(dir);
    }

    private Run run(String... args) {
        CommandLine cl = PgvaultCommand.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private String serverUrl() {
        return "http://127.0.0.1:" + server.getPort();
    }

    @Test
    void addListShowAndRebuild() {
        Run add = run("cluster", "add", "main", "--conninfo", "host=127.0.0.1 user=postgres password=x", "--server", serverUrl(), "--token", TOKEN);
        assertThat(add.exit()).as(add.err()).isZero();
        assertThat(add.out()).contains("main").contains("archive_command = 'curl -fsS -T %p " + serverUrl() + "/v1/clusters/main/wal/%f'")
                .doesNotContain("password");

        Run again = run("cluster", "add", "main", "--server", serverUrl(), "--token", TOKEN);
        assertThat(again.exit()).isEqualTo(1);
        assertThat(again.err()).contains("409").contains("already registered");

        Run list = run("cluster", "list", "--server", serverUrl(), "--token", TOKEN);
        assertThat(list.exit()).isZero();
        assertThat(list.out()).contains("main").contains("first segment not yet archived");

        Run show = run("cluster", "show", "main", "--server", serverUrl(), "--token", TOKEN);
        assertThat(show.exit()).isZero();
        assertThat(show.out()).contains("archived files: 0");

        Run rebuild = run("catalog", "rebuild", "--server", serverUrl(), "--token", TOKEN);
        assertThat(rebuild.exit()).as(rebuild.err()).isZero();
        assertThat(rebuild.out()).contains("1 clusters");
    }

    @Test
    void aMissingOrWrongTokenIsRefused() {
        Run none = run("cluster", "list", "--server", serverUrl());
        assertThat(none.exit()).isEqualTo(1);
        assertThat(none.err()).contains("401").contains("Authorization: Bearer");
        assertThat(run("cluster", "list", "--server", serverUrl(), "--token", "wrong").exit()).isEqualTo(1);
    }

    @Test
    void anUnreachableServerIsNamed() {
        Run r = run("cluster", "list", "--server", "http://127.0.0.1:" + Fixtures.freePort());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("cannot reach the pgvault server");
    }
}

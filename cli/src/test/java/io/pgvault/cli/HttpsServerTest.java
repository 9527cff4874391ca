package io.pgvault.cli;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.restore.fetch.WalFetchMain;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * pgvault's server over HTTPS with a certificate from a private CA made here, and scoped
 * tokens made by {@code pgvault token create}: curl with {@code --cacert} and
 * {@code -H @FILE} as archive_command uses it, the admin commands, {@code info --server}
 * and wal-fetch with {@code --cacert}; without the CA (or with another one) every client refuses.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HttpsServerTest {

    private static final String WAL = "000000010000000000000001";

    private Path dir;
    private Certificates certificates;

    /** A private CA, a server certificate it signed for localhost and 127.0.0.1, and another CA's certificate. */
    private record Certificates(Path caCert, Path serverCert, Path serverKey, Path otherCaCert) {
        static Certificates create(Path dir) {
            io.pgvault.testkit.TestCertificates ca = io.pgvault.testkit.TestCertificates.authority("pgvault test CA");
            io.pgvault.testkit.TestCertificates.Issued server = ca.server(dir, "server", List.of("localhost"), List.of("127.0.0.1"));
            return new Certificates(ca.writeCa(dir.resolve("ca.pem")), server.certificate(), server.key(),
                    io.pgvault.testkit.TestCertificates.authority("another CA").writeCa(dir.resolve("other-ca.pem")));
        }
    }
    private Path tokensFile;
    private Path adminToken;
    private Path readToken;
    private Path archiveToken;
    private EmbeddedServer server;

    private record Run(int exit, String out, String err) {
    }

    @BeforeAll
    void start() throws Exception {
        dir = Files.createTempDirectory("pgvault-https-test");
        certificates = Certificates.create(dir);
        tokensFile = dir.resolve("tokens");
        adminToken = dir.resolve("admin.token");
        readToken = dir.resolve("read.token");
        archiveToken = dir.resolve("archive.token");
        Run admin = run("token", "create", "ops", "--role", "admin", "--all-clusters", "--out", adminToken.toString(), "--add-to", tokensFile.toString());
        assertThat(admin.exit()).as(admin.err()).isZero();
        assertThat(run("token", "create", "restores", "--role", "read", "--cluster", "main", "--out", readToken.toString(),
                "--add-to", tokensFile.toString()).exit()).isZero();
        assertThat(run("token", "create", "db1", "--role", "archive", "--cluster", "main", "--out", archiveToken.toString(),
                "--add-to", tokensFile.toString()).exit()).isZero();
        server = ApplicationContext.run(EmbeddedServer.class, Map.of(
                "micronaut.server.ssl.enabled", true,
                "micronaut.server.ssl.port", -1,
                "micronaut.server.ssl.key-store.key-path", "file:" + certificates.serverKey(),
                "micronaut.server.ssl.key-store.certificate-path", "file:" + certificates.serverCert(),
                "pgvault.security.tokens-file", tokensFile.toString(),
                "micronaut.metrics.binders.logback.enabled", false,
                "pgvault.data-dir", dir.resolve("data").toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:mem:https-test;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH"));
        assertThat(server.getScheme()).isEqualTo("https");
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
        Fixtures.deleteTree(dir);
    }

    private String url() {
        return "https://127.0.0.1:" + server.getPort();
    }

    private static Run run(String... args) {
        CommandLine cl = PgvaultCommand.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private record Curl(int exit, String httpCode, String out) {
    }

    private Curl curl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new Curl(p.exitValue(), out.length() >= 3 ? out.substring(out.length() - 3) : out, out);
    }

    @Test
    void tokenCreateWritesTheSecretOnceToAPrivateFileAndOnlyTheHashToTheTokensFile() throws Exception {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(archiveToken))).isEqualTo("rw-------");
        String header = Files.readString(archiveToken);
        assertThat(header).startsWith("Authorization: Bearer pgv_").endsWith("\n");
        String token = header.substring("Authorization: Bearer ".length()).strip();
        assertThat(Files.readString(tokensFile)).doesNotContain(token).contains("db1 archive main sha256:").contains("ops admin * sha256:");
        Run again = run("token", "create", "db1", "--role", "archive", "--cluster", "main", "--out", dir.resolve("x.token").toString(),
                "--add-to", tokensFile.toString());
        assertThat(again.exit()).isEqualTo(1);
        assertThat(again.err()).contains("has a token named 'db1' already");
        assertThat(run("token", "create", "x", "--role", "archive", "--out", archiveToken.toString()).err())
                .contains("--cluster NAME (repeatable) or --all-clusters");
        Run printed = run("token", "create", "x", "--role", "read", "--cluster", "main");
        assertThat(printed.out()).contains("token (shown once, kept nowhere): pgv_").contains("x read main sha256:");
    }

    @Test
    void curlWithTheCaAndATokenFileTalksHttpsAndWithoutTheCaRefuses() throws Exception {
        String format = url() + "/v1/repository/object?key=pgvault-format.json";
        assertThat(curl("--cacert", certificates.caCert().toString(), "-H", "@" + readToken, format).httpCode()).isEqualTo("200");
        Curl untrusted = curl("-H", "@" + readToken, format);
        assertThat(untrusted.exit()).as(untrusted.out()).isEqualTo(60);  // peer certificate cannot be authenticated
        assertThat(curl("--cacert", certificates.otherCaCert().toString(), "-H", "@" + readToken, format).exit()).isEqualTo(60);
        // The archive token: past the access check for its cluster's WAL, refused the repository's objects.
        Path segment = Files.writeString(dir.resolve("segment"), "not a WAL segment");
        Curl push = curl("--cacert", certificates.caCert().toString(), "-H", "@" + archiveToken, "-T", segment.toString(),
                url() + "/v1/clusters/main/wal/" + WAL);
        assertThat(push.httpCode()).isNotIn("401", "403", "000");
        assertThat(curl("--cacert", certificates.caCert().toString(), "-H", "@" + archiveToken, format).httpCode()).isEqualTo("403");
        assertThat(curl("--cacert", certificates.caCert().toString(), url() + "/health").httpCode()).isEqualTo("200");
        assertThat(curl("--cacert", certificates.caCert().toString(), url() + "/v1/clusters").httpCode()).isEqualTo("401");
    }

    @Test
    void theCliTrustsThePrivateCaWithCacertOrTheEnvironmentAndNothingElse() {
        Run add = run("cluster", "add", "main", "--server", url(), "--token-file", adminToken.toString(), "--cacert", certificates.caCert().toString());
        assertThat(add.exit()).as(add.err()).isZero();
        assertThat(add.out()).contains("archive_command = 'curl -fsS --cacert " + certificates.caCert().toAbsolutePath() + " -H @/etc/pgvault/main.token -T %p "
                + url() + "/v1/clusters/main/wal/%f'");
        Run list = run("cluster", "list", "--server", url(), "--token-file", readToken.toString(), "--cacert", certificates.caCert().toString());
        assertThat(list.exit()).as(list.err()).isZero();
        assertThat(list.out()).contains("main");
        Run untrusted = run("cluster", "list", "--server", url(), "--token-file", readToken.toString());
        assertThat(untrusted.exit()).isEqualTo(ExitCodes.UNREACHABLE);
        assertThat(untrusted.err()).contains("--cacert FILE (env PGVAULT_CACERT)");
        Run readCannotAdd = run("cluster", "add", "other", "--server", url(), "--token-file", readToken.toString(), "--cacert",
                certificates.caCert().toString());
        assertThat(readCannotAdd.exit()).isEqualTo(1);
        assertThat(readCannotAdd.err()).contains("403").contains("needs role admin");
        Run info = run("info", "--server", url(), "--token-file", readToken.toString(), "--cacert", certificates.caCert().toString(), "--json");
        assertThat(info.err()).doesNotContain("TLS").doesNotContain("403").doesNotContain("401");
    }

    @Test
    void walFetchOverHttpsWithTheCaFindsTheServerAndWithoutItStopsRecovery() throws Exception {
        Path data = Files.createDirectories(dir.resolve("pgdata"));
        Files.writeString(data.resolve("recovery.signal"), "");
        List<String> common = List.of("--server", url(), "--cluster", "main", "--token-file", readToken.toString(), "--retry-for", "0");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> trusted = new ArrayList<>(common);
        trusted.addAll(List.of(WAL, "pg_wal/RECOVERYXLOG"));
        int found = WalFetchMain.run(trusted, Map.of("PGVAULT_CACERT", certificates.caCert().toString()), new PrintStream(err, true), data);
        assertThat(found).as(err.toString()).isEqualTo(WalFetchMain.NOT_ARCHIVED);
        err.reset();
        int untrusted = WalFetchMain.run(trusted, Map.of(), new PrintStream(err, true), data);
        assertThat(untrusted).isEqualTo(WalFetchMain.RECOVERY_FAILURE);
        assertThat(err.toString()).contains("--cacert FILE (env PGVAULT_CACERT)");
    }
}

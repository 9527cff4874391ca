package io.pgvault.server.stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.TestCertificates;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server against a PostgreSQL that accepts TLS only (hostssl, scram-sha-256), with
 * certificates made here and the password in a password file: base backups, streaming
 * and the slot check all travel encrypted and verified (verify-full). Then the catalog is
 * rebuilt from the repository, which holds no password: a cluster added with a password
 * in its conninfo still backs up after the rebuild, and a rebuild that fails midway leaves
 * the catalog as it was.
 */
class TlsClusterIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private String url;

    @Test
    void backupStreamingAndSlotChecksOverVerifiedTlsAndARebuildKeepsWorkingCredentials() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-tls-cluster-");
        TestCertificates ca = TestCertificates.authority("pgvault test CA");
        Path root = ca.writeCa(dir.resolve("root.crt"));
        Map<String, Object> props = new HashMap<>();
        props.put("micronaut.server.port", -1);
        props.put("pgvault.data-dir", dir.toString());
        props.put("pgvault.repository.url", dir.resolve("repo").toUri().toString());
        props.put("pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        props.put("pgvault.streaming.slot-check-interval", "1s");
        props.put("pgvault.retention.grace", "0s");
        try (PgCluster pg = PgCluster.builder(17).init(); EmbeddedServer server = startAfter(pg, ca, dir, props)) {
            url = "http://127.0.0.1:" + server.getPort();
            pg.execute("CREATE ROLE backup LOGIN REPLICATION PASSWORD 'backup-pw'", "GRANT pg_read_all_stats TO backup",
                    "CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 10000) g");
            Path passfile = dir.resolve("pgpass");
            Files.writeString(passfile, "*:" + pg.port() + ":*:backup:backup-pw\n");
            Files.setPosixFilePermissions(passfile, PosixFilePermissions.fromString("rw-------"));
            String tls = "host=localhost hostaddr=127.0.0.1 port=" + pg.port() + " user=backup dbname=postgres sslmode=verify-full sslrootcert=" + root;

            send("POST", "/v1/clusters", Map.of("name", "tls", "conninfo", tls + " passfile=" + passfile, "stream", true), 201);
            JsonNode status = awaitStream("tls", s -> s.path("state").asText().equals("streaming") && s.path("slotHealth").path("exists").asBoolean());
            assertThat(status.path("slotHealth").path("error").isNull() || status.path("slotHealth").path("error").isMissingNode()).as(status.toString()).isTrue();
            String id = backup("tls");
            // Complete once its last segment is in the repository: streamed over the same TLS.
            pg.queryValue("SELECT pg_switch_wal()");
            awaitBackupStatus("tls", id, "complete");
            assertThat(pg.queryValue("SELECT count(*) FILTER (WHERE NOT s.ssl) || '/' || count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a "
                    + "USING (pid) WHERE a.usename = 'backup'")).as("every pgvault session is TLS").matches("0/[1-9][0-9]*");

            // The password in the conninfo, kept by the catalog only; the repository's cluster.json has none.
            send("POST", "/v1/clusters", Map.of("name", "inline", "conninfo", tls + " password=backup-pw"), 201);
            assertThat(Files.readString(dir.resolve("repo/clusters/inline/cluster.json"))).doesNotContain("backup-pw");
            JsonNode rebuilt = send("POST", "/v1/catalog/rebuild", null, 200);
            assertThat(rebuilt.path("clusters").asInt()).isEqualTo(2);
            // Taken (its WAL is not archived: this cluster neither streams nor archives), not failed.
            awaitBackupStatus("inline", backup("inline"), "incomplete");

            // A rebuild that fails on a damaged object leaves the catalog whole.
            Path junk = Files.createDirectories(dir.resolve("repo/clusters/inline/wal/0000000100000000")).resolve("0000000100000000000000FF");
            Files.writeString(junk, "not an object");
            HttpResponse<String> failed = call("POST", "/v1/catalog/rebuild", null);
            assertThat(failed.statusCode()).as(failed.body()).isGreaterThanOrEqualTo(400);
            assertThat(send("GET", "/v1/clusters", null, 200).findValuesAsText("name")).containsExactlyInAnyOrder("tls", "inline");
            Files.delete(junk);
            awaitBackupStatus("inline", backup("inline"), "incomplete");
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /** Serves TLS only, then starts pgvault: the cluster's settings are read at its first connection. */
    private static EmbeddedServer startAfter(PgCluster pg, TestCertificates ca, Path dir, Map<String, Object> props) {
        pg.serveTls(ca.server(dir, "server", List.of("localhost"), List.of()), dir.resolve("root.crt"));
        pg.writeHba("local all all trust",
                "hostssl all postgres 127.0.0.1/32 trust",
                "hostssl replication backup 127.0.0.1/32 scram-sha-256",
                "hostssl postgres backup 127.0.0.1/32 scram-sha-256");
        pg.start();
        return ApplicationContext.run(EmbeddedServer.class, props);
    }

    private String backup(String cluster) throws Exception {
        return send("POST", "/v1/clusters/" + cluster + "/backups", null, 202).path("id").asText();
    }

    private void awaitBackupStatus(String cluster, String id, String wanted) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        JsonNode b;
        while (!(b = send("GET", "/v1/clusters/" + cluster + "/backups/" + id, null, 200)).path("status").asText().equals(wanted)) {
            assertThat(b.path("status").asText()).as(b.toString()).isIn("running", "incomplete");
            assertThat(System.nanoTime()).as("backup " + id + " " + wanted + ": " + b).isLessThan(deadline);
            Thread.sleep(300);
        }
    }

    private JsonNode awaitStream(String cluster, Predicate<JsonNode> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        JsonNode status;
        while (!condition.test(status = send("GET", "/v1/clusters/" + cluster + "/stream", null, 200))) {
            assertThat(System.nanoTime()).as("stream status " + status).isLessThan(deadline);
            Thread.sleep(200);
        }
        return status;
    }

    private HttpResponse<String> call(String method, String path, Object body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(60));
        if (body != null) {
            b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode send(String method, String path, Object body, int expectedStatus) throws Exception {
        HttpResponse<String> r = call(method, path, body);
        assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(expectedStatus);
        return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
    }
}

package io.pgvault.server.wal;

import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.server.ArchivingCluster;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.ServerProcess;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server is killed with SIGKILL while PostgreSQL archives under pgbench. After a
 * restart, every segment PostgreSQL saw acknowledged is in the repository, byte-identical,
 * and no half-written object is visible.
 */
class ServerKilledWhileArchivingIT {

    @Test
    void nothingAcknowledgedIsLost() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-crash-");
        int port = Fixtures.freePort();
        Map<String, String> props = Map.of(
                "pgvault.data-dir", dir.toString());
        Path log = dir.resolve("server.log");
        HttpClient http = HttpClient.newHttpClient();
        ServerProcess server = ServerProcess.start(port, props, log);
        try (ArchivingCluster cluster = ArchivingCluster.start(17, 1, server.url(), "main")) {
            HttpResponse<String> added = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/clusters"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"main\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(added.statusCode()).isEqualTo(201);

            String conn = "-h 127.0.0.1 -p " + cluster.pg().port() + " -U postgres";
            Process load = new ProcessBuilder("bash", "-c", "pgbench -i -q -s 3 " + conn + " postgres && pgbench -n -T 12 -c 2 -j 2 " + conn + " postgres")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                // Let archiving run under load, then pull the plug on the server twice.
                for (int round = 0; round < 2; round++) {
                    awaitAcknowledged(cluster, 5 + round * 10);
                    server.kill();
                    Thread.sleep(1500);
                    server = ServerProcess.start(port, props, log);
                }
                assertThat(load.waitFor(3, TimeUnit.MINUTES)).isTrue();
                assertThat(load.exitValue()).isZero();
            } finally {
                load.destroyForcibly();
            }
            cluster.switchAndAwaitArchived(Duration.ofSeconds(120));

            List<Path> acked = cluster.acknowledgedFiles();
            assertThat(acked.size()).isGreaterThan(15);
            for (Path file : acked) {
                HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/clusters/main/wal/" + file.getFileName())).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertThat(r.statusCode()).as(file.getFileName().toString()).isEqualTo(200);
                assertThat(r.body()).as(file.getFileName().toString()).isEqualTo(Files.readAllBytes(file));
            }
        } finally {
            server.close();
        }
        // Every object in the repository is whole: its content matches its own checksum.
        try (LocalDirectoryStore store = new LocalDirectoryStore(dir.resolve("repo"))) {
            List<ObjectStat> objects = store.list("clusters/main/wal/");
            assertThat(objects).isNotEmpty();
            for (ObjectStat o : objects) {
                try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(o.key(), store.get(o.key()).orElseThrow());
                     InputStream content = opened.content()) {
                    content.transferTo(java.io.OutputStream.nullOutputStream());
                }
            }
        }
        Fixtures.deleteTree(dir);
    }

    private static void awaitAcknowledged(ArchivingCluster cluster, int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (cluster.acknowledgedFiles().size() < count && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
    }
}

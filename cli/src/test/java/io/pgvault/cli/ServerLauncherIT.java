package io.pgvault.cli;

import io.pgvault.core.crypto.CipherJit;
import io.pgvault.core.crypto.KeyEncryptionKey;
import io.pgvault.core.crypto.RepositoryEncryption;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An encrypting server started by bin/pgvault-server gets the JVM options that have AES-GCM
 * compiled early (CipherJit); one started by {@code java -jar}, without them, says at start
 * which to add, since it then spends some 30 ms more CPU per segment for its first few hundred MB.
 */
class ServerLauncherIT {

    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void anEncryptingServerStartedWithoutTheCipherOptionsNamesThem() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-launcher-it");
        try {
            Path key = dir.resolve("repo.key");
            KeyEncryptionKey.generate(key);
            try (LocalDirectoryStore store = new LocalDirectoryStore(dir.resolve("repo"))) {
                RepositoryEncryption.initialize(store, key, "test");
            }
            String launcherLog = start(dir, key, true);
            assertThat(launcherLog).contains("pgvault server on port").doesNotContain("started without");
            String jarLog = start(dir, key, false);
            assertThat(jarLog).contains("The repository is encrypted, and this JVM was started without")
                    .contains(String.join(" ", CipherJit.JVM_OPTIONS));
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /** Starts the server on the encrypted repository under {@code dir}, waits until it answers, stops it; returns its log. */
    private String start(Path dir, Path key, boolean throughLauncher) throws Exception {
        int port = Fixtures.freePort();
        Path state = Files.createTempDirectory(dir, "state");
        List<String> settings = List.of("-Dmicronaut.server.port=" + port, "-Dpgvault.data-dir=" + state,
                "-Dpgvault.repository.url=" + dir.resolve("repo").toUri(), "-Dpgvault.repository.encryption.key-file=" + key,
                "-Dpgvault.catalog.url=jdbc:h2:file:" + state.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE");
        List<String> command = new ArrayList<>();
        ProcessBuilder builder;
        if (throughLauncher) {
            builder = new ProcessBuilder(ROOT.resolve("bin/pgvault-server").toString());
            builder.environment().put("PGVAULT_SERVER_JAVA_OPTS", String.join(" ", settings));
        } else {
            command.add(ProcessHandle.current().info().command().orElse("java"));
            command.addAll(settings);
            command.addAll(List.of("-jar", ROOT.resolve("server/target/pgvault-server.jar").toString()));
            builder = new ProcessBuilder(command);
        }
        Path log = state.resolve("server.log");
        Process server = builder.redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (!healthy(port)) {
                assertThat(server.isAlive()).as(Files.readString(log)).isTrue();
                assertThat(System.nanoTime()).as("the server answers within 90 s\n" + Files.readString(log)).isLessThan(deadline);
                Thread.sleep(200);
            }
            return Files.readString(log);
        } finally {
            server.destroy();
            if (!server.waitFor(30, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor();
            }
        }
    }

    private boolean healthy(int port) throws InterruptedException {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        }
    }
}

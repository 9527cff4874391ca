package io.pgvault.cli;

import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.BackupRestorer;
import io.pgvault.core.backup.BackupWriter;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.pgproto.BaseBackupSink;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.storage.s3.S3Settings;
import io.pgvault.core.storage.s3.S3Store;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.restore.fetch.WalFetchMain;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The build runs this once with {@code -XX:ArchiveClassesAtExit} to make the class data
 * archive that bin/pgvault hands every pgvault JVM: recover, info, wal-fetch and the
 * prefetcher then map the classes they need (the AWS SDK, Netty, TLS, Jackson, picocli:
 * some 7,000 for a restore from S3) instead of loading and verifying them one by one, which
 * costs most of a second per JVM. So this walks their paths on a throwaway local
 * repository in a temporary directory: writes and restores a tiny backup, runs {@code info}
 * and a refused {@code recover}, a wal-fetch miss, the same backup through an encrypted
 * repository, an S3 request to a closed loopback port, a TLS client hello and the admin
 * commands against a loopback stand-in. Classes it misses still load the usual way.
 */
public final class ClassDataTraining {

    private ClassDataTraining() {
    }

    /** Tink's streaming AEAD and the key handling, as recover and wal-fetch use them on an encrypted repository. */
    private static void encrypted(Path dir) throws Exception {
        Path key = dir.resolve("repo.key");
        io.pgvault.core.crypto.RepositoryEncryption.generateKey(key);
        Path repo = dir.resolve("encrypted");
        try (ObjectStore store = io.pgvault.core.crypto.RepositoryEncryption.initialize(new LocalDirectoryStore(repo), key, "training")) {
            new ClusterDescriptor("main", null, "7000000000000000001", 16L << 20, 15, "2026-01-01T00:00:00Z").write(store);
            BackupManifest backup = backup(store, dir);
            new BackupRestorer(store, 2).restore(backup, dir.resolve("restored-encrypted"), Map.of(), n -> { });
        }
        quietly("info", "main", "--repo", repo.toUri().toString(), "--key-file", key.toString());
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-cds-training");
        try {
            Path repo = dir.resolve("repo");
            try (ObjectStore store = new LocalDirectoryStore(repo)) {
                RepositoryFormat.initialize(store, "training");
                new ClusterDescriptor("main", null, "7000000000000000001", 16L << 20, 15, "2026-01-01T00:00:00Z").write(store);
                BackupManifest backup = backup(store, dir);
                new BackupRestorer(store, 2).restore(backup, dir.resolve("restored"), Map.of(), n -> { });
            }
            String url = repo.toUri().toString();
            quietly("info", "main", "--repo", url);
            quietly("info", "main", "--repo", url, "--json");
            quietly("recover", "--repo", url, "--cluster", "main", "--pgdata", dir.resolve("data").toString(), "--launcher", "pgvault",
                    "--target-time", "2026-01-01 00:00:00+00");
            WalFetchMain.run(List.of("--repo", url, "--cluster", "main", "000000010000000000000001", dir.resolve("wal").toString()), Map.of(),
                    new PrintStream(OutputStream.nullOutputStream()), dir);
            encrypted(dir);
            s3();
            tls();
            admin();
        } finally {
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static BackupManifest backup(ObjectStore store, Path dir) throws IOException {
        BackupWriter writer = new BackupWriter(store, Codecs.parse("zstd"), "main", "20260101T000000Z-000000", dir.resolve("spool"), 1 << 20,
                "training", Clock.systemUTC());
        writer.started(Lsn.parse("0/2000028"), new TimelineId(1));
        writer.tablespaces(List.of(new BaseBackupSink.Tablespace(Optional.empty(), Optional.empty(), Optional.empty())));
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(writer.archive("base.tar", Optional.empty()))) {
            // The last file is larger than a piece: stored, and restored, in ranges.
            for (String name : List.of("PG_VERSION", "global/pg_control", "base/1/1259", "base/1/16384")) {
                byte[] content = name.endsWith("16384") ? new byte[3 << 19] : (name + "\n").getBytes(StandardCharsets.US_ASCII);
                TarArchiveEntry entry = new TarArchiveEntry(name);
                entry.setSize(content.length);
                tar.putArchiveEntry(entry);
                tar.write(content);
                tar.closeArchiveEntry();
            }
        }
        try (OutputStream manifest = writer.manifest()) {
            manifest.write("{}".getBytes(StandardCharsets.US_ASCII));
        }
        return writer.finish("training", "7000000000000000001", 15, 16L << 20, Lsn.parse("0/2000100"), new TimelineId(1));
    }

    private static void quietly(String... args) {
        picocli.CommandLine cl = PgvaultCommand.commandLine();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(new StringWriter()));
        cl.execute(args);
    }

    /** The SDK's client, signer and Netty pipeline, up to a refused connection. */
    private static void s3() throws IOException {
        int closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = socket.getLocalPort();
        }
        S3Settings settings = S3Settings.of("training", "repo").withEndpoint(URI.create("https://127.0.0.1:" + closed), true)
                .withCredentials("training", "training");
        try (S3Store store = new S3Store(settings)) {
            call(() -> store.stat("k"));
            call(() -> store.get("k"));
            call(() -> store.list("wal/"));
        }
    }

    private interface Request {
        Object send() throws IOException;
    }

    private static void call(Request request) {
        try {
            request.send();
        } catch (IOException | RuntimeException expected) {
            // nothing listens there
        }
    }

    /**
     * The admin commands' path: the JDK's HTTP client, a JSON answer parsed and printed, against a
     * loopback stand-in that answers every request with canned JSON (without it, the HTTP client
     * alone costs an admin command most of a second more to start).
     */
    private static void admin() throws IOException {
        com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            byte[] body = (path.endsWith("/check") ? "{\"cluster\":\"main\",\"status\":\"OK\",\"checks\":[{\"check\":\"backup\","
                    + "\"status\":\"OK\",\"detail\":\"training\"}]}" : path.endsWith("/clusters") || path.endsWith("/backups") ? "[]"
                    : "{\"name\":\"main\",\"state\":\"off\"}").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        try {
            String url = "http://127.0.0.1:" + server.getAddress().getPort();
            quietly("check", "main", "--server", url);
            quietly("check", "main", "--no-wal-switch", "--json", "--server", url);
            quietly("cluster", "list", "--server", url);
            quietly("backups", "main", "--server", url);
        } finally {
            server.stop(0);
        }
    }

    /** The JDK's TLS client up to its first flight. */
    private static void tls() throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine("127.0.0.1", 443);
        engine.setUseClientMode(true);
        engine.beginHandshake();
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
    }
}

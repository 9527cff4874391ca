package io.pgvault.bench;

import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.S3ProxyFixture;
import io.pgvault.testkit.TcpRelay;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The S3 repository of a benchmark: a real S3 API (S3Proxy, in this JVM) over HTTPS, as
 * pgBackRest insists on, with a keytool-made certificate that both tools trust through a
 * CA file; optionally behind a {@link TcpRelay} that adds a network round trip. One
 * bucket, one key pair, a prefix per tool.
 */
final class BenchS3 implements AutoCloseable {

    static final String BUCKET = "bench";

    private final S3ProxyFixture proxy;
    private final TcpRelay relay;
    private final int roundTripMillis;

    private BenchS3(S3ProxyFixture proxy, TcpRelay relay, int roundTripMillis) {
        this.proxy = proxy;
        this.relay = relay;
        this.roundTripMillis = roundTripMillis;
    }

    /** @param dir where the certificate goes (made readable for the PostgreSQL user) */
    static BenchS3 start(Path dir, int roundTripMillis) throws IOException {
        Path tls = Files.createDirectories(dir);
        S3ProxyFixture proxy = S3ProxyFixture.startWithTls(tls);
        proxy.createBucket(BUCKET);
        OsUser.own(tls);
        TcpRelay relay = roundTripMillis > 0
                ? TcpRelay.to("127.0.0.1", proxy.secureEndpoint().getPort(), Duration.ofMillis(roundTripMillis).dividedBy(2)) : null;
        return new BenchS3(proxy, relay, roundTripMillis);
    }

    int port() {
        return relay != null ? relay.port() : proxy.secureEndpoint().getPort();
    }

    String endpoint() {
        return "https://127.0.0.1:" + port();
    }

    String describe() {
        return "S3 API over HTTPS (S3Proxy in memory)" + (roundTripMillis > 0 ? ", " + roundTripMillis + " ms added round trip" : "");
    }

    /** {@code -D} settings that make a pgvault server store under {@code prefix}. */
    List<String> serverProperties(String prefix) {
        return List.of("pgvault.repository.url=s3://" + BUCKET + "/" + prefix, "pgvault.repository.s3.endpoint=" + endpoint(),
                "pgvault.repository.s3.path-style=true", "pgvault.repository.s3.access-key=" + S3ProxyFixture.ACCESS_KEY,
                "pgvault.repository.s3.secret-key=" + S3ProxyFixture.SECRET_KEY, "pgvault.repository.s3.ca-file=" + proxy.caFile());
    }

    /** The repository options of a pgvault command for {@code prefix}. */
    List<String> cliArguments(String prefix) {
        return List.of("--repo", "s3://" + BUCKET + "/" + prefix, "--s3-endpoint", endpoint(), "--s3-path-style",
                "--s3-access-key", S3ProxyFixture.ACCESS_KEY, "--s3-secret-key", S3ProxyFixture.SECRET_KEY,
                "--s3-ca-file", proxy.caFile().toString());
    }

    /** wal-fetch's repository options for {@code prefix} (it takes credentials from a file, as recover writes it). */
    List<String> walFetchArguments(String prefix, Path credentials) {
        return List.of("--repo", "s3://" + BUCKET + "/" + prefix, "--s3-endpoint", endpoint(), "--s3-path-style",
                "--s3-credentials-file", credentials.toString(), "--s3-ca-file", proxy.caFile().toString());
    }

    /** pgBackRest's [global] repository lines for {@code path} in the bucket. */
    String pgbackrestRepository(String path) {
        return "repo1-type=s3\nrepo1-path=/" + path + "\nrepo1-s3-bucket=" + BUCKET + "\nrepo1-s3-endpoint=127.0.0.1\nrepo1-storage-port="
                + port() + "\nrepo1-s3-region=us-east-1\nrepo1-s3-uri-style=path\nrepo1-s3-key=" + S3ProxyFixture.ACCESS_KEY
                + "\nrepo1-s3-key-secret=" + S3ProxyFixture.SECRET_KEY + "\nrepo1-storage-ca-file=" + proxy.caFile() + "\n";
    }

    @Override
    public void close() throws IOException {
        if (relay != null) {
            relay.close();
        }
        proxy.close();
    }
}

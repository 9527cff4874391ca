package io.pgvault.testkit;

import io.pgvault.core.storage.s3.S3Settings;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.BlobStoreContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.function.UnaryOperator;

/**
 * A real S3 API server (S3Proxy) in this JVM on a free loopback port, backed by memory,
 * reached over HTTP by the real AWS SDK. Signature checking is on, as on a real store.
 * {@link #builder()} keeps the objects on disk instead (a long run would fill the heap)
 * and can put a wrapper such as {@link FaultyBlobStore} between S3Proxy and the objects.
 */
public final class S3ProxyFixture implements AutoCloseable {

    public static final String ACCESS_KEY = "pgvault-test-access";
    public static final String SECRET_KEY = "pgvault-test-secret-key";

    private static final String KEYSTORE_PASSWORD = "pgvault-test-tls";

    private final BlobStoreContext context;
    private final S3Proxy proxy;
    private final URI endpoint;
    private final URI secureEndpoint;
    private final Path caFile;

    private S3ProxyFixture(BlobStoreContext context, S3Proxy proxy, URI endpoint, URI secureEndpoint, Path caFile) {
        this.context = context;
        this.proxy = proxy;
        this.endpoint = endpoint;
        this.secureEndpoint = secureEndpoint;
        this.caFile = caFile;
    }

    public static S3ProxyFixture start() {
        return builder().start();
    }

    /** How to start one other than {@link #start()}'s. */
    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private Path directory;
        private UnaryOperator<BlobStore> wrapper = UnaryOperator.identity();

        private Builder() {
        }

        /** Keeps the objects as files under {@code directory} (jclouds' filesystem provider) instead of in memory. */
        public Builder onDisk(Path directory) {
            this.directory = directory;
            return this;
        }

        /** S3Proxy serves every request through {@code wrapper}(the store); the fixture's own calls ({@link #createBucket}) bypass it. */
        public Builder servedThrough(UnaryOperator<BlobStore> wrapper) {
            this.wrapper = wrapper;
            return this;
        }

        public S3ProxyFixture start() {
            return S3ProxyFixture.start(null, directory, wrapper);
        }
    }

    /**
     * Serves HTTPS too, with a self-signed certificate for 127.0.0.1 made by the JDK's
     * keytool under {@code tlsDir}: {@link #caFile()} is that certificate in PEM, what a
     * client must trust, as for a store behind a private CA.
     */
    public static S3ProxyFixture startWithTls(Path tlsDir) {
        return start(tlsDir, null, UnaryOperator.identity());
    }

    private static S3ProxyFixture start(Path tlsDir, Path directory, UnaryOperator<BlobStore> wrapper) {
        Path keyStore = null;
        Path caFile = null;
        URI secureEndpoint = null;
        if (tlsDir != null) {
            keyStore = tlsDir.resolve("s3proxy.p12");
            caFile = tlsDir.resolve("s3proxy-ca.pem");
            // "127.0.0.1" as a DNS name too: some clients (pgBackRest) match the host against DNS names only.
            keytool("-genkeypair", "-alias", "s3proxy", "-keyalg", "RSA", "-keysize", "2048", "-validity", "7", "-dname", "CN=127.0.0.1",
                    "-ext", "SAN=ip:127.0.0.1,dns:localhost,dns:127.0.0.1", "-storetype", "PKCS12", "-keystore", keyStore.toString(),
                    "-storepass", KEYSTORE_PASSWORD, "-keypass", KEYSTORE_PASSWORD);
            keytool("-exportcert", "-rfc", "-alias", "s3proxy", "-keystore", keyStore.toString(), "-storepass", KEYSTORE_PASSWORD,
                    "-file", caFile.toString());
            secureEndpoint = URI.create("https://127.0.0.1:" + Fixtures.freePort());
        }
        Properties properties = new Properties();
        if (directory != null) {
            properties.setProperty("jclouds.filesystem.basedir", directory.toString());
        }
        BlobStoreContext context = ContextBuilder.newBuilder(directory == null ? "transient" : "filesystem")
                .credentials("identity", "credential")
                .overrides(properties)
                .build(BlobStoreContext.class);
        URI endpoint = URI.create("http://127.0.0.1:" + Fixtures.freePort());
        S3Proxy.Builder builder = S3Proxy.builder()
                .blobStore(wrapper.apply(context.getBlobStore()))
                .endpoint(endpoint)
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                // The SDK sends headers (checksum, SDK metadata) S3Proxy does not know.
                .ignoreUnknownHeaders(true);
        if (secureEndpoint != null) {
            builder.secureEndpoint(secureEndpoint).keyStore(keyStore.toString(), KEYSTORE_PASSWORD);
        }
        S3Proxy proxy = builder.build();
        try {
            proxy.start();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!"STARTED".equals(proxy.getState())) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("S3Proxy did not start on " + endpoint + " within 30 s (state " + proxy.getState() + ")");
                }
                Thread.sleep(20);
            }
        } catch (Exception e) {
            context.close();
            throw new IllegalStateException("cannot start S3Proxy on " + endpoint, e);
        }
        return new S3ProxyFixture(context, proxy, endpoint, secureEndpoint, caFile);
    }

    private static void keytool(String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        command.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException("keytool failed: " + command + "\n" + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public URI endpoint() {
        return endpoint;
    }

    /** The HTTPS endpoint of {@link #startWithTls}. */
    public URI secureEndpoint() {
        if (secureEndpoint == null) {
            throw new IllegalStateException("this S3Proxy serves plain HTTP only; start it with startWithTls");
        }
        return secureEndpoint;
    }

    /** The PEM certificate a client must trust for {@link #secureEndpoint()}. */
    public Path caFile() {
        return caFile;
    }

    public void createBucket(String bucket) {
        context.getBlobStore().createContainerInLocation(null, bucket);
    }

    /** Settings for the AWS SDK client to reach {@code bucket/prefix} here (created if missing). */
    public S3Settings settings(String bucket, String prefix) {
        createBucket(bucket);
        return S3Settings.of(bucket, prefix)
                .withEndpoint(endpoint, true)
                .withCredentials(ACCESS_KEY, SECRET_KEY);
    }

    @Override
    public void close() {
        try {
            proxy.stop();
        } catch (Exception ignored) {
            // stopping anyway
        } finally {
            context.close();
        }
    }
}

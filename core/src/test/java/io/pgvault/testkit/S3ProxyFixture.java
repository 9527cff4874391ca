package io.pgvault.testkit;

import io.pgvault.core.storage.s3.S3Settings;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;

import java.net.URI;
import java.util.Properties;

/**
 * A real S3 API server (S3Proxy) in this JVM on a free loopback port, backed by memory,
 * reached over HTTP by the real AWS SDK. Signature checking is on, as on a real store.
 */
public final class S3ProxyFixture implements AutoCloseable {

    public static final String ACCESS_KEY = "pgvault-test-access";
    public static final String SECRET_KEY = "pgvault-test-secret-key";

    private final BlobStoreContext context;
    private final S3Proxy proxy;
    private final URI endpoint;

    private S3ProxyFixture(BlobStoreContext context, S3Proxy proxy, URI endpoint) {
        this.context = context;
        this.proxy = proxy;
        this.endpoint = endpoint;
    }

    public static S3ProxyFixture start() {
        Properties properties = new Properties();
        BlobStoreContext context = ContextBuilder.newBuilder("transient")
                .credentials("identity", "credential")
                .overrides(properties)
                .build(BlobStoreContext.class);
        URI endpoint = URI.create("http://127.0.0.1:" + Fixtures.freePort());
        S3Proxy proxy = S3Proxy.builder()
                .blobStore(context.getBlobStore())
                .endpoint(endpoint)
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                // The SDK sends headers (checksum, SDK metadata) S3Proxy does not know.
                .ignoreUnknownHeaders(true)
                .build();
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
        return new S3ProxyFixture(context, proxy, endpoint);
    }

    public URI endpoint() {
        return endpoint;
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

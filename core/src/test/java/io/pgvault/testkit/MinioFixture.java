package io.pgvault.testkit;

import io.pgvault.core.storage.s3.S3Settings;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.MinIOContainer;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;

import java.net.URI;

/**
 * MinIO through Testcontainers. Where no Docker engine runs, {@link #startOrSkip()} skips
 * the calling test and says why (the S3Proxy fixture covers the S3 driver there).
 */
public final class MinioFixture implements AutoCloseable {

    private final MinIOContainer container;

    private MinioFixture(MinIOContainer container) {
        this.container = container;
    }

    public static MinioFixture startOrSkip() {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | Error e) {
            docker = false;
        }
        Assumptions.assumeTrue(docker, "MinIO tests skipped: no Docker engine is reachable here (S3Proxy covers the S3 driver)");
        MinIOContainer container = new MinIOContainer("minio/minio:RELEASE.2025-04-22T22-12-26Z");
        container.start();
        return new MinioFixture(container);
    }

    public S3Settings settings(String bucket, String prefix) {
        try (S3AsyncClient admin = S3AsyncClient.builder()
                .endpointOverride(URI.create(container.getS3URL()))
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(container.getUserName(), container.getPassword())))
                .build()) {
            admin.createBucket(b -> b.bucket(bucket)).join();
        }
        return S3Settings.of(bucket, prefix)
                .withEndpoint(URI.create(container.getS3URL()), true)
                .withCredentials(container.getUserName(), container.getPassword());
    }

    @Override
    public void close() {
        container.stop();
    }
}

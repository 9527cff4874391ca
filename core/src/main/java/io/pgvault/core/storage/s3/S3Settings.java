package io.pgvault.core.storage.s3;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * How to reach a bucket. Defaults suit AWS and the many S3-compatible stores (MinIO,
 * Ceph, S3Proxy) alike: checksums only where the API requires them, since several
 * third-party stores reject the SDK's newer default trailing checksums.
 *
 * @param bucket bucket name
 * @param prefix key prefix inside the bucket, without leading or trailing '/' ("" for none)
 * @param endpoint endpoint override for non-AWS stores; empty for AWS
 * @param region signing region (any value for most non-AWS stores)
 * @param pathStyle address the bucket as {@code endpoint/bucket} instead of {@code bucket.endpoint}
 * @param accessKeyId static credentials, or empty for the SDK's default provider chain
 * @param secretAccessKey static credentials, or empty
 * @param checksumsWhenRequired send and check payload checksums only where the API requires them
 * @param conditionalWrites the store honours {@code If-None-Match: *} on PUT
 * @param multipartThresholdBytes objects from this size on are uploaded in parts
 * @param partSizeBytes size of each part
 * @param caFile PEM certificates to trust instead of the JDK's for an HTTPS endpoint signed by a
 *               private CA (a self-hosted MinIO, say); empty for the JDK's trust store
 */
public record S3Settings(
        String bucket,
        String prefix,
        Optional<URI> endpoint,
        String region,
        boolean pathStyle,
        Optional<String> accessKeyId,
        Optional<String> secretAccessKey,
        boolean checksumsWhenRequired,
        boolean conditionalWrites,
        long multipartThresholdBytes,
        long partSizeBytes,
        Optional<Path> caFile,
        Duration readTimeout) {

    public static final long DEFAULT_MULTIPART_THRESHOLD = 64L << 20;
    public static final long DEFAULT_PART_SIZE = 16L << 20;
    private static final long MIN_PART_SIZE = 5L << 20;
    /** Silence on an open connection after which a request is given up and retried: a stalled store must not hang a push. */
    public static final Duration DEFAULT_READ_TIMEOUT = Duration.ofSeconds(30);

    public S3Settings {
        if (bucket == null || !bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
            throw new IllegalArgumentException("'" + bucket + "' is not a valid bucket name: expected 3-63 lower-case letters, digits, '.' or '-'");
        }
        prefix = prefix == null ? "" : stripSlashes(prefix);
        if (accessKeyId.isPresent() != secretAccessKey.isPresent()) {
            throw new IllegalArgumentException("S3 credentials for bucket " + bucket
                    + " are incomplete: set both access key id and secret access key, or neither to use the default provider chain");
        }
        caFile = caFile == null ? Optional.empty() : caFile;
        readTimeout = readTimeout == null ? DEFAULT_READ_TIMEOUT : readTimeout;
        if (readTimeout.isNegative() || readTimeout.isZero()) {
            throw new IllegalArgumentException("S3 read timeout must be positive, not " + readTimeout);
        }
        if (partSizeBytes < MIN_PART_SIZE) {
            throw new IllegalArgumentException("S3 part size " + partSizeBytes + " is below the 5 MiB minimum S3 accepts");
        }
        if (multipartThresholdBytes < partSizeBytes) {
            throw new IllegalArgumentException("S3 multipart threshold " + multipartThresholdBytes + " must be at least the part size " + partSizeBytes);
        }
    }

    /** Settings with the safe defaults, for a bucket and prefix. */
    public static S3Settings of(String bucket, String prefix) {
        return new S3Settings(bucket, prefix, Optional.empty(), "us-east-1", false, Optional.empty(), Optional.empty(),
                true, true, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, Optional.empty(), DEFAULT_READ_TIMEOUT);
    }

    public S3Settings withEndpoint(URI endpointUri, boolean usePathStyle) {
        return new S3Settings(bucket, prefix, Optional.of(endpointUri), region, usePathStyle, accessKeyId, secretAccessKey,
                checksumsWhenRequired, conditionalWrites, multipartThresholdBytes, partSizeBytes, caFile, readTimeout);
    }

    public S3Settings withCredentials(String keyId, String secret) {
        return new S3Settings(bucket, prefix, endpoint, region, pathStyle, Optional.ofNullable(keyId), Optional.ofNullable(secret),
                checksumsWhenRequired, conditionalWrites, multipartThresholdBytes, partSizeBytes, caFile, readTimeout);
    }

    /**
     * The keys from a file of {@code access-key=...} and {@code secret-key=...} lines that only its
     * owner can read ({@link io.pgvault.core.util.SecretFile}): how restore_command gets them.
     *
     * @throws IllegalArgumentException naming the file and what is wrong with it
     */
    public S3Settings withCredentialsFile(Path file) {
        java.util.Properties p = new java.util.Properties();
        try {
            p.load(new java.io.StringReader(io.pgvault.core.util.SecretFile.read(file, "the S3 keys")));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("cannot read S3 credentials file " + file + ": " + e.getMessage(), e);
        }
        if (p.getProperty("access-key") == null || p.getProperty("secret-key") == null) {
            throw new IllegalArgumentException(file + " must hold an access-key=... and a secret-key=... line");
        }
        return withCredentials(p.getProperty("access-key"), p.getProperty("secret-key"));
    }

    /** What {@link #withCredentialsFile} reads. */
    public static String credentialsFileContent(String accessKey, String secretKey) {
        return "access-key=" + accessKey + "\nsecret-key=" + secretKey + "\n";
    }

    public S3Settings withRegion(String newRegion) {
        return new S3Settings(bucket, prefix, endpoint, newRegion, pathStyle, accessKeyId, secretAccessKey,
                checksumsWhenRequired, conditionalWrites, multipartThresholdBytes, partSizeBytes, caFile, readTimeout);
    }

    public S3Settings withMultipart(long threshold, long partSize) {
        return new S3Settings(bucket, prefix, endpoint, region, pathStyle, accessKeyId, secretAccessKey,
                checksumsWhenRequired, conditionalWrites, threshold, partSize, caFile, readTimeout);
    }

    public S3Settings withConditionalWrites(boolean enabled) {
        return new S3Settings(bucket, prefix, endpoint, region, pathStyle, accessKeyId, secretAccessKey,
                checksumsWhenRequired, enabled, multipartThresholdBytes, partSizeBytes, caFile, readTimeout);
    }

    public S3Settings withChecksumsWhenRequired(boolean whenRequired) {
        return new S3Settings(bucket, prefix, endpoint, region, pathStyle, accessKeyId, secretAccessKey,
                whenRequired, conditionalWrites, multipartThresholdBytes, partSizeBytes, caFile, readTimeout);
    }

    /** Trusts the certificates in {@code pemFile} instead of the JDK's (a private CA); null for the JDK's. */
    public S3Settings withCaFile(Path pemFile) {
        return new S3Settings(bucket, prefix, endpoint, region, pathStyle, accessKeyId, secretAccessKey,
                checksumsWhenRequired, conditionalWrites, multipartThresholdBytes, partSizeBytes, Optional.ofNullable(pemFile), readTimeout);
    }

    /** How long a connection to the store may stay silent before the request is given up (and retried). */
    public S3Settings withReadTimeout(Duration timeout) {
        return new S3Settings(bucket, prefix, endpoint, region, pathStyle, accessKeyId, secretAccessKey,
                checksumsWhenRequired, conditionalWrites, multipartThresholdBytes, partSizeBytes, caFile, timeout);
    }

    private static String stripSlashes(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && s.charAt(start) == '/') {
            start++;
        }
        while (end > start && s.charAt(end - 1) == '/') {
            end--;
        }
        return s.substring(start, end);
    }

    @Override
    public String toString() {
        // Never print the secret.
        return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix) + endpoint.map(e -> " at " + e).orElse("");
    }
}

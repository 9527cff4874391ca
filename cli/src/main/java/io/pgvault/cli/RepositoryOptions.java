package io.pgvault.cli;

import io.pgvault.core.crypto.RepositoryEncryption;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.ObjectStores;
import io.pgvault.core.storage.RepositoryUrl;
import io.pgvault.core.storage.s3.S3Settings;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.Optional;

/**
 * How a command reaches a repository directly (no server needed): the URL and, for S3,
 * the client settings. Defaults come from the same environment variables the server reads.
 */
public final class RepositoryOptions {

    @Option(names = "--repo", defaultValue = "${env:PGVAULT_REPOSITORY_URL}",
            description = "Repository URL: file:///path or s3://bucket/prefix (env PGVAULT_REPOSITORY_URL).")
    String url;

    @Option(names = "--s3-endpoint", defaultValue = "${env:PGVAULT_REPOSITORY_S3_ENDPOINT}",
            description = "S3 endpoint for non-AWS stores, e.g. http://127.0.0.1:9000.")
    String endpoint;

    @Option(names = "--s3-region", defaultValue = "${env:PGVAULT_REPOSITORY_S3_REGION:-us-east-1}", description = "S3 region.")
    String region;

    @Option(names = "--s3-path-style", defaultValue = "${env:PGVAULT_REPOSITORY_S3_PATH_STYLE:-false}",
            description = "Address buckets as endpoint/bucket (MinIO and most non-AWS stores).")
    boolean pathStyle;

    @Option(names = "--s3-access-key", defaultValue = "${env:PGVAULT_REPOSITORY_S3_ACCESS_KEY}",
            description = "S3 access key (default: the AWS SDK's provider chain).")
    String accessKey;

    @Option(names = "--s3-secret-key", defaultValue = "${env:PGVAULT_REPOSITORY_S3_SECRET_KEY}",
            description = "S3 secret key.")
    String secretKey;

    @Option(names = "--s3-credentials-file", defaultValue = "${env:PGVAULT_REPOSITORY_S3_CREDENTIALS_FILE}",
            description = "A file (mode 0600) of access-key=... and secret-key=... lines, instead of --s3-access-key/--s3-secret-key.")
    Path credentialsFile;

    @Option(names = "--s3-ca-file", defaultValue = "${env:PGVAULT_REPOSITORY_S3_CA_FILE}",
            description = "PEM certificates to trust for an HTTPS endpoint signed by a private CA (instead of the JDK's).")
    String caFile;

    @Option(names = "--key-file", defaultValue = "${env:PGVAULT_REPOSITORY_ENCRYPTION_KEY_FILE}",
            description = "An encrypted repository's key (or passphrase) file, mode 0600 (env PGVAULT_REPOSITORY_ENCRYPTION_KEY_FILE).")
    Path keyFile;

    /** The repository, decrypted with --key-file when it is encrypted. */
    public ObjectStore open() throws IOException {
        return keyed(openStored());
    }

    /** The objects as stored, without the key (for creating or re-keying a repository). */
    ObjectStore openStored() throws IOException {
        if (url == null || url.isBlank()) {
            throw new UsageException("--repo URL is required (or env PGVAULT_REPOSITORY_URL)");
        }
        return ObjectStores.open(RepositoryUrl.parse(url), this::customize);
    }

    private ObjectStore keyed(ObjectStore stored) throws IOException {
        try {
            return RepositoryEncryption.open(stored, Optional.ofNullable(keyFile()));
        } catch (IOException | RuntimeException e) {
            stored.close();
            throw e;
        }
    }

    /** The key file as an absolute path (restore_command runs in the data directory), or null. */
    Path keyFile() {
        return keyFile == null || keyFile.toString().isBlank() ? null : keyFile.toAbsolutePath();
    }

    /** The repository itself, or read-only through a pgvault server when {@code --server} is given. */
    public ObjectStore open(ServerSourceOptions via) throws IOException {
        if (!via.given()) {
            return open();
        }
        if (url != null && !url.isBlank() && !url.equals(System.getenv("PGVAULT_REPOSITORY_URL"))) {
            throw new UsageException("give --repo or --server, not both");
        }
        // The server hands out objects as stored; an encrypted repository's are decrypted here, with this side's key.
        return keyed(new io.pgvault.core.storage.server.ServerObjectStore(URI.create(via.server), via.token(), via.caCert()));
    }

    private S3Settings customize(S3Settings settings) {
        S3Settings result = settings.withRegion(region);
        if (endpoint != null && !endpoint.isBlank()) {
            result = result.withEndpoint(URI.create(endpoint), pathStyle);
        }
        if (credentialsFile() != null) {
            result = result.withCredentialsFile(credentialsFile());
        } else if (hasKeys()) {
            result = result.withCredentials(accessKey, secretKey);
        }
        return result.withCaFile(caFile());
    }

    boolean hasKeys() {
        return accessKey != null && !accessKey.isBlank();
    }

    /** The credentials file as an absolute path, or null. */
    Path credentialsFile() {
        return credentialsFile == null || credentialsFile.toString().isBlank() ? null : credentialsFile.toAbsolutePath();
    }

    /** The CA file as an absolute path (restore_command runs in the data directory), or null. */
    Path caFile() {
        return caFile == null || caFile.isBlank() ? null : Path.of(caFile).toAbsolutePath();
    }
}

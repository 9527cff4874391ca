package io.pgvault.cli;

import io.pgvault.core.crypto.RepositoryEncryption;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.RepositorySource;
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

    // No defaults here: RepositorySource.fromEnvironment gives them, the same for wal-fetch and the server.
    @Option(names = "--repo", description = "Repository URL: file:///path or s3://bucket/prefix (env PGVAULT_REPOSITORY_URL).")
    String url;

    @Option(names = "--s3-endpoint", description = "S3 endpoint for non-AWS stores, e.g. http://127.0.0.1:9000 (env PGVAULT_REPOSITORY_S3_ENDPOINT).")
    String endpoint;

    @Option(names = "--s3-region", description = "S3 region (env PGVAULT_REPOSITORY_S3_REGION; default " + RepositorySource.DEFAULT_REGION + ").")
    String region;

    @Option(names = "--s3-path-style", description = "Address buckets as endpoint/bucket: MinIO and most non-AWS stores "
            + "(env PGVAULT_REPOSITORY_S3_PATH_STYLE=true).")
    boolean pathStyle;

    @Option(names = "--s3-access-key", description = "S3 access key (env PGVAULT_REPOSITORY_S3_ACCESS_KEY; default: the AWS SDK's provider chain).")
    String accessKey;

    @Option(names = "--s3-secret-key", description = "S3 secret key (env PGVAULT_REPOSITORY_S3_SECRET_KEY); --s3-credentials-file keeps it out of "
            + "the process list.")
    String secretKey;

    @Option(names = "--s3-credentials-file", description = "A file (mode 0600) of access-key=... and secret-key=... lines, instead of "
            + "--s3-access-key/--s3-secret-key (env PGVAULT_REPOSITORY_S3_CREDENTIALS_FILE).")
    String credentialsFile;

    @Option(names = "--s3-ca-file", description = "PEM certificates to trust for an HTTPS endpoint signed by a private CA, instead of the JDK's "
            + "(env PGVAULT_REPOSITORY_S3_CA_FILE).")
    String caFile;

    @Option(names = "--s3-checksums-when-required", paramLabel = "BOOL", description = "Send and check payload checksums only where the "
            + "S3 API requires them (env PGVAULT_REPOSITORY_S3_CHECKSUMS_WHEN_REQUIRED; default true: several S3-compatible stores "
            + "refuse the SDK's newer trailing checksums).")
    String checksumsWhenRequired;

    @Option(names = "--s3-conditional-writes", paramLabel = "BOOL", description = "The store honours If-None-Match on PUT "
            + "(env PGVAULT_REPOSITORY_S3_CONDITIONAL_WRITES; default true).")
    String conditionalWrites;

    @Option(names = "--key-file", defaultValue = "${env:PGVAULT_REPOSITORY_ENCRYPTION_KEY_FILE}",
            description = "An encrypted repository's key (or passphrase) file, mode 0600 (env PGVAULT_REPOSITORY_ENCRYPTION_KEY_FILE).")
    Path keyFile;

    /** The repository, decrypted with --key-file when it is encrypted. */
    public ObjectStore open() throws IOException {
        return keyed(openStored());
    }

    /** Where the repository is: the environment's defaults, then what was given on the command line. */
    RepositorySource source() {
        RepositorySource source = RepositorySource.fromEnvironment(System.getenv());
        String[][] given = {{"--repo", url}, {"--s3-endpoint", endpoint}, {"--s3-region", region}, {"--s3-access-key", accessKey},
                {"--s3-secret-key", secretKey}, {"--s3-credentials-file", credentialsFile}, {"--s3-ca-file", caFile},
                {"--s3-checksums-when-required", checksumsWhenRequired}, {"--s3-conditional-writes", conditionalWrites}};
        for (String[] option : given) {
            if (option[1] != null && !option[1].isBlank()) {
                source = source.with(option[0], option[1]);
            }
        }
        return pathStyle ? source.with("--s3-path-style", "true") : source;
    }

    /** The objects as stored, without the key (for creating or re-keying a repository). */
    ObjectStore openStored() throws IOException {
        RepositorySource source = source();
        if (!source.hasUrl()) {
            throw new UsageException("--repo URL is required (or env " + RepositorySource.URL_ENV + ")");
        }
        return source.open();
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
        if (url != null && !url.isBlank()) {
            throw new UsageException("give --repo or --server, not both");
        }
        // The server hands out objects as stored; an encrypted repository's are decrypted here, with this side's key.
        return keyed(new io.pgvault.core.storage.server.ServerObjectStore(URI.create(via.server), via.token(), via.caCert()));
    }
}

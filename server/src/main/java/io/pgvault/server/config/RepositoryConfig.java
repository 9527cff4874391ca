package io.pgvault.server.config;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.core.annotation.Nullable;

/**
 * {@code pgvault.repository.*}: where the repository lives and how to reach it.
 * {@code PGVAULT_REPOSITORY_URL} sets {@link #getUrl()}.
 */
@ConfigurationProperties("pgvault.repository")
public class RepositoryConfig {

    /** {@code file:///path}, {@code file:./relative} or {@code s3://bucket/prefix}. */
    private String url = "file:./pgvault-data/repo";

    /** Codec for new objects: zstd, zstd:LEVEL, lz4, none. */
    private String compression = "zstd";

    private S3 s3 = new S3();
    private Encryption encryption = new Encryption();

    public String getUrl() {
        return url;
    }

    public void setUrl(String url) {
        this.url = url;
    }

    public String getCompression() {
        return compression;
    }

    public void setCompression(String compression) {
        this.compression = compression;
    }

    public Encryption getEncryption() {
        return encryption;
    }

    public void setEncryption(Encryption encryption) {
        this.encryption = encryption;
    }

    /**
     * {@code pgvault.repository.encryption.*}: {@code key-file} (env
     * {@code PGVAULT_REPOSITORY_ENCRYPTION_KEY_FILE}) holds the repository's key or a
     * passphrase. With it, an empty repository is created encrypted and an encrypted one
     * is opened; without it, an encrypted repository is refused at start.
     */
    @ConfigurationProperties("encryption")
    public static class Encryption {
        private String keyFile;

        public String getKeyFile() {
            return keyFile;
        }

        public void setKeyFile(String keyFile) {
            this.keyFile = keyFile;
        }
    }

    public S3 getS3() {
        return s3;
    }

    public void setS3(S3 s3) {
        this.s3 = s3;
    }

    /** {@code pgvault.repository.s3.*}: client settings for S3 and S3-compatible stores. */
    @ConfigurationProperties("s3")
    public static class S3 {
        @Nullable
        private String endpoint;
        private String region = "us-east-1";
        private boolean pathStyle;
        @Nullable
        private String accessKey;
        @Nullable
        private String secretKey;
        private boolean checksumsWhenRequired = true;
        private boolean conditionalWrites = true;
        @Nullable
        private String caFile;
        @Nullable
        private String credentialsFile;

        /** A file (mode 0600) of access-key=... and secret-key=... lines, instead of access-key and secret-key. */
        public String getCredentialsFile() {
            return credentialsFile;
        }

        public void setCredentialsFile(String credentialsFile) {
            this.credentialsFile = credentialsFile;
        }

        /** PEM certificates to trust for an HTTPS endpoint signed by a private CA, instead of the JDK's. */
        public String getCaFile() {
            return caFile;
        }

        public void setCaFile(String caFile) {
            this.caFile = caFile;
        }

        public String getEndpoint() {
            return endpoint;
        }

        public void setEndpoint(String endpoint) {
            this.endpoint = endpoint;
        }

        public String getRegion() {
            return region;
        }

        public void setRegion(String region) {
            this.region = region;
        }

        public boolean isPathStyle() {
            return pathStyle;
        }

        public void setPathStyle(boolean pathStyle) {
            this.pathStyle = pathStyle;
        }

        public String getAccessKey() {
            return accessKey;
        }

        public void setAccessKey(String accessKey) {
            this.accessKey = accessKey;
        }

        public String getSecretKey() {
            return secretKey;
        }

        public void setSecretKey(String secretKey) {
            this.secretKey = secretKey;
        }

        public boolean isChecksumsWhenRequired() {
            return checksumsWhenRequired;
        }

        public void setChecksumsWhenRequired(boolean checksumsWhenRequired) {
            this.checksumsWhenRequired = checksumsWhenRequired;
        }

        public boolean isConditionalWrites() {
            return conditionalWrites;
        }

        public void setConditionalWrites(boolean conditionalWrites) {
            this.conditionalWrites = conditionalWrites;
        }
    }
}

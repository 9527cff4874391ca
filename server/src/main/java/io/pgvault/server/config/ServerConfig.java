package io.pgvault.server.config;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.core.annotation.Nullable;

/** {@code pgvault.*} settings of the server itself. */
@ConfigurationProperties("pgvault")
public class ServerConfig {

    /** Local working directory: spool files for uploads in flight, the embedded catalog. */
    private String dataDir = "./pgvault-data";

    /** Names this server in the objects it writes (several servers may share a bucket). */
    @Nullable
    private String serverId;

    private Security security = new Security();

    public String getDataDir() {
        return dataDir;
    }

    public void setDataDir(String dataDir) {
        // It is spliced into the default repository URL and H2 URL, where these mean something else.
        if (dataDir != null && dataDir.matches(".*[;#%?].*")) {
            throw new IllegalArgumentException("pgvault.data-dir '" + dataDir + "' contains ';', '#', '%' or '?': choose a directory without them");
        }
        this.dataDir = dataDir;
    }

    public String getServerId() {
        return serverId;
    }

    public void setServerId(String serverId) {
        this.serverId = serverId;
    }

    public Security getSecurity() {
        return security;
    }

    public void setSecurity(Security security) {
        this.security = security;
    }

    /**
     * {@code pgvault.security.*}: who may call the API. See docs/security.md.
     * <ul>
     *   <li>{@code tokens-file}: lines {@code name role clusters sha256:HASH} (hashes only;
     *       {@code pgvault token create} prints them); re-read when it changes.</li>
     *   <li>{@code token}: legacy, one token with role admin for all clusters.</li>
     *   <li>{@code anonymous-health} / {@code anonymous-metrics}: {@code /health} (status
     *       only) and {@code /prometheus} without a token (default true).</li>
     * </ul>
     * With neither a token nor a tokens file, the API is open (and a server listening beyond
     * loopback says so loudly at start).
     */
    @ConfigurationProperties("security")
    public static class Security {
        @Nullable
        private String token;

        @Nullable
        private String tokensFile;

        private boolean anonymousHealth = true;

        private boolean anonymousMetrics = true;

        public String getToken() {
            return token;
        }

        public void setToken(String token) {
            this.token = token;
        }

        public String getTokensFile() {
            return tokensFile;
        }

        public void setTokensFile(String tokensFile) {
            this.tokensFile = tokensFile;
        }

        public boolean isAnonymousHealth() {
            return anonymousHealth;
        }

        public void setAnonymousHealth(boolean anonymousHealth) {
            this.anonymousHealth = anonymousHealth;
        }

        public boolean isAnonymousMetrics() {
            return anonymousMetrics;
        }

        public void setAnonymousMetrics(boolean anonymousMetrics) {
            this.anonymousMetrics = anonymousMetrics;
        }
    }
}

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

    /** {@code pgvault.security.*}: when {@code token} is set, every API request must carry it as a bearer token. */
    @ConfigurationProperties("security")
    public static class Security {
        @Nullable
        private String token;

        public String getToken() {
            return token;
        }

        public void setToken(String token) {
            this.token = token;
        }
    }
}

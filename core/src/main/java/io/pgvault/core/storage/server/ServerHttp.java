package io.pgvault.core.storage.server;

import io.pgvault.core.tls.PemCertificates;

import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;

/** The HTTP client every command uses to reach a pgvault server, over HTTPS with a private CA when one is given. */
public final class ServerHttp {

    /** Names the CA option in messages; the CLI and wal-fetch spell it the same way. */
    public static final String CACERT_HINT = "--cacert FILE (env PGVAULT_CACERT)";

    private ServerHttp() {
    }

    /** @param caFile PEM certificates to trust instead of the JDK's, or null */
    public static HttpClient client(Path caFile) {
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        if (caFile != null) {
            builder.sslContext(PemCertificates.sslContext(caFile, "the pgvault server's CA file"));
        }
        return builder.build();
    }
}

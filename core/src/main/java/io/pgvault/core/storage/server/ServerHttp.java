package io.pgvault.core.storage.server;

import io.pgvault.core.tls.PemCertificates;
import org.apache.hc.client5.http.classic.methods.HttpUriRequestBase;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.io.ModalCloseable;
import org.apache.hc.core5.util.Timeout;

import java.io.Closeable;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The HTTP client every command uses to reach a pgvault server, over HTTPS with a private CA
 * when one is given.
 *
 * <p>A blocking client (Apache HttpClient's classic API), not the JDK's: the JDK 17 client keeps
 * a selector thread in native code for as long as the JVM runs, and HotSpot waits 300 ms at exit
 * for threads in native code to settle. That was a third of a second added to every admin
 * command and to every {@code wal-fetch --server} call. Here a request runs on the caller's
 * thread and nothing is left running once its answer is read.
 */
public final class ServerHttp implements Closeable {

    /** Names the CA option in messages; the CLI and wal-fetch spell it the same way. */
    public static final String CACERT_HINT = "--cacert FILE (env PGVAULT_CACERT)";

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final int MAX_CONNECTIONS = 256;

    private final CloseableHttpClient client;

    /**
     * @param caFile      PEM certificates to trust instead of the JDK's, or null
     * @param waitTimeout how long a read may wait for the next bytes of an answer, its headers included
     */
    public ServerHttp(Path caFile, Duration waitTimeout) {
        // As many connections as readers (the pool's default is 5 per server): a restore's threads each stream a piece,
        // and a reader may open another object while it holds one.
        PoolingHttpClientConnectionManagerBuilder connections = PoolingHttpClientConnectionManagerBuilder.create()
                .setMaxConnPerRoute(MAX_CONNECTIONS).setMaxConnTotal(MAX_CONNECTIONS)
                .setDefaultConnectionConfig(ConnectionConfig.custom().setConnectTimeout(Timeout.of(CONNECT_TIMEOUT))
                        .setSocketTimeout(Timeout.of(waitTimeout)).build());
        if (caFile != null) {
            connections.setTlsSocketStrategy(new DefaultClientTlsStrategy(PemCertificates.sslContext(caFile, "the pgvault server's CA file")));
        }
        this.client = HttpClients.custom().setConnectionManager(connections.build())
                .setDefaultRequestConfig(RequestConfig.custom().setResponseTimeout(Timeout.of(waitTimeout)).build())
                // A failed request is reported as it is: wal-fetch and the commands decide about retrying.
                .disableAutomaticRetries().disableRedirectHandling().disableCookieManagement().build();
    }

    /** Sends {@code request} (with a bearer token when one is given) and returns the answer, its body still to be read. */
    public Answer send(HttpUriRequestBase request, String token) throws IOException {
        if (token != null && !token.isBlank()) {
            request.setHeader("Authorization", "Bearer " + token);
        }
        ClassicHttpResponse response = client.executeOpen(null, request, null);
        return new Answer(request, response);
    }

    /** Builds a request URI from the server's base URL and a path with its query. */
    public static URI uri(String server, String pathAndQuery) {
        return URI.create(server.replaceAll("/+$", "") + pathAndQuery);
    }

    @Override
    public void close() throws IOException {
        client.close();
    }

    /**
     * A server's answer. Its body is read once; closing the body before its end drops the
     * connection instead of reading the rest (a stalled body would block that read too).
     */
    public static final class Answer {
        private final HttpUriRequestBase request;
        private final ClassicHttpResponse response;

        Answer(HttpUriRequestBase request, ClassicHttpResponse response) {
            this.request = request;
            this.response = response;
        }

        public int statusCode() {
            return response.getCode();
        }

        public Optional<String> header(String name) {
            return Optional.ofNullable(response.getFirstHeader(name)).map(Header::getValue);
        }

        public InputStream body() throws IOException {
            HttpEntity entity = response.getEntity();
            InputStream content = entity == null ? InputStream.nullInputStream() : entity.getContent();
            return new FilterInputStream(content) {
                private boolean ended;

                @Override
                public int read() throws IOException {
                    int b = super.read();
                    ended |= b < 0;
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = super.read(b, off, len);
                    ended |= n < 0;
                    return n;
                }

                @Override
                public void close() throws IOException {
                    if (ended) {
                        response.close();
                        return;
                    }
                    // Abandoned or stalled: cut the connection (a read blocked in another thread then fails) rather than
                    // drain it, which a plain close would (and a stalled body would block that read too).
                    request.cancel();
                    if (response instanceof ModalCloseable modal) {
                        modal.close(CloseMode.IMMEDIATE);
                    }
                }
            };
        }

        /** Reads at most {@code max} bytes of the body as text, and closes it. */
        public String text(int max) throws IOException {
            try (InputStream in = body()) {
                return new String(in.readNBytes(max), java.nio.charset.StandardCharsets.UTF_8);
            }
        }
    }
}

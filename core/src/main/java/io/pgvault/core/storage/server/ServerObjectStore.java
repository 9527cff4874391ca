package io.pgvault.core.storage.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.StorageException;
import io.pgvault.core.storage.StorageFeature;
import io.pgvault.core.storage.StorageUnavailableException;
import org.apache.hc.client5.http.classic.methods.HttpGet;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A read-only view of a repository through a pgvault server ({@code /v1/repository}):
 * the stored bytes come back unchanged, so envelopes and checksums are checked here as
 * with a bucket. Lets {@code recover} and {@code info} take {@code --server URL}.
 */
public final class ServerObjectStore implements ObjectStore {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** How long a response body may send nothing before the read fails as an outage. */
    static final Duration BODY_STALL_TIMEOUT = Duration.ofSeconds(30);

    /**
     * How long the server may take to start an answer: a GET of a large segment is read and
     * checked whole before it is answered, from a bucket that may be slow.
     */
    private static final Duration ANSWER_TIMEOUT = Duration.ofMinutes(5);

    private final ServerHttp http;
    private final URI server;
    private final String token;
    private final Duration stallTimeout;

    public ServerObjectStore(URI server, String token) {
        this(server, token, null);
    }

    /**
     * @param caFile PEM certificates of the private CA that signed an HTTPS server's
     *               certificate, trusted instead of the JDK's; null for the JDK's
     */
    public ServerObjectStore(URI server, String token, Path caFile) {
        this(server, token, caFile, BODY_STALL_TIMEOUT);
    }

    ServerObjectStore(URI server, String token, Path caFile, Duration stallTimeout) {
        this.server = server;
        this.token = token;
        this.http = new ServerHttp(caFile, ANSWER_TIMEOUT);
        this.stallTimeout = stallTimeout;
    }

    @Override
    public Set<StorageFeature> features() {
        return Set.of(StorageFeature.READ_AFTER_WRITE);
    }

    @Override
    public String describe() {
        return "pgvault server " + server;
    }

    @Override
    public Optional<InputStream> get(String key) throws IOException {
        ServerHttp.Answer r = send("/v1/repository/object?key=" + encode(key), key);
        if (r.statusCode() == 404) {
            r.body().close();
            return Optional.empty();
        }
        return Optional.of(checked(r, key));
    }

    @Override
    public Optional<ObjectStat> stat(String key) throws IOException {
        return list(key).stream().filter(o -> o.key().equals(key)).findFirst();
    }

    @Override
    public List<ObjectStat> list(String prefix) throws IOException {
        ServerHttp.Answer r = send("/v1/repository/objects?prefix=" + encode(prefix), prefix);
        JsonNode listing;
        try (InputStream body = checked(r, prefix)) {
            listing = JSON.readTree(body);
        }
        List<ObjectStat> result = new ArrayList<>();
        for (JsonNode o : listing) {
            result.add(new ObjectStat(o.path("key").asText(), o.path("size").asLong(), Instant.parse(o.path("lastModified").asText())));
        }
        return result;
    }

    private ServerHttp.Answer send(String path, String key) throws IOException {
        try {
            return http.send(new HttpGet(server.resolve(path)), token);
        } catch (javax.net.ssl.SSLException e) {
            // Not an outage to retry through: the certificate will not change by itself.
            throw new StorageException("pgvault server " + server + " refused TLS reading " + key + ": " + e.getMessage()
                    + "; if a private CA signed its certificate, give --cacert FILE (env PGVAULT_CACERT)", e);
        } catch (IOException e) {
            throw new StorageUnavailableException("pgvault server " + server + " is unreachable reading " + key + ": " + e, e);
        }
    }

    private InputStream checked(ServerHttp.Answer r, String key) throws IOException {
        if (r.statusCode() == 200) {
            return new StalledBodyGuard(r.body(), stallTimeout, key + " from pgvault server " + server);
        }
        String body = r.text(4096);
        if (r.statusCode() >= 500) {
            // At capacity the server says how long to wait; wal-fetch waits at least that long.
            Duration retryAfter = r.header("Retry-After").filter(v -> v.matches("\\d{1,4}"))
                    .map(v -> Duration.ofSeconds(Long.parseLong(v))).orElse(null);
            throw new StorageUnavailableException("pgvault server " + server + " answered " + r.statusCode() + " for " + key + ": " + body,
                    null, retryAfter);
        }
        throw new StorageException("pgvault server " + server + " answered " + r.statusCode() + " for " + key + ": " + body.strip()
                + (r.statusCode() == 401 ? " (give --token-file FILE or PGVAULT_TOKEN_FILE, or PGVAULT_TOKEN)" : "")
                + (r.statusCode() == 403 ? " (this needs a token with role read or admin for the cluster)" : ""));
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static IOException readOnly(String key) {
        return new StorageException("a repository reached through a pgvault server is read-only here; cannot write " + key);
    }

    @Override
    public void put(String key, InputStream data, long length) throws IOException {
        throw readOnly(key);
    }

    @Override
    public void putFile(String key, Path file) throws IOException {
        throw readOnly(key);
    }

    @Override
    public boolean putIfAbsent(String key, InputStream data, long length) throws IOException {
        throw readOnly(key);
    }

    @Override
    public void delete(Collection<String> keys) throws IOException {
        throw readOnly(String.join(", ", keys));
    }

    @Override
    public void close() {
        try {
            http.close();
        } catch (IOException ignored) {
            // nothing is left to read from it
        }
    }
}

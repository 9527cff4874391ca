package io.pgvault.restore.fetch;

import io.pgvault.core.storage.StorageUnavailableException;
import io.pgvault.core.wal.WalFileName;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;

/**
 * Reads WAL through a pgvault server ({@code GET /v1/clusters/{c}/wal/{f}}). The server
 * verifies each object before its last byte leaves and cuts the connection otherwise, so
 * a damaged file ends as an error here. Only a 404 that says the file is not in the
 * archive counts as absent; an unknown cluster is an error.
 */
public final class ServerWalSource implements WalSource {

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final URI server;
    private final String cluster;
    private final String token;

    public ServerWalSource(URI server, String cluster, String token) {
        this.server = server;
        this.cluster = cluster;
        this.token = token;
    }

    @Override
    public Optional<InputStream> open(WalFileName name) throws IOException {
        URI uri = server.resolve("/v1/clusters/" + URLEncoder.encode(cluster, StandardCharsets.UTF_8) + "/wal/" + name);
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60)).GET();
        if (token != null && !token.isBlank()) {
            request.header("Authorization", "Bearer " + token);
        }
        HttpResponse<InputStream> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (IOException e) {
            throw new StorageUnavailableException("pgvault server " + server + " is unreachable: " + e, e);
        }
        if (response.statusCode() == 200) {
            return Optional.of(response.body());
        }
        String body;
        try (InputStream in = response.body()) {
            body = new String(in.readNBytes(4096), StandardCharsets.UTF_8);
        }
        if (response.statusCode() == 404 && body.contains("is not in the archive")) {
            return Optional.empty();
        }
        throw new IOException("pgvault server " + server + " answered " + response.statusCode() + " for " + name + ": " + body);
    }

    @Override
    public String describe() {
        return "pgvault server " + server + " (cluster " + cluster + ")";
    }

    @Override
    public void close() {
        // HttpClient has no close() before Java 21; its threads are daemons.
    }
}

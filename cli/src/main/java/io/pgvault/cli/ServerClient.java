package io.pgvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.core.storage.StorageUnavailableException;
import io.pgvault.core.storage.server.ServerHttp;
import io.pgvault.core.storage.server.StalledBodyGuard;
import org.apache.hc.client5.http.classic.methods.HttpDelete;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.classic.methods.HttpPatch;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.classic.methods.HttpUriRequestBase;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** How admin commands reach the pgvault server's REST API. */
public final class ServerClient {

    /** Created on first use: picocli builds every command's options at start-up, and most runs never talk to a server. */
    private static final class Lazy {
        static final ObjectMapper JSON = new ObjectMapper();
    }

    /** How long an answer's body may send nothing after its headers (the request timeout ends with them). */
    private static final Duration BODY_STALL_TIMEOUT = Duration.ofSeconds(30);

    /** How long a request may wait for the server's answer to start: a check or a catalog rebuild takes a while. */
    private static final Duration ANSWER_TIMEOUT = Duration.ofMinutes(10);

    private ServerHttp http;

    /** The server could not be reached, or answered that it cannot serve now (502-504): exit code 4. */
    static final class UnreachableException extends IOException {
        UnreachableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The server answered 404: what the command named is not there (exit code 3). */
    static final class NotFoundException extends IOException {
        NotFoundException(String message) {
            super(message);
        }
    }

    @Option(names = "--server", defaultValue = "${env:PGVAULT_SERVER:-http://127.0.0.1:8432}",
            description = "pgvault server URL (env PGVAULT_SERVER; default ${DEFAULT-VALUE}).")
    String server;

    @Option(names = "--token", defaultValue = "${env:PGVAULT_TOKEN}",
            description = "Bearer token when the server requires one (env PGVAULT_TOKEN); --token-file keeps it out of the process list.")
    String token;

    @Option(names = "--token-file", defaultValue = "${env:PGVAULT_TOKEN_FILE}", description = "A file (mode 0600) holding the bearer token, "
            + "alone or as 'Authorization: Bearer TOKEN' (env PGVAULT_TOKEN_FILE); keeps it out of the process list.")
    java.nio.file.Path tokenFile;

    @Option(names = "--cacert", defaultValue = "${env:PGVAULT_CACERT}", description = "PEM certificates of the private CA that signed "
            + "an HTTPS server's certificate, trusted instead of the JDK's (env PGVAULT_CACERT); verification is never turned off.")
    java.nio.file.Path caCert;

    public JsonNode get(String path) throws IOException {
        return send(new HttpGet(uri(path)));
    }

    public JsonNode post(String path, Object body) throws IOException {
        return send(withJson(new HttpPost(uri(path)), body));
    }

    public JsonNode patch(String path, Object body) throws IOException {
        return send(withJson(new HttpPatch(uri(path)), body));
    }

    public JsonNode delete(String path) throws IOException {
        return send(new HttpDelete(uri(path)));
    }

    /** Whether requests carry a token (so the server requires them, and printed commands should too). */
    boolean usesToken() {
        return (tokenFile != null && !tokenFile.toString().isBlank()) || (token != null && !token.isBlank());
    }

    /** A client for commands that take the server URL as an option of their own. */
    static ServerClient of(String server, String token, java.nio.file.Path caCert) {
        ServerClient client = new ServerClient();
        client.server = server;
        client.token = token;
        client.caCert = caCert;
        return client;
    }

    private ServerHttp http() {
        if (http == null) {
            http = new ServerHttp(caCert == null || caCert.toString().isBlank() ? null : caCert, ANSWER_TIMEOUT);
        }
        return http;
    }

    private URI uri(String path) {
        return ServerHttp.uri(server, path);
    }

    private static HttpUriRequestBase withJson(HttpUriRequestBase request, Object body) throws IOException {
        request.setEntity(new ByteArrayEntity(Lazy.JSON.writeValueAsBytes(body), ContentType.APPLICATION_JSON));
        return request;
    }

    private String bearer() {
        return tokenFile != null && !tokenFile.toString().isBlank() ? io.pgvault.core.storage.server.BearerToken.fromFile(tokenFile) : token;
    }

    private JsonNode send(HttpUriRequestBase request) throws IOException {
        Answer response = sendRaw(request);
        String body = response.body();
        if (body.isBlank() || !(body.startsWith("{") || body.startsWith("["))) {
            return Lazy.JSON.nullNode();
        }
        return Lazy.JSON.readTree(body);
    }

    private Answer sendRaw(HttpUriRequestBase request) throws IOException {
        Answer response;
        try {
            ServerHttp.Answer streamed = http().send(request, bearer());
            String body;
            try (InputStream in = new StalledBodyGuard(streamed.body(), BODY_STALL_TIMEOUT, "the answer of the pgvault server at " + server)) {
                body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (StorageUnavailableException e) {
                throw new UnreachableException(e.getMessage(), e);
            }
            response = new Answer(streamed.statusCode(), body);
        } catch (javax.net.ssl.SSLException e) {
            throw new UnreachableException("TLS with the pgvault server at " + server + " failed: " + e.getMessage()
                    + "; if a private CA signed its certificate, give " + ServerHttp.CACERT_HINT, e);
        } catch (ConnectException e) {
            throw new UnreachableException("cannot reach the pgvault server at " + server + ": is it running? (--server or PGVAULT_SERVER)", e);
        } catch (java.io.InterruptedIOException e) {
            throw new UnreachableException("the pgvault server at " + server + " did not answer in time: " + e.getMessage(), e);
        } catch (java.net.UnknownHostException e) {
            throw new UnreachableException("cannot reach the pgvault server at " + server + ": unknown host " + e.getMessage()
                    + " (--server or PGVAULT_SERVER)", e);
        }
        if (response.statusCode() == 404) {
            throw new NotFoundException("the server answered 404: " + response.body().strip());
        }
        if (response.statusCode() >= 502 && response.statusCode() <= 504) {
            throw new UnreachableException("the server answered " + response.statusCode() + ": " + response.body().strip(), null);
        }
        if (response.statusCode() >= 400) {
            throw new IOException("the server answered " + response.statusCode() + ": " + response.body().strip()
                    + (response.statusCode() == 401 ? " (--token-file FILE or PGVAULT_TOKEN_FILE)" : ""));
        }
        return response;
    }

    /** The server's answer: its status and its body, read through the stall guard. */
    private record Answer(int statusCode, String body) {
    }
}

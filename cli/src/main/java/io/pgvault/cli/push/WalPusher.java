package io.pgvault.cli.push;

import io.pgvault.core.archive.PushHeaders;
import io.pgvault.core.archive.ZstdUpload;
import io.pgvault.core.compress.ZstdCodec;
import io.pgvault.core.storage.server.ServerHttp;
import io.pgvault.core.util.Sha256;
import org.apache.hc.client5.http.classic.methods.HttpPut;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.AbstractHttpEntity;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Sends one WAL file to the pgvault server ({@code PUT /v1/clusters/{cluster}/wal/{file}}) and
 * says what became of it. The server answers 2xx only once the file is durable in the
 * repository, so {@link Outcome.Kind#STORED} is what archive_command may report as success.
 * The file goes as zstd frames ({@link ZstdUpload}), compressed as it is sent: a 16 MiB segment
 * of pgbench WAL crosses the network as about 1.2 MiB, and a zstd repository stores the frames
 * as they came.
 */
final class WalPusher implements AutoCloseable {

    /** How long a push may wait for the server's next bytes; a busy server answers 503 long before. */
    private static final Duration WAIT = Duration.ofMinutes(2);
    private static final int MESSAGE_LIMIT = 4096;

    /**
     * What a push came to.
     *
     * @param status the server's HTTP status, or 0 when it did not answer
     */
    record Outcome(Kind kind, String message, Optional<Duration> retryAfter, int status) {
        /** Whether the server already held the file, identical (a duplicate): 200 rather than 201. */
        boolean duplicate() {
            return kind == Kind.STORED && status == 200;
        }

        /** Whether the server refused the credentials (401, 403): a token file rotated since it was read, or the wrong one. */
        boolean credentialsRefused() {
            return status == 401 || status == 403;
        }

        enum Kind {
            /** Durable in the repository (stored now, or already stored with the same content). */
            STORED,
            /** Refused for what it is or where it goes (bad file, other content, unknown cluster, token): a person must act. */
            REFUSED,
            /** Not stored for now (server unreachable, busy, its storage unavailable): try again. */
            RETRY
        }
    }

    private final ServerHttp http;
    private final WalPushOptions options;

    WalPusher(WalPushOptions options) {
        this.options = options;
        this.http = new ServerHttp(options.caCert(), WAIT);
    }

    /** Pushes {@code file} (a WAL file's path) under its own name. */
    Outcome push(Path file) {
        return push(file, false);
    }

    /**
     * Pushes {@code file} under its own name; {@code byReference} first names it by its SHA-256
     * alone, and sends it only if the server does not hold exactly that file (a cluster that
     * streams sends each segment again through archive_command: hashing 16 MiB here costs less
     * than sending and checking it there).
     */
    Outcome push(Path file, boolean byReference) {
        String name = file.getFileName().toString();
        URI uri = ServerHttp.uri(options.server().toString(), "/v1/clusters/" + URLEncoder.encode(options.cluster(), StandardCharsets.UTF_8).replace("+", "%20")
                + "/wal/" + name);
        if (byReference) {
            Outcome claimed = send(file, uri, true);
            if (claimed.status() != 412) {
                return claimed;
            }
        }
        return send(file, uri, false);
    }

    private Outcome send(Path file, URI uri, boolean byReference) {
        HttpPut put = new HttpPut(uri);
        try {
            put.setHeader(PushHeaders.RAW_LENGTH, Long.toString(Files.size(file)));
            if (byReference) {
                put.setHeader(PushHeaders.SHA256, Sha256.ofFile(file));
            } else {
                put.setHeader(PushHeaders.ENCODING, PushHeaders.ZSTD);
                put.setEntity(new ZstdFileEntity(file));
            }
            ServerHttp.Answer answer = http.send(put, options.token());
            int status = answer.statusCode();
            String body = answer.text(MESSAGE_LIMIT).strip();
            String said = "the server answered " + status + (body.isEmpty() ? "" : ": " + body);
            if (status >= 200 && status < 300) {
                return new Outcome(Outcome.Kind.STORED, body, Optional.empty(), status);
            }
            Optional<Duration> retryAfter = answer.header("Retry-After").filter(v -> v.matches("\\d{1,4}")).map(v -> Duration.ofSeconds(Long.parseLong(v)));
            if (byReference && status == 412) {
                return new Outcome(Outcome.Kind.RETRY, said, Optional.empty(), status); // not held: the caller sends the file
            }
            if (status == 408 || status == 429 || status >= 500) {
                return new Outcome(Outcome.Kind.RETRY, said, retryAfter, status);
            }
            return new Outcome(Outcome.Kind.REFUSED, said + (status == 401 || status == 403 ? " (--token-file FILE: a token with the archive "
                    + "role for cluster '" + options.cluster() + "')" : ""), Optional.empty(), status);
        } catch (java.io.FileNotFoundException | java.nio.file.NoSuchFileException e) {
            return new Outcome(Outcome.Kind.REFUSED, "cannot read " + file + ": " + e.getMessage(), Optional.empty(), 0);
        } catch (javax.net.ssl.SSLException e) {
            return new Outcome(Outcome.Kind.RETRY, "TLS with the pgvault server at " + options.server() + " failed: " + e.getMessage()
                    + "; if a private CA signed its certificate, give " + ServerHttp.CACERT_HINT, Optional.empty(), 0);
        } catch (IOException | RuntimeException e) {
            return new Outcome(Outcome.Kind.RETRY, "cannot reach the pgvault server at " + options.server() + ": " + e, Optional.empty(), 0);
        }
    }

    /** The file as zstd frames, made while they are sent (chunked: their length is known only at the end). */
    private static final class ZstdFileEntity extends AbstractHttpEntity {
        private final Path file;

        ZstdFileEntity(Path file) {
            super(ContentType.APPLICATION_OCTET_STREAM, null, true);
            this.file = file;
        }

        @Override
        public long getContentLength() {
            return -1;
        }

        @Override
        public boolean isRepeatable() {
            return true;
        }

        @Override
        public boolean isStreaming() {
            return false;
        }

        @Override
        public InputStream getContent() {
            throw new UnsupportedOperationException("written with writeTo only");
        }

        @Override
        public void writeTo(OutputStream out) throws IOException {
            OutputStream kept = new FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                }

                @Override
                public void close() throws IOException {
                    flush(); // the client ends the body itself
                }
            };
            try (InputStream in = Files.newInputStream(file); OutputStream frames = new ZstdCodec(ZstdUpload.LEVEL).compress(kept)) {
                in.transferTo(frames);
            }
        }

        @Override
        public void close() {
        }
    }

    @Override
    public void close() {
        try {
            http.close();
        } catch (IOException e) {
            // connections only; every answer was read
        }
    }
}

package io.pgvault.core.storage.server;

import io.pgvault.core.storage.StorageUnavailableException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A server that sends its headers and part of a body, then nothing: the read fails as an outage instead of hanging. */
class StalledBodyTest {

    private ServerSocket listener;
    private Thread answering;

    /** Answers every request with 1000 bytes in chunks of 100, and holds the connection. */
    private URI serveChunked() throws Exception {
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < 10; i++) {
            body.append("64\r\n").append("x".repeat(100)).append("\r\n");
        }
        body.append("0\r\n\r\n");
        return serve("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n" + body);
    }

    /** Answers every request with a 1000-byte Content-Length and {@code sent} bytes of it, then holds the connection. */
    private URI serve(int sent) throws Exception {
        return serve("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\n" + "\0".repeat(sent));
    }

    private URI serve(String answer) throws Exception {
        listener = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
        answering = new Thread(() -> {
            while (!listener.isClosed()) {
                try (Socket s = listener.accept()) {
                    s.getInputStream().read(new byte[8192]);
                    OutputStream out = s.getOutputStream();
                    out.write(answer.getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    // Reads until the client gives up (or for ever, as a stalled proxy would).
                    s.getInputStream().read(new byte[1]);
                } catch (Exception e) {
                    // A client that drops the connection resets it; only a closed listener ends the loop.
                }
            }
        });
        answering.setDaemon(true);
        answering.start();
        return URI.create("http://127.0.0.1:" + listener.getLocalPort() + "/");
    }

    @AfterEach
    void stop() throws Exception {
        listener.close();
        answering.join(5000);
    }

    @Test
    void aBodyThatStopsArrivingFailsAsAnOutageWithinTheTimeout() throws Exception {
        try (ServerObjectStore store = new ServerObjectStore(serve(10), null, null, Duration.ofSeconds(1))) {
            InputStream body = store.get("clusters/main/wal/000000010000000000000003").orElseThrow();
            long start = System.nanoTime();
            assertThatThrownBy(body::readAllBytes).isInstanceOf(StorageUnavailableException.class)
                    .hasMessageContaining("nothing arrived for 1 s").hasMessageContaining("000000010000000000000003");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        }
    }

    /**
     * A reader that stops before the end (a header read, a parser done with its value) closes
     * the body without reading the rest: the connection is dropped, nothing is thrown, and the
     * next request gets a connection of its own. Draining a chunked body at close used to throw
     * "Socket closed" out of every such close.
     */
    @Test
    void aBodyClosedBeforeItsEndClosesQuietlyAndTheNextRequestWorks() throws Exception {
        try (ServerObjectStore store = new ServerObjectStore(serveChunked(), null, null, Duration.ofSeconds(5))) {
            for (int i = 0; i < 3; i++) {
                InputStream body = store.get("k").orElseThrow();
                assertThat(body.readNBytes(10)).hasSize(10);
                body.close();
            }
            try (InputStream body = store.get("k").orElseThrow()) {
                assertThat(body.readAllBytes()).hasSize(1000);
            }
        }
    }

    @Test
    void aBodyThatArrivesIsReadWhole() throws Exception {
        try (ServerObjectStore store = new ServerObjectStore(serve(1000), null, null, Duration.ofSeconds(1));
             InputStream body = store.get("k").orElseThrow()) {
            assertThat(body.readAllBytes()).hasSize(1000);
        }
    }
}

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

    /** Answers every request with a 1000-byte Content-Length and {@code sent} bytes of it, then holds the connection. */
    private URI serve(int sent) throws Exception {
        listener = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
        answering = new Thread(() -> {
            while (!listener.isClosed()) {
                try (Socket s = listener.accept()) {
                    s.getInputStream().read(new byte[8192]);
                    OutputStream out = s.getOutputStream();
                    out.write(("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    out.write(new byte[sent]);
                    out.flush();
                    // Reads until the client gives up (or for ever, as a stalled proxy would).
                    s.getInputStream().read(new byte[1]);
                } catch (Exception closed) {
                    return;
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

    @Test
    void aBodyThatArrivesIsReadWhole() throws Exception {
        try (ServerObjectStore store = new ServerObjectStore(serve(1000), null, null, Duration.ofSeconds(1));
             InputStream body = store.get("k").orElseThrow()) {
            assertThat(body.readAllBytes()).hasSize(1000);
        }
    }
}

package io.pgvault.core.storage;

import io.pgvault.core.storage.s3.S3Settings;
import io.pgvault.core.storage.s3.S3Store;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * What the S3 client does when the store misbehaves in the ways S3 stores do, against a
 * scripted HTTP endpoint (the kind of server pgBackRest tests its HTTP layer with): a store
 * that accepts connections and then says nothing fails each try after the read timeout and
 * gives up after a bounded number of tries, instead of hanging a push for ever; a store that
 * answers 503 SlowDown is retried with backoff, then reported as an outage to retry later.
 */
class S3FaultsTest {

    /**
     * A loopback endpoint that answers its requests with {@code answers} in turn, the last one
     * for all that follow; an empty list: it reads requests and never answers.
     */
    private static final class ScriptedEndpoint implements AutoCloseable {
        private final ServerSocket listener;
        private final List<String> answers;
        private final AtomicInteger requests = new AtomicInteger();
        private final List<Socket> accepted = new CopyOnWriteArrayList<>();

        ScriptedEndpoint(String... answers) throws IOException {
            this.answers = List.of(answers);
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread acceptor = new Thread(() -> {
                while (!listener.isClosed()) {
                    try {
                        Socket s = listener.accept();
                        accepted.add(s);
                        Thread handler = new Thread(() -> serve(s), "scripted-s3");
                        handler.setDaemon(true);
                        handler.start();
                    } catch (IOException closed) {
                        return;
                    }
                }
            }, "scripted-s3-accept");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        private void serve(Socket s) {
            try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                while (readHeaders(in)) {
                    int n = requests.incrementAndGet();
                    if (answers.isEmpty()) {
                        in.transferTo(OutputStream.nullOutputStream());
                        return;
                    }
                    String answer = answers.get(Math.min(n, answers.size()) - 1);
                    out.write(answer.getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                }
            } catch (IOException gone) {
                // the client gave up on this connection
            }
        }

        /**
         * Reads one request's head; false at the end of the connection. Uploads send
         * {@code Expect: 100-continue}, so a body follows only a 2xx answer, and then the connection ends.
         */
        private static boolean readHeaders(InputStream in) throws IOException {
            int matched = 0;
            int b;
            while ((b = in.read()) >= 0) {
                matched = (b == '\r' || b == '\n') ? matched + 1 : 0;
                if (matched == 4) {
                    return true;
                }
            }
            return false;
        }

        URI uri() {
            return URI.create("http://127.0.0.1:" + listener.getLocalPort());
        }

        @Override
        public void close() throws IOException {
            listener.close();
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    private static S3Settings settings(ScriptedEndpoint endpoint) {
        return S3Settings.of("faults", "repo").withEndpoint(endpoint.uri(), true).withCredentials("key", "secret-key-of-forty-characters-or-so")
                .withReadTimeout(Duration.ofMillis(300));
    }

    @Test
    void aStoreThatStallsFailsEachTryAfterTheReadTimeoutAndThenAsAnOutage() throws Exception {
        try (ScriptedEndpoint silent = new ScriptedEndpoint(); S3Store store = new S3Store(settings(silent))) {
            assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
                    assertThatThrownBy(() -> store.stat("wal/000000010000000000000001"))
                            .isInstanceOf(StorageUnavailableException.class)
                            .hasMessageContaining("faults"));
            assertThat(silent.requests.get()).as("tries before giving up").isEqualTo(5);
        }
    }

    private static final String SLOW_DOWN_XML = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
            + "<Message>Please reduce your request rate.</Message></Error>";
    private static final String SLOW_DOWN = "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: "
            + SLOW_DOWN_XML.length() + "\r\n\r\n" + SLOW_DOWN_XML;
    private static final String STORED = "HTTP/1.1 200 OK\r\nETag: \"1\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

    @Test
    void anUploadIsRetriedAfterSlowDownAndSucceeds() throws Exception {
        try (ScriptedEndpoint throttling = new ScriptedEndpoint(SLOW_DOWN, SLOW_DOWN, STORED); S3Store store = new S3Store(settings(throttling))) {
            AtomicInteger opened = new AtomicInteger();
            store.put("wal/a", () -> {
                opened.incrementAndGet();
                return new ByteArrayInputStream(new byte[10]);
            }, 10);
            assertThat(throttling.requests.get()).isEqualTo(3);
            // Each try reads the content from its first byte.
            assertThat(opened.get()).isEqualTo(3);
        }
    }

    @Test
    void slowDownThatDoesNotEndIsReportedAsAnOutageAfterBoundedTries() throws Exception {
        try (ScriptedEndpoint throttling = new ScriptedEndpoint(SLOW_DOWN); S3Store store = new S3Store(settings(throttling))) {
            long started = System.nanoTime();
            assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
                    assertThatThrownBy(() -> store.putIfAbsent("wal/a", () -> new ByteArrayInputStream(new byte[10]), 10))
                            .isInstanceOf(StorageUnavailableException.class)
                            .hasMessageContaining("503").hasMessageContaining("SlowDown").hasMessageContaining("retry later"));
            // Five tries, then one HEAD: a conditional upload asks whether its object landed after all.
            assertThat(throttling.requests.get()).as("tries before giving up").isEqualTo(6);
            // Four waits between five tries, with throttling backoff: not a hot loop against a store that asks for less.
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThan(Duration.ofMillis(400));
        }
    }
}

package io.pgvault.core.pgproto;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * A host that accepts the connection and then says nothing (a hung PostgreSQL, a wrong port
 * taken by another service) fails the connection after {@code connect_timeout}, TLS
 * negotiation and start-up included, as libpq does; it must never hang a backup or a check.
 */
class SilentServerTest {

    @ParameterizedTest
    @ValueSource(strings = {"disable", "prefer", "require-then-stall"})
    void aServerThatNeverAnswersFailsAfterConnectTimeout(String scenario) throws Exception {
        // require-then-stall: the server accepts TLS ('S') and then says nothing in the handshake.
        boolean acceptTls = scenario.equals("require-then-stall");
        String sslmode = acceptTls ? "require" : scenario;
        List<Socket> accepted = new CopyOnWriteArrayList<>();
        try (ServerSocket silent = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        Socket s = silent.accept();
                        accepted.add(s);
                        // Read what the client sends, answer nothing.
                        Thread reader = new Thread(() -> {
                            try (InputStream in = s.getInputStream()) {
                                if (acceptTls) {
                                    in.readNBytes(8); // the SSLRequest
                                    s.getOutputStream().write('S');
                                    s.getOutputStream().flush();
                                }
                                in.transferTo(OutputStream.nullOutputStream());
                            } catch (IOException gone) {
                                // the client gave up
                            }
                        });
                        reader.setDaemon(true);
                        reader.start();
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();

            Conninfo conninfo = Conninfo.parse("host=127.0.0.1 port=" + silent.getLocalPort() + " user=pgvault connect_timeout=1 sslmode=" + sslmode);
            assertTimeoutPreemptively(Duration.ofSeconds(30), () ->
                    assertThatThrownBy(() -> ReplicationConnection.open(conninfo, "pgvault-test"))
                            .isInstanceOf(IOException.class)
                            .hasMessageContaining("pgvault@127.0.0.1:" + silent.getLocalPort())
                            .hasMessageContaining("no answer")
                            .hasMessageContaining("within 1 s (connect_timeout)"));
        } finally {
            for (Socket s : accepted) {
                s.close();
            }
        }
    }
}

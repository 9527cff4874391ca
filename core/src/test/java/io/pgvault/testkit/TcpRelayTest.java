package io.pgvault.testkit;

import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The relay's delay (the S3 benchmarks' network, the fault soak's slow bucket): bytes arrive whole and a round trip takes at least twice the delay. */
class TcpRelayTest {

    @Test
    void aDelayedRelayHoldsEachDirectionAndKeepsTheBytes() throws Exception {
        try (ServerSocket echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> {
                try (Socket s = echo.accept(); InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                    // Echo until the client half-closes, then answer once more: the relay must pass both on.
                    in.transferTo(out);
                    out.write("bye".getBytes());
                } catch (Exception ignored) {
                    // the test fails on what it reads
                }
            });
            server.setDaemon(true);
            server.start();
            try (TcpRelay relay = TcpRelay.to("127.0.0.1", echo.getLocalPort(), Duration.ofMillis(40));
                 Socket client = new Socket()) {
                client.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), relay.port()));
                byte[] payload = new byte[200_000];
                for (int i = 0; i < payload.length; i++) {
                    payload[i] = (byte) i;
                }
                long start = System.nanoTime();
                client.getOutputStream().write(payload);
                client.shutdownOutput();
                byte[] back = client.getInputStream().readAllBytes();
                long elapsed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertThat(elapsed).isGreaterThanOrEqualTo(80);
                assertThat(back).hasSize(payload.length + 3);
                assertThat(java.util.Arrays.copyOf(back, payload.length)).isEqualTo(payload);
                assertThat(new String(back, payload.length, 3)).isEqualTo("bye");
            }
        }
    }

    @Test
    void anAdjustableRelaySlowsDownAConnectionAlreadyOpen() throws Exception {
        try (ServerSocket echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> {
                try (Socket s = echo.accept(); InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                    for (int b; (b = in.read()) >= 0; ) {
                        out.write(b);
                        out.flush();
                    }
                } catch (Exception ignored) {
                    // the test fails on what it reads
                }
            });
            server.setDaemon(true);
            server.start();
            try (TcpRelay relay = TcpRelay.adjustable("127.0.0.1", echo.getLocalPort()); Socket client = new Socket()) {
                client.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), relay.port()));
                assertThat(roundTripMillis(client)).isLessThan(250);
                relay.delay(Duration.ofMillis(150));
                assertThat(roundTripMillis(client)).isGreaterThanOrEqualTo(300);
                relay.delay(Duration.ZERO);
                assertThat(roundTripMillis(client)).isLessThan(250);
            }
        }
    }

    private static long roundTripMillis(Socket client) throws Exception {
        long start = System.nanoTime();
        client.getOutputStream().write(42);
        client.getOutputStream().flush();
        assertThat(client.getInputStream().read()).isEqualTo(42);
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }
}

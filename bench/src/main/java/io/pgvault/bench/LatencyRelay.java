package io.pgvault.bench;

import io.pgvault.testkit.Fixtures;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP relay on loopback that holds every chunk for a fixed time before passing it on, in
 * both directions: a network round trip of {@code 2 * oneWayMillis} between a client and a
 * server on the same box, without a bandwidth limit. Every round trip of a protocol pays it
 * (a TCP connect, each TLS handshake flight, each request), as across a real network.
 */
final class LatencyRelay implements AutoCloseable {

    private record Chunk(long dueNanos, byte[] bytes) {
    }

    private static final Chunk END = new Chunk(0, new byte[0]);

    private final ServerSocket listener;
    private final int targetPort;
    private final long delayNanos;
    private final List<Socket> open = new CopyOnWriteArrayList<>();

    private LatencyRelay(ServerSocket listener, int targetPort, long delayNanos) {
        this.listener = listener;
        this.targetPort = targetPort;
        this.delayNanos = delayNanos;
    }

    static LatencyRelay to(int targetPort, int oneWayMillis) throws IOException {
        ServerSocket socket = new ServerSocket();
        socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), Fixtures.freePort()));
        LatencyRelay relay = new LatencyRelay(socket, targetPort, TimeUnit.MILLISECONDS.toNanos(oneWayMillis));
        daemon("latency-relay-accept", relay::accept);
        return relay;
    }

    int port() {
        return listener.getLocalPort();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                open.add(client);
                open.add(upstream);
                AtomicInteger directions = new AtomicInteger(2);
                Runnable ended = () -> {
                    if (directions.decrementAndGet() == 0) {
                        open.remove(client);
                        open.remove(upstream);
                        close(client);
                        close(upstream);
                    }
                };
                relay(client, upstream, ended);
                relay(upstream, client, ended);
            } catch (IOException e) {
                // closed, or the target refused: the client sees its connection end
            }
        }
    }

    /** One direction: a reader stamps each chunk with when it may leave, a writer sends it then. */
    private void relay(Socket from, Socket to, Runnable ended) {
        BlockingQueue<Chunk> queue = new LinkedBlockingQueue<>();
        daemon("latency-relay-read", () -> {
            byte[] buffer = new byte[64 * 1024];
            try (InputStream in = from.getInputStream()) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    queue.add(new Chunk(System.nanoTime() + delayNanos, Arrays.copyOf(buffer, n)));
                }
            } catch (IOException ignored) {
                // the connection ended
            }
            queue.add(END);
        });
        daemon("latency-relay-write", () -> {
            try {
                OutputStream out = to.getOutputStream();
                for (Chunk c; (c = queue.take()) != END; ) {
                    long wait = c.dueNanos() - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                    out.write(c.bytes());
                    out.flush();
                }
                to.shutdownOutput();
            } catch (IOException | InterruptedException e) {
                close(from);
                close(to);
            } finally {
                ended.run();
            }
        });
    }

    private static void daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
    }

    private static void close(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        open.forEach(LatencyRelay::close);
    }
}

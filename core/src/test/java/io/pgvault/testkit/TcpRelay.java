package io.pgvault.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP relay on loopback in front of a real server, which a test can cut like a network
 * partition: {@link #cut()} closes the listener and every connection through it (pooled
 * keep-alive connections too, which stopping the server itself may leave serving), and
 * {@link #restore()} listens again on the same port. With a one-way delay it holds every
 * chunk that long in each direction: a network round trip of twice the delay without a
 * bandwidth limit, paid by every TCP connect, TLS flight and request, as across a network.
 * An {@link #adjustable} relay lets a test change that delay while connections are open
 * ({@link #delay(Duration)}): a network that turns slow and fast again.
 */
public final class TcpRelay implements AutoCloseable {

    private record Chunk(long dueNanos, byte[] bytes) {
    }

    private static final Chunk END = new Chunk(0, new byte[0]);

    private final int port;
    private final InetSocketAddress target;
    private final boolean adjustable;
    private volatile long delayNanos;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private volatile ServerSocket listener;

    private TcpRelay(int port, InetSocketAddress target, Duration oneWayDelay, boolean adjustable) {
        this.port = port;
        this.target = target;
        this.delayNanos = oneWayDelay.toNanos();
        this.adjustable = adjustable;
    }

    public static TcpRelay to(String host, int targetPort) {
        return to(host, targetPort, Duration.ZERO);
    }

    /** @param oneWayDelay how long each chunk is held in each direction (zero: passed on at once) */
    public static TcpRelay to(String host, int targetPort, Duration oneWayDelay) {
        TcpRelay relay = new TcpRelay(Fixtures.freePort(), new InetSocketAddress(host, targetPort), oneWayDelay, false);
        relay.restore();
        return relay;
    }

    /**
     * A relay without delay whose delay {@link #delay(Duration)} changes later, for the
     * connections open then too. Every chunk passes a queue, so use it only where that
     * change is the point.
     */
    public static TcpRelay adjustable(String host, int targetPort) {
        TcpRelay relay = new TcpRelay(Fixtures.freePort(), new InetSocketAddress(host, targetPort), Duration.ZERO, true);
        relay.restore();
        return relay;
    }

    /** From now on each chunk is held this long in each direction (zero: passed on at once). Only on an {@link #adjustable} relay. */
    public void delay(Duration oneWayDelay) {
        if (!adjustable) {
            throw new IllegalStateException("this relay's delay is fixed; make it with TcpRelay.adjustable to change it");
        }
        delayNanos = oneWayDelay.toNanos();
    }

    public int port() {
        return port;
    }

    /** Accepts and relays connections again, on the same port. */
    public synchronized void restore() {
        try {
            ServerSocket socket = new ServerSocket();
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            listener = socket;
            daemon("tcp-relay-" + port, () -> accept(socket));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Refuses new connections and resets the ones open. */
    public synchronized void cut() {
        close(listener);
        open.forEach(TcpRelay::close);
        open.clear();
    }

    private void accept(ServerSocket socket) {
        while (!socket.isClosed()) {
            try {
                Socket client = socket.accept();
                Socket upstream = new Socket(target.getAddress(), target.getPort());
                open.add(client);
                open.add(upstream);
                if (delayNanos == 0 && !adjustable) {
                    pump(client, upstream);
                    pump(upstream, client);
                } else {
                    client.setTcpNoDelay(true);
                    upstream.setTcpNoDelay(true);
                    AtomicInteger directions = new AtomicInteger(2);
                    Runnable ended = () -> {
                        if (directions.decrementAndGet() == 0) {
                            close(client);
                            close(upstream);
                        }
                    };
                    delayedPump(client, upstream, ended);
                    delayedPump(upstream, client, ended);
                }
            } catch (IOException e) {
                // listener closed, or the target refused: the client sees its connection end
            }
        }
    }

    private void pump(Socket from, Socket to) {
        daemon("tcp-relay-pump", () -> {
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // either side went away
            } finally {
                close(from);
                close(to);
            }
        });
    }

    /** One direction with the delay: a reader stamps each chunk with when it may leave, a writer sends it then. */
    private void delayedPump(Socket from, Socket to, Runnable ended) {
        BlockingQueue<Chunk> queue = new LinkedBlockingQueue<>();
        daemon("tcp-relay-read", () -> {
            byte[] buffer = new byte[64 * 1024];
            try {
                InputStream in = from.getInputStream();
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    queue.add(new Chunk(System.nanoTime() + delayNanos, Arrays.copyOf(buffer, n)));
                }
            } catch (IOException ignored) {
                // the connection ended
            }
            queue.add(END);
        });
        daemon("tcp-relay-write", () -> {
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
                // Half-close, as the sender did: the other direction may still carry an answer.
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

    private static void close(AutoCloseable c) {
        try {
            if (c != null) {
                c.close();
            }
        } catch (Exception ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() {
        cut();
    }
}

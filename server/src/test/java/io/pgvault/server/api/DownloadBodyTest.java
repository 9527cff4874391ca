package io.pgvault.server.api;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** A download body: whole, in large pieces, and its stream closed however it ends (the stream's close gives a download's turn back). */
class DownloadBodyTest {

    private final ExecutorService blocking = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        blocking.shutdownNow();
    }

    @Test
    void sendsTheWholeStreamInLargePiecesAndClosesIt() throws Exception {
        byte[] content = new byte[(16 << 20) + 12345];
        new Random(7).nextBytes(content);
        Tracked in = new Tracked(content);
        Collector collector = new Collector(Long.MAX_VALUE);
        DownloadBody.of(in, blocking).subscribe(collector);

        assertThat(collector.done.get(30, TimeUnit.SECONDS)).isNull();
        assertThat(collector.bytes.toByteArray()).isEqualTo(content);
        // 65 pieces, not the 2049 a body written 8 KiB at a time takes.
        assertThat(collector.pieces).hasSize(65).allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(DownloadBody.CHUNK_BYTES));
        // Closed just after the end is signalled, on the reading thread.
        awaitClosed(in);
    }

    @Test
    void aClientThatGoesAwayClosesTheStream() throws Exception {
        Tracked in = new Tracked(new byte[4 << 20]);
        Collector collector = new Collector(1);
        DownloadBody.of(in, blocking).subscribe(collector);
        collector.first.await(30, TimeUnit.SECONDS);
        collector.subscription.cancel();

        awaitClosed(in);
        assertThat(collector.pieces).hasSize(1);
    }

    @Test
    void aFailedReadEndsTheBodyWithTheErrorAndClosesTheStream() throws Exception {
        Tracked in = new Tracked(new byte[1 << 20], 512 << 10);
        Collector collector = new Collector(Long.MAX_VALUE);
        DownloadBody.of(in, blocking).subscribe(collector);

        assertThat(collector.done.get(30, TimeUnit.SECONDS)).hasMessage("checksum mismatch");
        awaitClosed(in);
    }

    @Test
    void isSentOnce() throws Exception {
        Tracked in = new Tracked(new byte[1 << 20]);
        Publisher<byte[]> body = DownloadBody.of(in, blocking);
        Collector first = new Collector(Long.MAX_VALUE);
        body.subscribe(first);
        assertThat(first.done.get(30, TimeUnit.SECONDS)).isNull();

        Collector second = new Collector(Long.MAX_VALUE);
        body.subscribe(second);
        assertThat(second.done.get(30, TimeUnit.SECONDS)).isInstanceOf(IllegalStateException.class).hasMessageContaining("sent once");
        assertThat(first.bytes.size()).isEqualTo(1 << 20);
        assertThat(second.bytes.size()).isZero();
    }

    @Test
    void aBodyTheExecutorRefusesStillClosesItsStream() throws Exception {
        Tracked in = new Tracked(new byte[1 << 20]);
        Collector collector = new Collector(Long.MAX_VALUE);
        DownloadBody.of(in, command -> {
            throw new RejectedExecutionException("stopping");
        }).subscribe(collector);

        assertThat(collector.done.get(30, TimeUnit.SECONDS)).isInstanceOf(RejectedExecutionException.class);
        assertThat(in.closes.get()).isEqualTo(1);
    }

    /** Waits for the close, then checks there was exactly one. */
    private static void awaitClosed(Tracked in) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (in.closes.get() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        Thread.sleep(50);
        assertThat(in.closes.get()).isEqualTo(1);
    }

    /** A stream that counts its closes, and fails once {@code failAt} bytes were read (as a checksum mismatch would). */
    private static final class Tracked extends FilterInputStream {
        final AtomicInteger closes = new AtomicInteger();
        private final long failAt;
        private long read;

        Tracked(byte[] content) {
            this(content, Long.MAX_VALUE);
        }

        Tracked(byte[] content, long failAt) {
            super(new ByteArrayInputStream(content));
            this.failAt = failAt;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (read >= failAt) {
                throw new IOException("checksum mismatch");
            }
            int n = super.read(b, off, (int) Math.min(len, failAt - read));
            read += Math.max(n, 0);
            return n;
        }

        @Override
        public void close() {
            closes.incrementAndGet();
        }
    }

    /** Requests {@code demand} pieces at first (then one more per piece when unbounded), and keeps what arrives. */
    private static final class Collector implements Subscriber<byte[]> {
        private final long demand;
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final List<Integer> pieces = new ArrayList<>();
        final CompletableFuture<Throwable> done = new CompletableFuture<>();
        final CountDownLatch first = new CountDownLatch(1);
        volatile Subscription subscription;

        Collector(long demand) {
            this.demand = demand;
        }

        @Override
        public void onSubscribe(Subscription s) {
            subscription = s;
            s.request(demand);
        }

        @Override
        public synchronized void onNext(byte[] piece) {
            pieces.add(piece.length);
            bytes.writeBytes(piece);
            first.countDown();
        }

        @Override
        public void onError(Throwable t) {
            done.complete(t);
        }

        @Override
        public void onComplete() {
            done.complete(null);
        }
    }
}

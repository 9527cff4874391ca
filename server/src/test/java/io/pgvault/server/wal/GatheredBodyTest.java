package io.pgvault.server.wal;

import io.micronaut.core.io.buffer.ReadBuffer;
import io.micronaut.core.io.buffer.ReadBufferFactory;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The body as a blocking reader sees it, fed as the event loop feeds it: every byte in order,
 * no more queued than the bound allows, an error or a short body reported, and a close before
 * the end cancelling the upload.
 */
class GatheredBodyTest {

    /** Plays the event loop: sends {@code chunks} of {@code data} on its own thread as they are requested. */
    private static final class Upload implements Subscription {
        final byte[] data;
        final int chunk;
        final AtomicLong requested = new AtomicLong();
        final AtomicInteger sent = new AtomicInteger();
        final AtomicBoolean cancelled = new AtomicBoolean();
        final AtomicLong mostQueued = new AtomicLong();
        final Throwable failAfterHalf;
        GatheredBody body;
        private final ExecutorService loop = Executors.newSingleThreadExecutor();

        Upload(byte[] data, int chunk, Throwable failAfterHalf) {
            this.data = data;
            this.chunk = chunk;
            this.failAfterHalf = failAfterHalf;
        }

        @Override
        public void request(long n) {
            requested.addAndGet(n);
            loop.execute(this::deliver);
        }

        private void deliver() {
            while (requested.get() > 0 && !cancelled.get()) {
                int from = sent.get() * chunk;
                if (failAfterHalf != null && from >= data.length / 2) {
                    body.onError(failAfterHalf);
                    return;
                }
                if (from >= data.length) {
                    body.onComplete();
                    return;
                }
                requested.decrementAndGet();
                sent.incrementAndGet();
                int to = Math.min(data.length, from + chunk);
                byte[] part = java.util.Arrays.copyOfRange(data, from, to);
                ReadBuffer buffer = ReadBufferFactory.getJdkFactory().adapt(part);
                body.onNext(buffer);
                mostQueued.accumulateAndGet(body.queued(), Math::max);
            }
        }

        @Override
        public void cancel() {
            cancelled.set(true);
        }

        void stop() throws InterruptedException {
            loop.shutdownNow();
            loop.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    private static Upload upload(byte[] data, int chunk, Throwable failure) {
        Upload upload = new Upload(data, chunk, failure);
        upload.body = new GatheredBody();
        upload.body.onSubscribe(upload);
        return upload;
    }

    @Test
    void aSegmentArrivesWholeAndInOrderWithNoMoreQueuedThanTheBound() throws Exception {
        byte[] data = new byte[16 << 20];
        new Random(5).nextBytes(data);
        Upload upload = upload(data, 20_000, null);
        try (GatheredBody body = upload.body) {
            ByteArrayOutputStream read = new ByteArrayOutputStream(data.length);
            byte[] buffer = new byte[8192];
            for (int n; (n = body.read(buffer, 0, buffer.length)) >= 0; ) {
                read.write(buffer, 0, n);
                if (read.size() % (1 << 20) < 8192) {
                    Thread.sleep(2);  // a slow reader: the event loop runs ahead, up to the bound
                }
            }
            assertThat(read.toByteArray()).isEqualTo(data);
            assertThat(body.read()).isEqualTo(-1);
        } finally {
            upload.stop();
        }
        assertThat(upload.mostQueued.get()).as("bytes waiting at most").isGreaterThan(GatheredBody.WAKE_BYTES)
                .isLessThanOrEqualTo(GatheredBody.MAX_QUEUED + 20_000L);
        assertThat(upload.cancelled).isFalse();
    }

    @Test
    void aBodyShorterThanAHandOverIsReadAtItsEnd() throws Exception {
        byte[] data = "00000001.history is short".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        Upload upload = upload(data, 7, null);
        try (GatheredBody body = upload.body) {
            assertThat(body.readAllBytes()).isEqualTo(data);
        } finally {
            upload.stop();
        }
    }

    @Test
    void aFailedUploadIsAnIOExceptionAfterWhatArrived() throws Exception {
        byte[] data = new byte[6 << 20];
        new Random(7).nextBytes(data);
        Upload upload = upload(data, 65536, new IOException("connection reset by peer"));
        try (GatheredBody body = upload.body) {
            ByteArrayOutputStream read = new ByteArrayOutputStream();
            assertThatThrownBy(() -> body.transferTo(read)).isInstanceOf(IOException.class).hasMessageContaining("connection reset by peer");
            assertThat(read.size()).isEqualTo(data.length / 2);
        } finally {
            upload.stop();
        }
    }

    @Test
    void closingBeforeTheEndCancelsTheUpload() throws Exception {
        byte[] data = new byte[16 << 20];
        Upload upload = upload(data, 65536, null);
        GatheredBody body = upload.body;
        assertThat(body.read(new byte[100], 0, 100)).isPositive();
        body.close();
        upload.stop();
        assertThat(upload.cancelled).isTrue();
        assertThat(upload.sent.get() * 65536L).as("no more was sent than the bound").isLessThanOrEqualTo(GatheredBody.MAX_QUEUED + 2 * 65536L);
        assertThatThrownBy(() -> body.read(new byte[10], 0, 10)).isInstanceOf(IOException.class);
    }

    @Test
    void aReaderWaitingForBytesIsWokenByTheEnd() throws Exception {
        byte[] data = new byte[300_000];
        Upload upload = upload(data, 1000, null);
        ExecutorService reader = Executors.newSingleThreadExecutor();
        try (GatheredBody body = upload.body) {
            Future<byte[]> all = reader.submit(body::readAllBytes);
            assertThat(all.get(30, TimeUnit.SECONDS)).hasSize(data.length);
        } finally {
            reader.shutdownNow();
            upload.stop();
        }
    }
}

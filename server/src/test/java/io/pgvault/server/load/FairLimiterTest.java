package io.pgvault.server.load;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FairLimiterTest {

    @Test
    void aQuietClusterGoesBeforeTheBacklogOfANoisyOne() throws Exception {
        FairLimiter limiter = new FairLimiter("pushes", 1, Duration.ofSeconds(30));
        FairLimiter.Permit held = limiter.acquire("noisy");
        List<String> admitted = new CopyOnWriteArrayList<>();
        CountDownLatch done = new CountDownLatch(4);
        // The noisy cluster queues three requests first, then the quiet one queues its one.
        for (String who : List.of("noisy-1", "noisy-2", "noisy-3", "quiet-1")) {
            int queuedBefore = limiter.waiting();
            new Thread(() -> {
                try (FairLimiter.Permit p = limiter.acquire(who.substring(0, who.indexOf('-')))) {
                    admitted.add(who);
                } finally {
                    done.countDown();
                }
            }).start();
            awaitWaiting(limiter, queuedBefore + 1);
        }
        held.close();
        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(admitted).containsExactly("noisy-1", "quiet-1", "noisy-2", "noisy-3");
        assertThat(limiter.running()).isZero();
        assertThat(limiter.waiting()).isZero();
    }

    @Test
    void aRequestThatWaitsTooLongIsRefusedAndLeavesTheQueue() {
        FairLimiter limiter = new FairLimiter("fetches", 1, Duration.ofMillis(200));
        try (FairLimiter.Permit held = limiter.acquire("main")) {
            assertThatThrownBy(() -> limiter.acquire("main"))
                    .isInstanceOf(BusyException.class)
                    .hasMessageContaining("limit of 1 concurrent fetches (pgvault.limits.concurrent-fetches)")
                    .satisfies(e -> assertThat(((BusyException) e).retryAfter()).isPositive());
            assertThat(limiter.waiting()).isZero();
            assertThat(limiter.refused()).isEqualTo(1);
        }
        // Closing twice gives back one permit, not two.
        FairLimiter.Permit p = limiter.acquire("main");
        p.close();
        p.close();
        assertThat(limiter.running()).isZero();
        try (FairLimiter.Permit a = limiter.acquire("main")) {
            assertThat(limiter.running()).isEqualTo(1);
        }
    }

    private static void awaitWaiting(FairLimiter limiter, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (limiter.waiting() < n) {
            assertThat(System.nanoTime()).as("a request queues").isLessThan(deadline);
            Thread.sleep(5);
        }
    }
}

package io.pgvault.core.util;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BackoffTest {

    @Test
    void delaysDoubleUpToTheMaximumAndAreSpreadWithinHalfOfEachStep() {
        Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5));
        Set<Long> firsts = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            long first = backoff.delay(1).toMillis();
            assertThat(first).isBetween(50L, 100L);
            firsts.add(first);
            assertThat(backoff.delay(3).toMillis()).isBetween(200L, 400L);
            assertThat(backoff.delay(40).toMillis()).isBetween(2500L, 5000L);
        }
        // Clients that failed together do not retry together.
        assertThat(firsts.size()).isGreaterThan(10);
    }

    @Test
    void nonsenseIsRefused() {
        assertThatThrownBy(() -> new Backoff(Duration.ZERO, Duration.ofSeconds(1))).hasMessageContaining("0 < min <= max");
        assertThatThrownBy(() -> new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(1))).hasMessageContaining("0 < min <= max");
    }
}

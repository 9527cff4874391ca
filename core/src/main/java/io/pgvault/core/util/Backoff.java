package io.pgvault.core.util;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Retry delays that double from {@code min} up to {@code max}, each drawn between half and all
 * of its step ("equal jitter"): many clients that failed together (a bucket that answered
 * SlowDown, a server restarting) do not come back in step.
 */
public record Backoff(Duration min, Duration max) {

    public Backoff {
        if (min.isNegative() || min.isZero() || max.compareTo(min) < 0) {
            throw new IllegalArgumentException("backoff needs 0 < min <= max, not " + min + " and " + max);
        }
    }

    /** The delay before retry number {@code attempt} (1 for the first retry). */
    public Duration delay(int attempt) {
        long step = Math.min(max.toMillis(), min.toMillis() << Math.min(20, Math.max(0, attempt - 1)));
        return Duration.ofMillis(step / 2 + ThreadLocalRandom.current().nextLong(step / 2 + 1));
    }
}

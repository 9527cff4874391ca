package io.pgvault.cli.soak;

import java.time.Duration;
import java.time.Instant;

/**
 * One injected fault: from when it began to when it was healed, plus how long its effects
 * may still show after that (requests a late store still holds).
 */
record FaultWindow(FaultKind kind, String detail, Instant start, Instant end, Duration aftermath) {

    /** Whether something that ran from {@code fromMillis} to {@code toMillis} (epoch) met this fault or its aftermath. */
    boolean touches(long fromMillis, long toMillis) {
        return fromMillis <= end.plus(aftermath).toEpochMilli() && toMillis >= start.toEpochMilli();
    }

    Duration length() {
        return Duration.between(start, end);
    }
}

package io.pgvault.server.stream;

import io.pgvault.core.wal.Lsn;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * When the repository last held everything the cluster had written: the streaming RPO.
 * Each slot check samples the cluster's WAL position; once the stored position reaches
 * a sample's, all WAL written by that sample's time is safe. A busy primary is never at
 * zero lag, so "last time the lag was zero" would grow for ever on a healthy stream.
 */
final class RecoveryPointClock {

    /** Enough for an hour of checks at the default interval; older samples only matter to a stream that long behind. */
    static final int SAMPLES = 360;

    private record Sample(Instant at, Lsn position) {
    }

    private final Deque<Sample> pending = new ArrayDeque<>();
    private Instant caughtUpAt;

    /** A slot check saw the cluster at {@code current} while the repository held up to {@code stored}. */
    synchronized void observed(Instant at, Lsn current, Lsn stored) {
        pending.addLast(new Sample(at, current));
        while (!pending.isEmpty() && !pending.peekFirst().position().isAfter(stored)) {
            caughtUpAt = pending.pollFirst().at();
        }
        while (pending.size() > SAMPLES) {
            pending.pollFirst();
        }
    }

    /** The newest time by which everything the cluster had written is stored; null before the first such check. */
    synchronized Instant caughtUpAt() {
        return caughtUpAt;
    }
}

package io.pgvault.server.stream;

import io.pgvault.core.wal.Lsn;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/** The streaming RPO on a busy primary: never at zero lag, yet caught up with what was written a check ago. */
class RecoveryPointClockTest {

    private static final Instant T0 = Instant.parse("2026-12-04T10:00:00Z");

    @Test
    void aStreamThatKeepsUpIsCaughtUpWithThePreviousCheckEvenThoughTheLagIsNeverZero() {
        RecoveryPointClock clock = new RecoveryPointClock();
        assertThat(clock.caughtUpAt()).isNull();
        // Each check: the cluster has written 1 MB more, the repository holds all but the last 64 kB.
        for (int i = 0; i < 100; i++) {
            long written = (i + 1) * 1_000_000L;
            clock.observed(T0.plusSeconds(10L * i), Lsn.of(written), Lsn.of(written - 65_536));
        }
        assertThat(clock.caughtUpAt()).isEqualTo(T0.plusSeconds(10L * 98));
    }

    @Test
    void aStreamThatFallsBehindKeepsTheTimeItLastCaughtUp() {
        RecoveryPointClock clock = new RecoveryPointClock();
        clock.observed(T0, Lsn.of(100), Lsn.of(100));
        assertThat(clock.caughtUpAt()).isEqualTo(T0);
        clock.observed(T0.plusSeconds(10), Lsn.of(200), Lsn.of(150));
        clock.observed(T0.plusSeconds(20), Lsn.of(300), Lsn.of(160));
        assertThat(clock.caughtUpAt()).isEqualTo(T0);
        // The repository reaches what the cluster had at the second check: safe up to then.
        clock.observed(T0.plusSeconds(30), Lsn.of(400), Lsn.of(250));
        assertThat(clock.caughtUpAt()).isEqualTo(T0.plusSeconds(10));
        clock.observed(T0.plusSeconds(40), Lsn.of(400), Lsn.of(400));
        assertThat(clock.caughtUpAt()).isEqualTo(T0.plusSeconds(40));
    }
}

package io.pgvault.restore;

import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RecoveryTargetTest {

    @Test
    void timesAreReadInTheFormsDbasTypeAndPostgresqlPrints() {
        Instant expected = Instant.parse("2026-11-25T10:00:00Z");
        assertThat(RecoveryTarget.time("2026-11-25 10:00:00+00", true).time()).isEqualTo(expected);
        assertThat(RecoveryTarget.time("2026-11-25 10:00:00+00:00", true).time()).isEqualTo(expected);
        assertThat(RecoveryTarget.time("2026-11-25T10:00:00Z", true).time()).isEqualTo(expected);
        assertThat(RecoveryTarget.time("2026-11-25 11:00:00+01", true).time()).isEqualTo(expected);
        assertThat(RecoveryTarget.time("2026-11-25 05:00:00-0500", true).time()).isEqualTo(expected);
        assertThat(RecoveryTarget.time("2026-11-25 10:00:00.123456+00", true).time()).isEqualTo(Instant.parse("2026-11-25T10:00:00.123456Z"));
        assertThat(RecoveryTarget.time("2026-11-25 10:00:00.123456+00", true).postgresTime()).isEqualTo("2026-11-25 10:00:00.123456+00");
    }

    @Test
    void aTimeWithoutZoneIsRefusedWithTheReason() {
        assertThatThrownBy(() -> RecoveryTarget.time("2026-11-25 10:00:00", true))
                .hasMessageContaining("not a time with a zone").hasMessageContaining("timezone");
        assertThatThrownBy(() -> RecoveryTarget.time("yesterday", true)).hasMessageContaining("e.g. '2026-11-25 10:00:00+00'");
    }

    @Test
    void xidsCompareWithoutTheirEpochAsPostgresqlDoes() {
        long withEpoch = (3L << 32) + 1234;
        assertThat(RecoveryTarget.xid(Long.toString(withEpoch), true).xid32()).isEqualTo(1234);
        assertThatThrownBy(() -> RecoveryTarget.xid("12ab", true)).hasMessageContaining("not a transaction id");
    }

    @Test
    void restorePointNamesFitPostgresqlsLimit() {
        assertThatThrownBy(() -> RecoveryTarget.name("x".repeat(64), true)).hasMessageContaining("1 to 63 bytes");
        // PostgreSQL counts bytes: 32 two-byte letters are too long.
        assertThatThrownBy(() -> RecoveryTarget.name("é".repeat(32), true)).hasMessageContaining("1 to 63 bytes");
        assertThatThrownBy(() -> RecoveryTarget.name("before\u001b[2Jupgrade", true)).hasMessageContaining("no control characters");
        assertThat(RecoveryTarget.name("before-upgrade", true).toString()).isEqualTo("restore point 'before-upgrade'");
    }
}

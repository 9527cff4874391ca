package io.pgvault.server.backup;

import org.junit.jupiter.api.Test;

import java.time.ZonedDateTime;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class ScheduleSlotsTest {

    private static final ZonedDateTime T = ZonedDateTime.parse("2026-12-07T01:59:58Z");

    @Test
    void theNewestSlotOfTheWindowRunsAndCountsTheMissedOnes() {
        ScheduleSlots every10s = new ScheduleSlots(Optional.of("*/10 * * * * *"), Optional.empty());
        assertThat(every10s.latest(T, T.plusSeconds(1))).isEmpty();
        ScheduleSlots.Due due = every10s.latest(T, T.plusSeconds(35)).orElseThrow();
        assertThat(due.at()).isEqualTo(ZonedDateTime.parse("2026-12-07T02:00:30Z"));
        assertThat(due.full()).isTrue();
        assertThat(due.missed()).isEqualTo(3);
        assertThat(every10s.latest(due.at(), due.at().plusSeconds(9))).as("a slot is not found twice").isEmpty();
    }

    @Test
    void whenBothSchedulesNameATimeTheFullBackupRuns() {
        // Sunday 2 am: the full schedule and the daily incremental one both fire.
        ScheduleSlots weekly = new ScheduleSlots(Optional.of("0 2 * * 0"), Optional.of("0 2 * * *"));
        ScheduleSlots.Due sunday = weekly.latest(ZonedDateTime.parse("2026-12-06T01:00:00Z"), ZonedDateTime.parse("2026-12-06T02:00:01Z"))
                .orElseThrow();
        assertThat(sunday.full()).isTrue();
        assertThat(sunday.missed()).isZero();
        ScheduleSlots.Due monday = weekly.latest(ZonedDateTime.parse("2026-12-07T01:00:00Z"), ZonedDateTime.parse("2026-12-07T02:00:01Z"))
                .orElseThrow();
        assertThat(monday.full()).isFalse();
        assertThat(new ScheduleSlots(Optional.empty(), Optional.empty()).any()).isFalse();
    }
}

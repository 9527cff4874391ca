package io.pgvault.core.backup;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RetentionPlannerTest {

    private static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");

    private static RetentionPlanner.Candidate backup(String id, long startSegment, int daysAgo, boolean complete) {
        Instant finished = NOW.minus(Duration.ofDays(daysAgo));
        return new RetentionPlanner.Candidate(id, startSegment, finished, complete ? finished : null);
    }

    /** A complete backup whose WAL arrived as it finished. */
    private static RetentionPlanner.Candidate hoursAgo(String id, long startSegment, int hours) {
        return backup(id, startSegment, Duration.ofHours(hours), Duration.ofHours(hours));
    }

    private static RetentionPlanner.Candidate backup(String id, long startSegment, Duration finishedAgo, Duration completedAgo) {
        return new RetentionPlanner.Candidate(id, startSegment, NOW.minus(finishedAgo), NOW.minus(completedAgo));
    }

    private static RetentionPlanner.Plan plan(List<RetentionPlanner.Candidate> backups, Integer retainFull, Integer retainDays, Duration grace) {
        return RetentionPlanner.plan(backups, new RetentionPlanner.Policy(retainFull, retainDays), NOW, grace);
    }

    private final List<RetentionPlanner.Candidate> history = List.of(
            backup("d10", 10, 10, true), backup("d7", 20, 7, true), backup("d5-broken", 25, 5, false),
            backup("d3", 30, 3, true), backup("d1", 40, 1, true), backup("d0-running", 45, 0, false));

    @Test
    void withoutAPolicyNothingGoes() {
        RetentionPlanner.Plan plan = RetentionPlanner.plan(history, new RetentionPlanner.Policy(null, null), NOW, Duration.ZERO);
        assertThat(plan.deleteBackups()).isEmpty();
        assertThat(plan.walBeforeSegment()).isEqualTo(-1);
    }

    @Test
    void retainFullKeepsTheNewestCompleteOnes() {
        RetentionPlanner.Plan plan = RetentionPlanner.plan(history, new RetentionPlanner.Policy(2, null), NOW, Duration.ZERO);
        assertThat(plan.keepBackups()).containsExactly("d0-running", "d1", "d3");
        assertThat(plan.deleteBackups()).containsExactly("d10", "d7", "d5-broken");
        assertThat(plan.walBeforeSegment()).isEqualTo(30);
    }

    @Test
    void aWindowKeepsTheBackupThatCoversItsStart() {
        RetentionPlanner.Plan plan = RetentionPlanner.plan(history, new RetentionPlanner.Policy(null, 4), NOW, Duration.ZERO);
        // d3 and d1 are inside the window; d7 is the base for recovering to 4 days ago.
        assertThat(plan.keepBackups()).containsExactly("d0-running", "d1", "d3", "d5-broken", "d7");
        assertThat(plan.deleteBackups()).containsExactly("d10");
        assertThat(plan.walBeforeSegment()).isEqualTo(20);
    }

    @Test
    void bothPoliciesKeepTheUnion() {
        RetentionPlanner.Plan plan = RetentionPlanner.plan(history, new RetentionPlanner.Policy(4, 2), NOW, Duration.ZERO);
        assertThat(plan.deleteBackups()).isEmpty();
        assertThat(plan.walBeforeSegment()).isEqualTo(10);
    }

    @Test
    void theNewestCompleteBackupAlwaysStaysAndNoCompleteMeansNothingGoes() {
        RetentionPlanner.Plan plan = RetentionPlanner.plan(List.of(backup("old", 5, 30, true)), new RetentionPlanner.Policy(null, 1), NOW, Duration.ZERO);
        assertThat(plan.keepBackups()).containsExactly("old");
        RetentionPlanner.Plan none = RetentionPlanner.plan(List.of(backup("x", 5, 30, false)), new RetentionPlanner.Policy(1, null), NOW, Duration.ZERO);
        assertThat(none.deleteBackups()).isEmpty();
        assertThat(none.walBeforeSegment()).isEqualTo(-1);
    }

    // The tests above run without grace: the policy alone, as before grace existed.

    @Test
    void aBackupSupersededAnHourAgoStaysWithItsWalForADayOfGrace() {
        List<RetentionPlanner.Candidate> backups = List.of(hoursAgo("old", 10, 72), hoursAgo("new", 20, 1));
        RetentionPlanner.Plan plan = plan(backups, 1, null, Duration.ofDays(1));
        // A recovery started from "old" up to an hour ago still finds segment 10 onwards.
        assertThat(plan.keepBackups()).containsExactly("new", "old");
        assertThat(plan.deleteBackups()).isEmpty();
        assertThat(plan.walBeforeSegment()).isEqualTo(10);
    }

    @Test
    void withoutGraceTheSameBackupGoesAtOnce() {
        List<RetentionPlanner.Candidate> backups = List.of(hoursAgo("old", 10, 72), hoursAgo("new", 20, 1));
        RetentionPlanner.Plan plan = plan(backups, 1, null, Duration.ZERO);
        assertThat(plan.keepBackups()).containsExactly("new");
        assertThat(plan.deleteBackups()).containsExactly("old");
        assertThat(plan.walBeforeSegment()).isEqualTo(20);
    }

    @Test
    void aBackupSupersededTwoDaysAgoGoes() {
        List<RetentionPlanner.Candidate> backups = List.of(hoursAgo("old", 10, 120), hoursAgo("mid", 20, 48), hoursAgo("new", 30, 1));
        RetentionPlanner.Plan plan = plan(backups, 1, null, Duration.ofDays(1));
        // "mid" was the one kept a day ago, so it stays; "old" was let go when "mid" completed.
        assertThat(plan.keepBackups()).containsExactly("new", "mid");
        assertThat(plan.deleteBackups()).containsExactly("old");
        assertThat(plan.walBeforeSegment()).isEqualTo(20);
    }

    @Test
    void aDaysWindowKeepsTheBaseItHadWithinTheGrace() {
        List<RetentionPlanner.Candidate> backups = List.of(hoursAgo("h80", 10, 80), hoursAgo("h60", 20, 60), hoursAgo("h10", 30, 10));
        // Two days' window: its start passed h60 twelve hours ago, so h80 was the base until then.
        RetentionPlanner.Plan withGrace = plan(backups, null, 2, Duration.ofDays(1));
        assertThat(withGrace.keepBackups()).containsExactly("h10", "h60", "h80");
        assertThat(withGrace.walBeforeSegment()).isEqualTo(10);
        RetentionPlanner.Plan shortGrace = plan(backups, null, 2, Duration.ofHours(6));
        assertThat(shortGrace.deleteBackups()).containsExactly("h80");
        assertThat(shortGrace.walBeforeSegment()).isEqualTo(20);
        RetentionPlanner.Plan noGrace = plan(backups, null, 2, Duration.ZERO);
        assertThat(noGrace.deleteBackups()).containsExactly("h80");
    }

    @Test
    void aBackupWhoseWalCameLateSupersedesFromTheArrivalNotFromItsEnd() {
        // "new" ended 30 hours ago but its last segment arrived 20 hours ago: until then a
        // recovery could only start from "old", so "old" is superseded since 20 hours only.
        List<RetentionPlanner.Candidate> backups = List.of(hoursAgo("old", 10, 72),
                backup("new", 20, Duration.ofHours(30), Duration.ofHours(20)));
        RetentionPlanner.Plan plan = plan(backups, 1, null, Duration.ofDays(1));
        assertThat(plan.keepBackups()).containsExactly("new", "old");
        assertThat(plan.walBeforeSegment()).isEqualTo(10);
    }

    @Test
    void anIncompleteBackupDoesNotSupersedeAnything() {
        List<RetentionPlanner.Candidate> backups = List.of(hoursAgo("old", 10, 72),
                new RetentionPlanner.Candidate("waiting", 20, NOW.minus(Duration.ofHours(1)), null));
        RetentionPlanner.Plan plan = plan(backups, 1, null, Duration.ZERO);
        assertThat(plan.keepBackups()).containsExactly("waiting", "old");
        assertThat(plan.walBeforeSegment()).isEqualTo(10);
    }

    @Test
    void aNegativeGraceIsRefused() {
        assertThatThrownBy(() -> plan(history, 1, null, Duration.ofHours(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
    }

    private static RetentionPlanner.Candidate incremental(String id, long startSegment, int daysAgo, String parent) {
        Instant finished = NOW.minus(Duration.ofDays(daysAgo));
        return new RetentionPlanner.Candidate(id, startSegment, finished, finished, parent);
    }

    /** Weekly fulls with daily incrementals: retainFull counts the fulls, and each kept incremental keeps its chain. */
    private final List<RetentionPlanner.Candidate> chains = List.of(
            backup("f14", 10, 14, true), incremental("i13", 11, 13, "f14"), incremental("i12", 12, 12, "i13"),
            backup("f7", 20, 7, true), incremental("i6", 21, 6, "f7"), incremental("i5", 22, 5, "i6"),
            backup("f0", 30, 0, true));

    @Test
    void retainFullCountsFullBackupsAndKeepsTheIncrementalsOnThem() {
        RetentionPlanner.Plan plan = plan(chains, 2, null, Duration.ZERO);
        assertThat(plan.keepBackups()).containsExactly("f0", "i5", "i6", "f7");
        assertThat(plan.deleteBackups()).containsExactly("f14", "i13", "i12");
        assertThat(plan.walBeforeSegment()).isEqualTo(20);
    }

    @Test
    void aKeptIncrementalKeepsItsWholeChain() {
        // A 6-day window needs the backup from before it: i12's chain reaches back to f14, which must stay.
        RetentionPlanner.Plan plan = plan(chains, 1, 12, Duration.ZERO);
        assertThat(plan.keepBackups()).contains("i12", "i13", "f14");
        assertThat(plan.deleteBackups()).isEmpty();
        RetentionPlanner.Plan shorter = plan(chains, 1, 6, Duration.ZERO);
        assertThat(shorter.keepBackups()).containsExactly("f0", "i5", "i6", "f7");
        assertThat(shorter.deleteBackups()).containsExactly("f14", "i13", "i12");
    }
}

package io.pgvault.core.backup;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class RetentionPlannerTest {

    private static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");

    private static RetentionPlanner.Candidate backup(String id, long startSegment, int daysAgo, boolean complete) {
        return new RetentionPlanner.Candidate(id, startSegment, NOW.minus(Duration.ofDays(daysAgo)), complete);
    }

    private final List<RetentionPlanner.Candidate> history = List.of(
            backup("d10", 10, 10, true), backup("d7", 20, 7, true), backup("d5-broken", 25, 5, false),
            backup("d3", 30, 3, true), backup("d1", 40, 1, true), backup("d0-running", 45, 0, false));

    @Test
    void withoutAPolicyNothingGoes() {
        RetentionPlanner.Plan plan = RetentionPlanner.plan(history, new RetentionPlanner.Policy(null, null), NOW);
        assertThat(plan.deleteBackups()).isEmpty();
        assertThat(plan.walBeforeSegment()).isEqualTo(-1);
    }

    @Test
    void retainFullKeepsTheNewestCompleteOnes() {
        RetentionPlanner.Plan plan = RetentionPlanner.plan(history, new RetentionPlanner.Policy(2, null), NOW);
        assertThat(plan.keepBackups()).containsExactly("d0-running", "d1", "d3");
        assertThat(plan.deleteBackups()).containsExactly("d10", "d7", "d5-broken");
        assertThat(plan.walBeforeSegment()).isEqualTo(30);
    }

    @Test
    void aWindowKeepsTheBackupThatCoversItsStart() {
        RetentionPlanner.Plan plan = RetentionPlanner.plan(history, new RetentionPlanner.Policy(null, 4), NOW);
        // d3 and d1 are inside the window; d7 is the base for recovering to 4 days ago.
        assertThat(plan.keepBackups()).containsExactly("d0-running", "d1", "d3", "d5-broken", "d7");
        assertThat(plan.deleteBackups()).containsExactly("d10");
        assertThat(plan.walBeforeSegment()).isEqualTo(20);
    }

    @Test
    void bothPoliciesKeepTheUnion() {
        RetentionPlanner.Plan plan = RetentionPlanner.plan(history, new RetentionPlanner.Policy(4, 2), NOW);
        assertThat(plan.deleteBackups()).isEmpty();
        assertThat(plan.walBeforeSegment()).isEqualTo(10);
    }

    @Test
    void theNewestCompleteBackupAlwaysStaysAndNoCompleteMeansNothingGoes() {
        RetentionPlanner.Plan plan = RetentionPlanner.plan(List.of(backup("old", 5, 30, true)), new RetentionPlanner.Policy(null, 1), NOW);
        assertThat(plan.keepBackups()).containsExactly("old");
        RetentionPlanner.Plan none = RetentionPlanner.plan(List.of(backup("x", 5, 30, false)), new RetentionPlanner.Policy(1, null), NOW);
        assertThat(none.deleteBackups()).isEmpty();
        assertThat(none.walBeforeSegment()).isEqualTo(-1);
    }
}

package io.pgvault.core.backup;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Decides what a retention policy deletes. Pure: backups and a policy in, a plan out.
 *
 * <ul>
 *   <li>{@code retainFull N}: the N newest complete backups stay.</li>
 *   <li>{@code retainDays D}: every point of the last D days stays recoverable, so the
 *       complete backups that finished inside the window stay, and so does the newest one
 *       that finished before it (the base for the window's start).</li>
 *   <li>The newest complete backup always stays; without any policy nothing is deleted.</li>
 *   <li>Incomplete backups newer than the oldest kept one stay (their WAL may still come).</li>
 *   <li>WAL: only segments wholly before the start of the oldest kept backup go, on every
 *       timeline (segment numbers are positions, so this is safe across timelines);
 *       history files never go.</li>
 * </ul>
 */
public final class RetentionPlanner {

    /** What the planner needs to know of a backup. */
    public record Candidate(String backupId, long startSegment, Instant finishedAt, boolean complete) {
    }

    /** A policy; null fields are not set. */
    public record Policy(Integer retainFull, Integer retainDays) {
        public boolean isEmpty() {
            return retainFull == null && retainDays == null;
        }
    }

    /**
     * @param deleteBackups ids to delete, oldest first
     * @param walBeforeSegment WAL segments numbered below this may go; -1 when no WAL may go
     */
    public record Plan(List<String> keepBackups, List<String> deleteBackups, long walBeforeSegment) {
    }

    private RetentionPlanner() {
    }

    public static Plan plan(List<Candidate> backups, Policy policy, Instant now) {
        List<Candidate> newestFirst = new ArrayList<>(backups);
        newestFirst.sort(Comparator.comparing(Candidate::finishedAt).reversed());
        List<Candidate> complete = newestFirst.stream().filter(Candidate::complete).toList();
        if (policy.isEmpty() || complete.isEmpty()) {
            return new Plan(newestFirst.stream().map(Candidate::backupId).toList(), List.of(), -1);
        }
        Set<Candidate> keep = new LinkedHashSet<>();
        keep.add(complete.get(0));
        if (policy.retainFull() != null) {
            keep.addAll(complete.subList(0, Math.min(policy.retainFull(), complete.size())));
        }
        if (policy.retainDays() != null) {
            Instant windowStart = now.minus(Duration.ofDays(policy.retainDays()));
            for (Candidate c : complete) {
                keep.add(c);
                if (c.finishedAt().isBefore(windowStart)) {
                    break;
                }
            }
        }
        Instant oldestKept = keep.stream().map(Candidate::finishedAt).min(Comparator.naturalOrder()).orElseThrow();
        for (Candidate c : newestFirst) {
            if (!c.complete() && c.finishedAt().isAfter(oldestKept)) {
                keep.add(c);
            }
        }
        List<String> delete = new ArrayList<>();
        for (int i = newestFirst.size() - 1; i >= 0; i--) {
            if (!keep.contains(newestFirst.get(i))) {
                delete.add(newestFirst.get(i).backupId());
            }
        }
        long walBefore = keep.stream().filter(Candidate::complete).mapToLong(Candidate::startSegment).min().orElse(-1);
        long incompleteStart = keep.stream().filter(c -> !c.complete()).mapToLong(Candidate::startSegment).min().orElse(Long.MAX_VALUE);
        walBefore = Math.min(walBefore, incompleteStart);
        return new Plan(newestFirst.stream().filter(keep::contains).map(Candidate::backupId).toList(), delete, walBefore);
    }
}

package io.pgvault.core.backup;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Decides what a retention policy deletes. Pure: backups and a policy in, a plan out.
 *
 * <ul>
 *   <li>{@code retainFull N}: the N newest complete full backups stay, with every complete
 *       backup finished after the oldest of them (the incremental backups built on them).</li>
 *   <li>{@code retainDays D}: every point of the last D days stays recoverable, so the
 *       complete backups that finished inside the window stay, and so does the newest one
 *       that finished before it (the base for the window's start).</li>
 *   <li>The newest complete backup always stays; without any policy nothing is deleted.</li>
 *   <li>Grace: a backup the policy kept at any moment of the last {@code grace} stays too. A
 *       recovery started from it then (restore, then hours of replay) must find every segment
 *       it was promised. Those are the backups the policy kept at {@code now - grace} (counting
 *       only backups complete by then), and every backup completed since: later moments only
 *       add backups as they complete, and the days window only lets go of older ones.</li>
 *   <li>Incomplete backups newer than the oldest kept one stay (their WAL may still come).</li>
 *   <li>Chains: a kept incremental backup keeps its parent, and so on down to its full
 *       backup; a backup is never deleted while one that needs it stays.</li>
 *   <li>WAL: only segments wholly before the start of the oldest kept backup go, on every
 *       timeline (segment numbers are positions, so this is safe across timelines);
 *       history files never go.</li>
 * </ul>
 */
public final class RetentionPlanner {

    /**
     * What the planner needs to know of a backup.
     *
     * @param completedAt when the last WAL segment from the backup's start to its end arrived,
     *                    that is since when a recovery could use it; null while one is missing.
     *                    Never earlier than {@code finishedAt}: WAL of the backup's start arrives
     *                    before the backup ends, but the backup is usable only once it has ended.
     * @param parentId the backup an incremental backup builds on; null for a full backup
     */
    public record Candidate(String backupId, long startSegment, Instant finishedAt, Instant completedAt, String parentId) {
        public Candidate(String backupId, long startSegment, Instant finishedAt, Instant completedAt) {
            this(backupId, startSegment, finishedAt, completedAt, null);
        }

        public Candidate {
            if (completedAt != null && completedAt.isBefore(finishedAt)) {
                completedAt = finishedAt;
            }
        }

        public boolean complete() {
            return completedAt != null;
        }

        boolean completeAt(Instant moment) {
            return completedAt != null && !completedAt.isAfter(moment);
        }
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

    /**
     * @param grace how long a backup the policy no longer keeps still stays; zero deletes it as
     *              soon as it is superseded
     * @throws IllegalArgumentException when {@code grace} is negative
     */
    public static Plan plan(List<Candidate> backups, Policy policy, Instant now, Duration grace) {
        if (grace.isNegative()) {
            throw new IllegalArgumentException("retention grace " + grace + " is negative: expected zero (delete a superseded backup at once) or more");
        }
        List<Candidate> newestFirst = new ArrayList<>(backups);
        newestFirst.sort(Comparator.comparing(Candidate::finishedAt).reversed());
        List<Candidate> complete = newestFirst.stream().filter(Candidate::complete).toList();
        if (policy.isEmpty() || complete.isEmpty()) {
            return new Plan(newestFirst.stream().map(Candidate::backupId).toList(), List.of(), -1);
        }
        Set<Candidate> keep = policyKeeps(complete, policy, now);
        if (!grace.isZero()) {
            Instant then = now.minus(grace);
            keep.addAll(policyKeeps(complete.stream().filter(c -> c.completeAt(then)).toList(), policy, then));
            complete.stream().filter(c -> !c.completeAt(then)).forEach(keep::add);
        }
        Instant oldestKept = keep.stream().map(Candidate::finishedAt).min(Comparator.naturalOrder()).orElseThrow();
        for (Candidate c : newestFirst) {
            if (!c.complete() && c.finishedAt().isAfter(oldestKept)) {
                keep.add(c);
            }
        }
        keepParents(newestFirst, keep);
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

    /** Adds to {@code keep} the parent of every kept backup, and its parent, down to the full backup. */
    private static void keepParents(List<Candidate> backups, Set<Candidate> keep) {
        Map<String, Candidate> byId = new HashMap<>();
        backups.forEach(b -> byId.put(b.backupId(), b));
        for (Candidate kept : List.copyOf(keep)) {
            for (Candidate c = kept; c.parentId() != null && byId.containsKey(c.parentId()); ) {
                c = byId.get(c.parentId());
                keep.add(c);
            }
        }
    }

    /** The complete backups the policy keeps at {@code at}, given those complete then, newest first. */
    private static Set<Candidate> policyKeeps(List<Candidate> completeNewestFirst, Policy policy, Instant at) {
        Set<Candidate> keep = new LinkedHashSet<>();
        if (completeNewestFirst.isEmpty()) {
            return keep;
        }
        keep.add(completeNewestFirst.get(0));
        if (policy.retainFull() != null) {
            int fulls = 0;
            for (Candidate c : completeNewestFirst) {
                if (fulls == policy.retainFull()) {
                    break;
                }
                keep.add(c);
                if (c.parentId() == null) {
                    fulls++;
                }
            }
        }
        if (policy.retainDays() != null) {
            Instant windowStart = at.minus(Duration.ofDays(policy.retainDays()));
            for (Candidate c : completeNewestFirst) {
                keep.add(c);
                if (c.finishedAt().isBefore(windowStart)) {
                    break;
                }
            }
        }
        return keep;
    }
}

package io.pgvault.restore.fetch;

import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Which segments recovery will ask for after the one it asked for now: the same
 * segment numbers onward, each on the newest timeline of the followed history that had
 * begun by then (as PostgreSQL picks them). The history followed is the target timeline's
 * if one was given, else the newest timeline whose history includes the requested one.
 * The history files come from the prefetcher, which re-reads the repository's list every
 * second, since a promotion can add one mid-recovery.
 */
final class SegmentForecast {

    private final TimelineId targetTimeline;
    private final Supplier<Map<TimelineId, TimelineHistory>> histories;

    /**
     * @param targetTimeline null to follow the newest descendant, as recovery_target_timeline = 'latest' does
     * @param histories the cluster's timeline histories known so far
     */
    SegmentForecast(TimelineId targetTimeline, Supplier<Map<TimelineId, TimelineHistory>> histories) {
        this.targetTimeline = targetTimeline;
        this.histories = histories;
    }

    /** The {@code count} segments after {@code requested}. */
    List<WalFileName> after(WalFileName requested, int count, WalSegmentSize size) {
        TimelineHistory history = followed(requested.timeline());
        List<WalFileName> next = new ArrayList<>();
        long seg = requested.segmentNumber(size);
        for (int i = 1; i <= count; i++) {
            List<TimelineId> candidates = history.timelinesForSegment(seg + i, size);
            TimelineId tli = candidates.isEmpty() ? requested.timeline() : candidates.get(0);
            if (tli.compareTo(requested.timeline()) < 0) {
                tli = requested.timeline();
            }
            next.add(WalFileName.segment(tli, seg + i, size));
        }
        return next;
    }

    private TimelineHistory followed(TimelineId requested) {
        Map<TimelineId, TimelineHistory> all = histories.get();
        TimelineHistory chosen = all.getOrDefault(requested, TimelineHistory.first());
        for (TimelineHistory h : all.values()) {
            boolean follow = targetTimeline == null ? h.includes(requested) && h.timeline().compareTo(chosen.timeline()) > 0
                    : h.timeline().equals(targetTimeline);
            if (follow) {
                chosen = h;
            }
        }
        return chosen;
    }
}

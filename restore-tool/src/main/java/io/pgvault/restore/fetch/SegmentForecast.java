package io.pgvault.restore.fetch;

import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Which segments recovery will ask for after the one it asked for now: the same
 * segment numbers onward, each on the newest timeline of the followed history that had
 * begun by then (as PostgreSQL picks them). The history followed is the target timeline's
 * if one was given, else the newest timeline whose history includes the requested one;
 * history files are re-read every few seconds, since a promotion can add one mid-recovery.
 */
final class SegmentForecast {

    private static final Duration HISTORY_REFRESH = Duration.ofSeconds(5);

    private final ObjectStore store;
    private final String cluster;
    private final TimelineId targetTimeline;
    private TimelineHistory history = TimelineHistory.first();
    private Instant historyReadAt = Instant.EPOCH;

    /** @param targetTimeline null to follow the newest descendant, as recovery_target_timeline = 'latest' does */
    SegmentForecast(ObjectStore store, String cluster, TimelineId targetTimeline) {
        this.store = store;
        this.cluster = cluster;
        this.targetTimeline = targetTimeline;
    }

    /** The {@code count} segments after {@code requested}. */
    List<WalFileName> after(WalFileName requested, int count, WalSegmentSize size) throws IOException {
        refresh(requested.timeline());
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

    private void refresh(TimelineId requested) throws IOException {
        if (Instant.now().isBefore(historyReadAt.plus(HISTORY_REFRESH))) {
            return;
        }
        historyReadAt = Instant.now();
        Map<TimelineId, TimelineHistory> all = new HashMap<>();
        for (ObjectStat o : store.list(RepositoryLayout.walPrefix(cluster) + "timelines/")) {
            Optional<WalFileName> name = WalFileName.tryParse(o.key().substring(o.key().lastIndexOf('/') + 1));
            Optional<InputStream> stored = name.isPresent() && name.get().isHistory() ? store.get(o.key()) : Optional.empty();
            if (stored.isPresent()) {
                try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(o.key(), stored.get()); InputStream content = opened.content()) {
                    all.put(name.get().timeline(), TimelineHistory.parse(name.get().timeline(), content.readAllBytes()));
                }
            }
        }
        TimelineHistory chosen = all.getOrDefault(requested, TimelineHistory.first());
        for (TimelineHistory h : all.values()) {
            boolean follow = targetTimeline == null ? h.includes(requested) && h.timeline().compareTo(chosen.timeline()) > 0
                    : h.timeline().equals(targetTimeline);
            if (follow) {
                chosen = h;
            }
        }
        history = chosen;
    }
}

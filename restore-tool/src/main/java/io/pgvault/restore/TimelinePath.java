package io.pgvault.restore;

import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The WAL that recovery to one timeline reads: the timeline's own segments and, before
 * each switch point, its ancestors', chosen per segment the way PostgreSQL does.
 */
final class TimelinePath {

    private final ClusterArchive archive;
    private final TimelineHistory history;
    private final WalSegmentSize size;
    /** The highest segment number archived on any timeline: no run goes past it. */
    private final long lastSegment;

    TimelinePath(ClusterArchive archive, TimelineHistory history) {
        this.archive = archive;
        this.history = history;
        this.size = archive.segmentSize();
        this.lastSegment = archive.segments().stream().mapToLong(s -> s.segmentNumber(size)).max().orElse(-1);
    }

    TimelineId timeline() {
        return history.timeline();
    }

    TimelineHistory history() {
        return history;
    }

    /** Whether recovery to this timeline passes the backup's consistency point. */
    boolean contains(BackupManifest backup) {
        TimelineId tli = new TimelineId(backup.endTimeline());
        if (!history.includes(tli)) {
            return false;
        }
        Optional<Lsn> switchPoint = history.switchPointOf(tli);
        return switchPoint.isEmpty() || !Lsn.parse(backup.endLsn()).isAfter(switchPoint.get());
    }

    /** The file recovery would restore for {@code segment}: the newest timeline that has it. */
    Optional<WalFileName> segment(long segment) {
        for (TimelineId tli : history.timelinesForSegment(segment, size)) {
            WalFileName name = WalFileName.segment(tli, segment, size);
            if (archive.hasSegment(name)) {
                return Optional.of(name);
            }
        }
        return Optional.empty();
    }

    /** Segments from {@code fromSegment} on, in replay order, up to the first one missing. */
    List<WalFileName> run(long fromSegment) {
        List<WalFileName> run = new ArrayList<>();
        for (long seg = fromSegment; seg <= lastSegment; seg++) {
            Optional<WalFileName> name = segment(seg);
            if (name.isEmpty()) {
                break;
            }
            run.add(name.get());
        }
        return run;
    }

    /** The first segment after {@code run} that recovery would ask for, named on the newest timeline it could be on. */
    WalFileName missingAfter(long fromSegment, List<WalFileName> run) {
        long seg = fromSegment + run.size();
        return WalFileName.segment(history.timelinesForSegment(seg, size).get(0), seg, size);
    }

    long segmentOf(Lsn lsn) {
        return lsn.segmentNumber(size);
    }

    WalSegmentSize segmentSize() {
        return size;
    }
}

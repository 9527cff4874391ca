package io.pgvault.restore;

import io.pgvault.core.archive.WalSegmentIndex;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalRecordScanner;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How far one timeline can be recovered from the repository: from the consistency point
 * of its oldest usable backup to the last valid WAL record archived after its newest,
 * with the last archived commit (what a time target can reach) and any stretch that a
 * missing segment makes unreachable.
 *
 * @param backups usable backups on this timeline's path whose own WAL is all archived, oldest first
 * @param end end of the last valid record in the archived WAL after the newest backup
 * @param lastCommitTime time of the last commit or abort in that WAL, if the tail has one
 * @param lastCommitLsn where it starts
 * @param latestCommitTime the latest time a commit or abort of its segment carries: a backend stamps its commit before
 *     inserting the record, so the last is not always the latest, and PostgreSQL stops at a time target before the first
 *     commit later than the target, wherever it lies
 * @param gaps human-readable stretches that cannot be reached because a segment is missing
 * @param firstMissing the segment recovery would ask for next after the archive's end
 */
public record RecoveryWindow(TimelineId timeline, List<BackupManifest> backups, Lsn end, Optional<Instant> lastCommitTime,
                             Optional<Lsn> lastCommitLsn, Optional<Instant> latestCommitTime, List<String> gaps, WalFileName firstMissing) {

    /** Segments read backwards from the end looking for the last commit; older commits are not worth the download. */
    private static final int TAIL_SEGMENTS = 8;

    static Optional<RecoveryWindow> of(ClusterArchive archive, TimelinePath path) throws IOException {
        List<BackupManifest> usable = new ArrayList<>();
        for (BackupManifest b : archive.backups()) {
            if (path.contains(b)) {
                long start = path.segmentOf(Lsn.parse(b.startLsn()));
                long end = path.segmentOf(Lsn.parse(b.endLsn()).plus(-1));
                if (path.run(start).size() > end - start) {
                    usable.add(b);
                }
            }
        }
        if (usable.isEmpty()) {
            return Optional.empty();
        }
        List<String> gaps = new ArrayList<>();
        for (int i = 0; i + 1 < usable.size(); i++) {
            long start = path.segmentOf(Lsn.parse(usable.get(i).startLsn()));
            List<WalFileName> run = path.run(start);
            Lsn reach = run.get(run.size() - 1).startLsn(path.segmentSize()).plus(path.segmentSize().bytes());
            if (reach.isBefore(Lsn.parse(usable.get(i + 1).endLsn()))) {
                gaps.add("from " + reach + " to " + usable.get(i + 1).endLsn() + " (segment " + path.missingAfter(start, run)
                        + " is missing; backup " + usable.get(i + 1).backupId() + " starts the next usable stretch)");
            }
        }
        BackupManifest newest = usable.get(usable.size() - 1);
        long start = path.segmentOf(Lsn.parse(newest.startLsn()));
        List<WalFileName> run = path.run(start);
        Tail tail = scanTail(archive, run);
        return Optional.of(new RecoveryWindow(path.timeline(), List.copyOf(usable), tail.end, tail.lastCommit.map(WalRecordScanner.Event::time),
                tail.lastCommit.map(WalRecordScanner.Event::start), tail.latestCommitTime, List.copyOf(gaps), path.missingAfter(start, run)));
    }

    private record Tail(Lsn end, Optional<WalRecordScanner.Event> lastCommit, Optional<Instant> latestCommitTime) {
    }

    /**
     * The end of the valid WAL and the last commit, from the last segments backwards: from
     * their indexes where the server wrote one, else by reading the segment.
     */
    private static Tail scanTail(ClusterArchive archive, List<WalFileName> run) throws IOException {
        Lsn end = Lsn.INVALID;
        List<WalFileName> tail = run.subList(Math.max(0, run.size() - TAIL_SEGMENTS), run.size());
        Map<WalFileName, WalSegmentIndex> indexes = archive.indexes(tail);
        for (int i = tail.size() - 1; i >= 0; i--) {
            WalFileName name = tail.get(i);
            WalSegmentIndex index = indexes.get(name);
            Lsn segmentEnd;
            Optional<WalRecordScanner.Event> commit;
            Optional<Instant> latest;
            if (index != null) {
                segmentEnd = index.endOfValidWal().orElse(Lsn.INVALID);
                commit = index.lastTransaction();
                latest = index.latestTransactionTime();
            } else {
                List<WalRecordScanner.Event> events = new ArrayList<>();
                WalRecordScanner scanner = new WalRecordScanner(events::add);
                archive.scanSegment(name, scanner);
                segmentEnd = scanner.endOfValidWal();
                List<WalRecordScanner.Event> transactions = events.stream().filter(e -> e.kind() != WalRecordScanner.Kind.RESTORE_POINT).toList();
                commit = transactions.isEmpty() ? Optional.empty() : Optional.of(transactions.get(transactions.size() - 1));
                latest = transactions.stream().map(WalRecordScanner.Event::time).max(Instant::compareTo);
            }
            if (!end.isValid()) {
                end = segmentEnd;
            }
            if (commit.isPresent() && end.isValid()) {
                return new Tail(end, commit, latest.or(() -> Optional.of(commit.get().time())));
            }
        }
        return new Tail(end, Optional.empty(), Optional.empty());
    }

    public BackupManifest oldest() {
        return backups.get(0);
    }

    public BackupManifest newest() {
        return backups.get(backups.size() - 1);
    }

    /** One line for messages: where recovery on this timeline can start and stop. */
    public String describe() {
        StringBuilder sb = new StringBuilder("timeline ").append(timeline.value()).append(": from ")
                .append(oldest().consistentBy()).append(" (LSN ").append(oldest().endLsn()).append(", end of backup ")
                .append(oldest().backupId()).append(") to ")
                .append(lastCommitTime.map(t -> t + " (last archived commit, LSN " + lastCommitLsn.get() + "), WAL ends at " + end)
                        .orElse("LSN " + end + " (no commit in the last archived segments)"));
        if (!gaps.isEmpty()) {
            sb.append("; unreachable: ").append(String.join("; ", gaps));
        }
        return sb.toString();
    }
}

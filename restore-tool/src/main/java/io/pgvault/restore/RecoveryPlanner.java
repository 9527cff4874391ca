package io.pgvault.restore;

import io.pgvault.core.archive.WalSegmentIndex;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalRecordScanner;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Decides, before a byte is copied, which backup a recovery starts from and whether its
 * target can be reached with the WAL the repository holds; refuses with the recovery
 * window otherwise. Mirrors what PostgreSQL will do: it follows the target timeline's
 * history, stops at the first matching record after the backup's start, and fails when
 * the target lies before the backup's consistency point or beyond the last WAL.
 */
public final class RecoveryPlanner {

    /**
     * @param stopAt where the target was found in the WAL, when pgvault looked it up (xid, name)
     * @param lastSegment the last segment recovery will restore, when the target bounds it
     */
    public record Plan(BackupManifest backup, TimelineId timeline, boolean timelineRequested, RecoveryTarget target,
                       Optional<Lsn> stopAt, RecoveryWindow window) {

        public List<String> explain() {
            List<String> lines = new ArrayList<>();
            lines.add(backup.type() + " backup " + backup.backupId() + (backup.isIncremental() ? " (on " + backup.parent().backupId() + ")" : "")
                    + ": " + backup.startLsn() + " to " + backup.endLsn() + " on timeline " + backup.endTimeline()
                    + ", finished " + backup.consistentBy() + (backup.pgFinishedAt() != null ? " by PostgreSQL's clock" : "") + ", "
                    + backup.pieces().size() + " pieces, " + backup.rawBytes() + " bytes");
            lines.add("target: " + target + stopAt.map(l -> " (found at LSN " + l + ")").orElse("") + ", timeline " + timeline.value());
            lines.add("window on " + window.describe());
            return lines;
        }
    }

    private final ClusterArchive archive;

    public RecoveryPlanner(ClusterArchive archive) {
        this.archive = archive;
    }

    /** The recovery window of every timeline that has a usable backup, oldest timeline first. */
    public List<RecoveryWindow> windows() throws IOException {
        List<RecoveryWindow> result = new ArrayList<>();
        for (TimelineId tli : archive.timelines()) {
            Optional<TimelineHistory> history = archive.history(tli);
            if (history.isPresent()) {
                RecoveryWindow.of(archive, new TimelinePath(archive, history.get())).ifPresent(result::add);
            }
        }
        return result;
    }

    public Plan plan(RecoveryTarget target, Optional<TimelineId> requestedTimeline) throws IOException {
        TimelineId tli = requestedTimeline.orElseGet(archive::latestTimeline);
        TimelineHistory history = archive.history(tli).orElseThrow(() -> new RecoveryRefusedException("timeline " + tli.value()
                + " is not in the repository for cluster " + archive.cluster() + " (no " + WalFileName.history(tli)
                + "); timelines there: " + archive.timelines().stream().map(t -> Long.toString(t.value())).toList()));
        if (archive.backups().isEmpty()) {
            throw new RecoveryRefusedException("cluster " + archive.cluster() + " has no finished backup in " + archive.store().describe()
                    + ": take one with 'pgvault backup " + archive.cluster() + " --wait'");
        }
        TimelinePath path = new TimelinePath(archive, history);
        RecoveryWindow window = RecoveryWindow.of(archive, path).orElseThrow(() -> new RecoveryRefusedException(
                "no backup of cluster " + archive.cluster() + " can be recovered on timeline " + tli.value() + ": "
                        + noUsableBackupReason(path)));
        String windowText = " Recovery window on " + window.describe() + ".";
        return switch (target.kind()) {
            case LATEST, IMMEDIATE -> new Plan(window.newest(), tli, requestedTimeline.isPresent(), target, Optional.empty(), window);
            case LSN -> {
                Lsn lsn = target.lsn();
                if (lsn.isAfter(window.end())) {
                    throw new RecoveryRefusedException("target LSN " + lsn + " is beyond the archived WAL, which ends at " + window.end()
                            + " (the next segment, " + window.firstMissing() + ", is not in the repository)." + windowText);
                }
                BackupManifest backup = newestEndingBefore(window, lsn).orElseThrow(() -> new RecoveryRefusedException(
                        "target LSN " + lsn + " is before the consistency point of the oldest usable backup (" + window.oldest().endLsn() + ")."
                                + windowText));
                yield new Plan(backup, tli, requestedTimeline.isPresent(), target, Optional.of(lsn), window);
            }
            case TIME -> {
                Instant time = target.time();
                // PostgreSQL stops before the first commit or abort after the target (at or after it, when exclusive). With
                // none archived it replays everything and then fails: "recovery ended before configured recovery target was
                // reached". A target equal to the last commit's time (as info prints it) is such a case when inclusive.
                // The latest time of the last segment with commits, not the last commit's: a backend stamps its commit before
                // it inserts the record, so a commit before the last may carry a later time.
                Optional<Instant> latest = window.latestCommitTime();
                if (latest.isPresent() && (target.inclusive() ? !time.isBefore(latest.get()) : time.isAfter(latest.get()))) {
                    Instant last = window.lastCommitTime().orElseThrow();
                    boolean at = time.equals(latest.get());
                    Lsn lastLsn = window.lastCommitLsn().orElseThrow();
                    String where = latest.get().equals(last)
                            ? (at ? "is the time of" : "is after") + " the last archived commit (" + last + ", LSN " + lastLsn + ")"
                            : (at ? "is" : "is after") + " the latest time an archived commit carries (" + latest.get()
                                    + "; the last commit in WAL, at LSN " + lastLsn + ", carries " + last + ")";
                    throw new RecoveryRefusedException("target time " + time + " " + where + ": PostgreSQL stops only at a commit or abort "
                            + "later than the target, so it would replay all WAL and fail without reaching it; give an earlier time, use "
                            + "--target latest to recover everything archived, or wait for the next segment to be archived." + windowText);
                }
                Optional<BackupManifest> ready = newestReadyBy(target, path, window);
                if (ready.isEmpty()) {
                    BackupManifest oldest = window.oldest();
                    throw new RecoveryRefusedException("target time " + time + " is before the oldest usable backup finished ("
                            + oldest.consistentBy() + (oldest.pgFinishedAt() != null ? " by PostgreSQL's clock" : "")
                            + lastCommitBefore(path, oldest, t -> false).filter(c -> c.time().isAfter(oldest.consistentBy()))
                                    .map(c -> ", and its WAL holds a commit of " + c.time() + " before its consistency point").orElse("")
                            + ")." + windowText);
                }
                BackupManifest backup = ready.get();
                yield new Plan(backup, tli, requestedTimeline.isPresent(), target, Optional.empty(), window);
            }
            case XID, NAME -> findInWal(target, tli, requestedTimeline.isPresent(), path, window, windowText);
        };
    }

    /** Segments looked at before a backup's start for the last commit before it, when its own WAL holds none. */
    private static final int LOOK_BACK_SEGMENTS = 4;

    /**
     * The newest backup a recovery to {@code target} can start from. PostgreSQL stops at the
     * first commit or abort past the target: one before the backup's consistency point ends
     * the recovery before the database is consistent, and one before the backup's start is
     * never replayed, so the recovery overshoots the target. So every commit before the
     * consistency point must not be past the target. Two bounds say so: the clock that stamped
     * the commits, read as the backup ended ({@link BackupManifest#consistentBy}), and the last
     * commit before the consistency point in the WAL itself, which also holds for a backup
     * taken from a standby, whose clock is not the primary's that stamped the commits.
     */
    private Optional<BackupManifest> newestReadyBy(RecoveryTarget target, TimelinePath path, RecoveryWindow window) throws IOException {
        Instant time = target.time();
        List<BackupManifest> newestFirst = new ArrayList<>(window.backups());
        newestFirst.sort(java.util.Comparator.comparing((BackupManifest b) -> Lsn.parse(b.endLsn())).reversed());
        // Inclusive, PostgreSQL stops at a time after the target; exclusive, at or after it.
        java.util.function.Predicate<Instant> notPast = t -> target.inclusive() ? !t.isAfter(time) : t.isBefore(time);
        for (BackupManifest b : newestFirst) {
            if (b.consistentBy().isAfter(time)) {
                continue;
            }
            Optional<WalRecordScanner.Event> commit = lastCommitBefore(path, b, notPast);
            if (commit.isEmpty() || notPast.test(commit.get().time())) {
                return Optional.of(b);
            }
        }
        return Optional.empty();
    }

    /**
     * The last commit or abort before the backup's consistency point, from the segment holding
     * it back to {@link #LOOK_BACK_SEGMENTS} before the backup's start: from a segment's index
     * when the server wrote one and it settles the question, else by reading the segment (with
     * the next one when a record that may be a commit crosses into it). Commit times follow WAL
     * order to within the moment between a commit's timestamp and its insertion, so the last
     * one stands for all before it (read from a segment, the latest time before that point).
     * Empty when there is none there, or a segment there is missing: the clock bound then
     * stands alone.
     *
     * @param settles a segment's last commit whose time passes it is answer enough even when it lies
     *     after that point, since the commits before it are not later: no segment is read for it
     */
    private Optional<WalRecordScanner.Event> lastCommitBefore(TimelinePath path, BackupManifest b, java.util.function.Predicate<Instant> settles)
            throws IOException {
        Lsn end = Lsn.parse(b.endLsn());
        long from = path.segmentOf(end.plus(-1));
        long to = Math.max(0, path.segmentOf(Lsn.parse(b.startLsn())) - LOOK_BACK_SEGMENTS);
        // Newest first: the segment holding the end, then the ones before it.
        List<WalFileName> names = new ArrayList<>();
        for (long seg = from; seg >= to; seg--) {
            Optional<WalFileName> name = path.segment(seg);
            if (name.isEmpty()) {
                break;
            }
            names.add(name.get());
        }
        Map<WalFileName, WalSegmentIndex> indexes = new java.util.HashMap<>();
        for (int i = 0; i < names.size(); i++) {
            if (i <= 1) {
                // The end's segment alone first: most often it settles the question.
                indexes.putAll(archive.indexes(i == 0 ? names.subList(0, Math.min(1, names.size())) : names.subList(1, names.size())));
            }
            WalSegmentIndex index = indexes.get(names.get(i));
            // The record continuing into the newer segment ends before the end, and may be the last commit.
            if (index != null && (i == 0 || !index.unfinishedMayBeTransaction())) {
                Optional<WalRecordScanner.Event> last = index.lastTransaction();
                if (last.isPresent() && (last.get().start().isBefore(end) || settles.test(last.get().time()))) {
                    return last;
                }
                if (index.transactions() == 0) {
                    continue;
                }
            }
            Optional<WalRecordScanner.Event> read = latestCommitRead(names, i, end);
            if (read.isPresent()) {
                return read;
            }
        }
        return Optional.empty();
    }

    /**
     * Reads segment {@code i} of {@code newestFirst}, and the newer one after it when a record
     * that may be a commit continues into it, and returns the commit or abort beginning before
     * {@code end} with the latest time.
     */
    private Optional<WalRecordScanner.Event> latestCommitRead(List<WalFileName> newestFirst, int i, Lsn end) throws IOException {
        WalRecordScanner.Event[] latest = new WalRecordScanner.Event[1];
        WalRecordScanner scanner = new WalRecordScanner(e -> {
            if (e.kind() != WalRecordScanner.Kind.RESTORE_POINT && e.start().isBefore(end)
                    && (latest[0] == null || e.time().isAfter(latest[0].time()))) {
                latest[0] = e;
            }
        });
        archive.scanSegment(newestFirst.get(i), scanner);
        Optional<WalRecordScanner.Unfinished> open = scanner.unfinished();
        if (i > 0 && open.isPresent() && open.get().start().isBefore(end)
                && (!open.get().headerKnown() || open.get().kind().filter(k -> k != WalRecordScanner.Kind.RESTORE_POINT).isPresent())) {
            archive.scanSegment(newestFirst.get(i - 1), scanner);
        }
        return Optional.ofNullable(latest[0]);
    }

    private Optional<BackupManifest> newestEndingBefore(RecoveryWindow window, Lsn lsn) {
        BackupManifest found = null;
        for (BackupManifest b : window.backups()) {
            if (!Lsn.parse(b.endLsn()).isAfter(lsn)) {
                found = b;
            }
        }
        return Optional.ofNullable(found);
    }

    /**
     * Transaction ids and restore point names have no time or position of their own: read
     * the WAL to find the record PostgreSQL will stop at, the first match after the
     * backup's start. Newest backup first, and each stretch only up to its first match, so
     * a recent target costs the WAL since the newest backup, not the whole window; an
     * older stretch is read only when no newer backup can reach the target.
     */
    private Plan findInWal(RecoveryTarget target, TimelineId tli, boolean requested, TimelinePath path, RecoveryWindow window,
                           String windowText) throws IOException {
        // Where each stretch read so far first names the target.
        TreeSet<Lsn> firstMatches = new TreeSet<>();
        // Ends of prepared transactions too large for pgvault to read which transaction they end.
        List<Lsn> unreadable = new ArrayList<>();
        long scannedFrom = Long.MAX_VALUE;
        List<BackupManifest> backups = window.backups();
        for (int i = backups.size() - 1; i >= 0; i--) {
            BackupManifest b = backups.get(i);
            Lsn start = Lsn.parse(b.startLsn());
            long from = path.segmentOf(start);
            if (from < scannedFrom) {
                firstMatch(target, path, start, scannedFrom, unreadable).ifPresent(e -> firstMatches.add(e.start()));
                scannedFrom = from;
            }
            // PostgreSQL stops at the first match after the backup's start: it must lie after the backup's consistency point.
            Lsn first = firstMatches.ceiling(start);
            if (first != null && !first.isBefore(Lsn.parse(b.endLsn()))) {
                return new Plan(b, tli, requested, target, Optional.of(first), window);
            }
        }
        if (firstMatches.isEmpty()) {
            throw new RecoveryRefusedException((target.kind() == RecoveryTarget.Kind.XID
                    ? "transaction " + target.value() + " has no commit or abort record"
                    : "no restore point named '" + target.value() + "' is")
                    + " in the archived WAL from " + window.oldest().startLsn() + " to " + window.end() + " on timeline " + tli.value()
                    + " (still running, rolled back before the oldest backup, or not archived yet)."
                    + (unreadable.isEmpty() ? "" : " The WAL ends a prepared transaction at " + unreadable.get(0) + " whose record is too large for"
                            + " pgvault to read which transaction it ends: if that is the one, target it with --target-lsn or --target-time.")
                    + windowText);
        }
        throw new RecoveryRefusedException(target + " is at LSN " + firstMatches.first() + ", before the consistency point of every usable backup."
                + windowText);
    }

    /**
     * The first record at or after {@code notBefore} that the target names, looking from its
     * segment up to segment {@code until}, where a stretch looked at before begins: that
     * segment is looked at again, as a record may cross into it. A segment's index, when it
     * has one, names its restore points exactly and rules out the segments that cannot hold
     * the transaction; only the others are read, with the next segment when a record that
     * could be the target continues into it.
     *
     * @param unreadable gets the start of each end of a prepared transaction read whose xid is unknown
     */
    private Optional<WalRecordScanner.Event> firstMatch(RecoveryTarget target, TimelinePath path, Lsn notBefore, long until,
                                                        List<Lsn> unreadable) throws IOException {
        boolean byXid = target.kind() == RecoveryTarget.Kind.XID;
        List<WalRecordScanner.Event> found = new ArrayList<>(1);
        WalRecordScanner scanner = new WalRecordScanner(e -> {
            boolean match = byXid
                    ? e.kind() != WalRecordScanner.Kind.RESTORE_POINT && e.xid() == target.xid32()
                    : e.kind() == WalRecordScanner.Kind.RESTORE_POINT && e.name().equals(target.value());
            if (match && found.isEmpty() && !e.start().isBefore(notBefore)) {
                found.add(e);
            } else if (byXid && e.xid() == WalRecordScanner.UNKNOWN_XID && e.kind() != WalRecordScanner.Kind.RESTORE_POINT) {
                unreadable.add(e.start());
            }
        });
        List<WalFileName> stretch = path.run(path.segmentOf(notBefore)).stream()
                .takeWhile(name -> name.segmentNumber(path.segmentSize()) <= until).toList();
        Map<WalFileName, WalSegmentIndex> indexes = archive.indexes(stretch);
        int fed = -1;
        for (int i = 0; i < stretch.size() && found.isEmpty(); i++) {
            if (i <= fed) {
                continue;
            }
            WalSegmentIndex index = indexes.get(stretch.get(i));
            if (index != null) {
                if (!byXid) {
                    Optional<WalRecordScanner.Event> point = index.restorePoint(target.value(), notBefore);
                    if (point.isPresent()) {
                        return point;
                    }
                }
                boolean read = byXid && index.mayHoldTransaction(target.xid32())
                        || index.unfinishedMayBe(byXid ? target.xid32() : -1, !byXid);
                if (index.walEnds() && !read) {
                    // Replay stops inside this segment: PostgreSQL never reads what follows it.
                    break;
                }
                if (!read) {
                    continue;
                }
            }
            fed = feed(scanner, path, stretch, i, target);
            if (scanner.reachedEnd()) {
                break;
            }
        }
        return found.stream().findFirst();
    }

    /**
     * Reads segment {@code i} of the stretch into the scanner, and the next ones while the
     * record continuing into them could be the target (a long record may cross several small
     * segments), so such a record is always read whole.
     *
     * @return the last segment read
     */
    private int feed(WalRecordScanner scanner, TimelinePath path, List<WalFileName> stretch, int i, RecoveryTarget target) throws IOException {
        int last = i;
        while (true) {
            WalFileName name = stretch.get(last);
            archive.scanSegment(name, scanner);
            Optional<WalRecordScanner.Unfinished> open = scanner.unfinished();
            if (open.isEmpty() || scanner.reachedEnd() || last + 1 >= stretch.size() || !mayBe(open.get(), target)) {
                return last;
            }
            last++;
        }
    }

    /** Whether a record read only in part could be what the target names. */
    private static boolean mayBe(WalRecordScanner.Unfinished record, RecoveryTarget target) {
        boolean byXid = target.kind() == RecoveryTarget.Kind.XID;
        return record.mayBe(byXid ? target.xid32() : -1, !byXid);
    }

    private String noUsableBackupReason(TimelinePath path) {
        List<String> reasons = new ArrayList<>();
        for (BackupManifest b : archive.backups()) {
            if (!path.contains(b)) {
                reasons.add("backup " + b.backupId() + " (timeline " + b.endTimeline() + ", " + b.endLsn() + ") is not on the history of timeline "
                        + path.timeline().value());
            } else {
                long start = path.segmentOf(Lsn.parse(b.startLsn()));
                List<WalFileName> run = path.run(start);
                reasons.add("backup " + b.backupId() + " needs WAL segment " + path.missingAfter(start, run) + ", which is not in the repository");
            }
        }
        return String.join("; ", reasons);
    }
}

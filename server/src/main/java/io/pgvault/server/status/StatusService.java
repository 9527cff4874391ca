package io.pgvault.server.status;

import io.micronaut.context.annotation.Value;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.server.backup.BackupDue;
import io.pgvault.server.backup.BackupScheduler;
import io.pgvault.server.backup.BackupService;
import io.pgvault.server.backup.BackupView;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.catalog.WalStatistics;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.events.ClusterEvent;
import io.pgvault.server.events.ClusterEvents;
import io.pgvault.server.status.ClusterStatus.Archiving;
import io.pgvault.server.status.ClusterStatus.Backups;
import io.pgvault.server.status.ClusterStatus.Gap;
import io.pgvault.server.status.ClusterStatus.HourOfWal;
import io.pgvault.server.status.ClusterStatus.LastFailure;
import io.pgvault.server.status.ClusterStatus.LastSuccess;
import io.pgvault.server.status.ClusterStatus.Storage;
import io.pgvault.server.status.ClusterStatus.Streaming;
import io.pgvault.server.status.ClusterStatus.TimelineWindow;
import io.pgvault.server.status.ClusterStatus.Window;
import io.pgvault.server.stream.SlotHealth;
import io.pgvault.server.stream.StreamStatus;
import io.pgvault.server.stream.StreamingService;
import jakarta.inject.Singleton;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * Judges each cluster from what the server already knows (catalog, backup history,
 * streaming state, recent refusals): the one place that decides "ok", "warning" or
 * "critical" and why, for the dashboard, {@code /v1/status}, {@code /health} and the metrics.
 * {@code pgvault check} goes further and probes the cluster and the repository.
 */
@Singleton
public class StatusService {

    /** A refusal this recent still shows as a warning after later pushes succeeded. */
    static final Duration RECENT_REFUSAL = Duration.ofMinutes(10);
    /**
     * Between two changes to a cluster (see {@link ClusterEvents#version}), its status is judged
     * again at most this often, so a scrape or a dashboard's refresh is not a dozen catalog
     * queries per cluster; a change shows at once.
     */
    static final Duration SNAPSHOT_AGE = Duration.ofSeconds(10);

    private final ClusterService clusters;
    private final WalStatistics wal;
    private final BackupService backups;
    private final BackupScheduler scheduler;
    private final StreamingService streaming;
    private final ClusterEvents events;
    private final Clock clock;
    private final Duration archiveStale;
    private final Map<String, Snapshot> snapshots = new ConcurrentHashMap<>();

    private record Snapshot(ClusterStatus status, Instant at, long version) {
    }

    public StatusService(ClusterService clusters, WalStatistics wal, BackupService backups, BackupScheduler scheduler,
                         StreamingService streaming, ClusterEvents events, Clock clock,
                         @Value("${pgvault.monitoring.archive-stale:1h}") Duration archiveStale) {
        this.clusters = clusters;
        this.wal = wal;
        this.backups = backups;
        this.scheduler = scheduler;
        this.streaming = streaming;
        this.events = events;
        this.clock = clock;
        this.archiveStale = archiveStale;
    }

    /** The status of every registered cluster {@code wanted} accepts, by name, from snapshots at most {@link #SNAPSHOT_AGE} old. */
    public List<ClusterStatus> snapshots(Predicate<String> wanted) {
        return clusters.list().stream().filter(row -> wanted.test(row.name())).map(row -> snapshot(row.name()))
                .flatMap(Optional::stream).toList();
    }

    /** One cluster with its page's detail: timelines, WAL per hour, recent events. */
    public ClusterStatus detail(String cluster) {
        ClusterRow row = clusters.require(cluster);
        // The page draws every hole, so read them all once; the judgement takes those after the newest backup from them.
        Facts facts = facts(row, wal.gaps(row.id(), 0));
        ClusterStatus summary = judge(row, facts);
        return summary.withDetail(timelines(row, facts), arrivals(row), events.recent(row.name()));
    }

    /** The status the overview, {@code /health} and the metrics read: computed again when older than {@link #SNAPSHOT_AGE}. */
    public Optional<ClusterStatus> snapshot(String cluster) {
        Instant now = clock.instant();
        long version = events.version(cluster);
        Snapshot cached = snapshots.get(cluster);
        if (cached != null && cached.version() == version && cached.at().plus(SNAPSHOT_AGE).isAfter(now)) {
            return Optional.of(cached.status());
        }
        Optional<ClusterRow> row = clusters.find(cluster);
        if (row.isEmpty()) {
            snapshots.remove(cluster);
            return Optional.empty();
        }
        ClusterStatus fresh = summary(row.get());
        snapshots.put(cluster, new Snapshot(fresh, now, version));
        return Optional.of(fresh);
    }

    public ClusterStatus summary(ClusterRow row) {
        return judge(row, facts(row, null));
    }

    /**
     * What the judgement is made from, read once.
     *
     * @param allGaps every hole in the archived segments when already read (a cluster's page), else null
     */
    private record Facts(Instant now, WalStatistics.Totals totals, List<BackupView> backups, StreamStatus stream,
                         List<WalStatistics.SegmentGap> allGaps) {

        List<BackupView> complete() {
            return backups.stream().filter(b -> "complete".equals(b.status())).toList();
        }

        List<BackupView> stored() {
            return backups.stream().filter(b -> "complete".equals(b.status()) || "incomplete".equals(b.status())).toList();
        }
    }

    private Facts facts(ClusterRow row, List<WalStatistics.SegmentGap> allGaps) {
        return new Facts(clock.instant(), wal.totals(row.id()), backups.list(row.name()),
                row.stream() ? streaming.status(row.name()) : null, allGaps);
    }

    private ClusterStatus judge(ClusterRow row, Facts f) {
        Judgement j = new Judgement();
        Archiving archiving = archiving(row, f, j);
        Streaming stream = streaming(f, j);
        Backups backupSummary = backups(row, f, j);
        Window window = window(row, f, j);
        long backupRaw = f.stored().stream().mapToLong(b -> b.rawBytes() == null ? 0 : b.rawBytes()).sum();
        long backupStored = f.stored().stream().mapToLong(b -> b.storedBytes() == null ? 0 : b.storedBytes()).sum();
        long stored = f.totals().storedBytes() + backupStored;
        Double ratio = stored == 0 ? null : Math.round((f.totals().rawBytes() + backupRaw) * 100.0 / stored) / 100.0;
        return new ClusterStatus(row.name(), j.health(), j.reasons(), archiving, stream, backupSummary, window,
                new Storage(f.totals().rawBytes(), f.totals().storedBytes(), backupRaw, backupStored, stored, ratio), null, null, null);
    }

    private Archiving archiving(ClusterRow row, Facts f, Judgement j) {
        WalStatistics.Totals t = f.totals();
        Optional<ClusterEvent> refusal = events.lastRefusal(row.name());
        Instant lastGood = latest(t.lastArrivedAt(), events.lastAccepted(row.name()).orElse(null));
        String state;
        if (refusal.isPresent() && (lastGood == null || refusal.get().at().isAfter(lastGood))) {
            state = "failing";
            ClusterEvent r = refusal.get();
            j.critical("archiving failing: the push of " + r.file() + " at " + r.at() + " was refused (HTTP " + r.status() + "): " + r.message());
        } else if (t.files() == 0) {
            state = "never";
            j.warning("nothing archived yet: set archive_command (pgvault check " + row.name() + " shows how) or wait for the first segment");
        } else if (t.lastArrivedAt() != null && t.lastArrivedAt().plus(archiveStale).isBefore(f.now())) {
            state = "idle";
            j.warning("no WAL archived for " + age(t.lastArrivedAt(), f.now()) + " (last " + t.lastFile() + " at " + t.lastArrivedAt()
                    + "): if the cluster is busy, archive_command is failing; set archive_timeout to bound this on a quiet one");
        } else {
            state = "ok";
            refusal.filter(r -> r.at().plus(RECENT_REFUSAL).isAfter(f.now())).ifPresent(r -> j.warning("a push of " + r.file() + " was refused at "
                    + r.at() + " (HTTP " + r.status() + "): " + r.message()));
        }
        return new Archiving(state, t.lastArrivedAt(), t.lastFile(), t.files(), refusal.orElse(null));
    }

    private Streaming streaming(Facts f, Judgement j) {
        StreamStatus s = f.stream();
        if (s == null) {
            return null;
        }
        SlotHealth slot = s.slotHealth();
        Long lag = slot == null ? null : slot.lagBytes();
        Double rpo = null;
        if (lag != null && lag == 0) {
            rpo = 0.0;
        } else if (lag != null) {
            Instant since = s.caughtUpAt() != null ? s.caughtUpAt() : s.connectedSince();
            rpo = since == null ? null : Duration.between(since, f.now()).toMillis() / 1000.0;
        }
        if (!s.followed()) {
            j.critical("streaming " + s.state() + (s.lastError() == null ? "" : ": " + s.lastError()));
        }
        if (slot != null && slot.warning() != null) {
            j.warning(slot.warning());
        }
        return new Streaming(s.state(), s.flushedLsn(), lag, rpo, s.slot(), slot == null ? null : slot.retainedBytes(), s.lastError());
    }

    private Backups backups(ClusterRow row, Facts f, Judgement j) {
        // A backup whose WAL has not all arrived cannot be restored yet: not a success to measure age from.
        Optional<BackupView> lastComplete = f.complete().stream().max(Comparator.comparing(b -> Instant.parse(b.finishedAt())));
        Optional<BackupView> lastFailed = f.backups().stream().filter(b -> "failed".equals(b.status()))
                .max(Comparator.comparing(b -> Instant.parse(b.startedAt())));
        Optional<BackupView> running = f.backups().stream().filter(b -> "running".equals(b.status())).findFirst();
        Optional<String> schedule = scheduler.scheduleOf(row);
        Instant nextDue = null;
        boolean overdue = false;
        if (schedule.isPresent()) {
            Instant from = lastComplete.map(b -> Instant.parse(b.startedAt())).orElse(row.createdAt());
            nextDue = BackupDue.after(schedule.get(), from).next();
            overdue = running.isEmpty() && f.now().isAfter(nextDue.plus(BackupDue.GRACE));
        }
        if (f.complete().isEmpty()) {
            j.critical("no complete backup: nothing can be restored yet; pgvault backup " + row.name() + " --wait takes one");
        } else if (overdue) {
            j.warning("the backup due " + nextDue + " by schedule '" + schedule.get() + "' is missing; the server log says why");
        }
        lastFailed.filter(failed -> lastComplete.isEmpty() || Instant.parse(failed.startedAt()).isAfter(Instant.parse(lastComplete.get().startedAt())))
                .ifPresent(failed -> j.warning("the latest backup " + failed.id() + " failed: " + failed.reason()));
        return new Backups(f.stored().size(), running.map(BackupView::id).orElse(null),
                lastComplete.map(b -> new LastSuccess(b.id(), Instant.parse(b.finishedAt()), b.durationSeconds() == null ? 0 : b.durationSeconds(),
                        b.rawBytes() == null ? 0 : b.rawBytes(), b.storedBytes() == null ? 0 : b.storedBytes())).orElse(null),
                lastFailed.map(b -> new LastFailure(b.id(), b.finishedAt() == null ? Instant.parse(b.startedAt()) : Instant.parse(b.finishedAt()),
                        b.reason())).orElse(null),
                schedule.orElse(null), nextDue, overdue);
    }

    /**
     * Only holes after the newest complete backup count: a recovery to the latest point stops
     * at one, and a new backup clears it. Older holes only split the window (the cluster page
     * shows them); retention ends them.
     */
    private Window window(ClusterRow row, Facts f, Judgement j) {
        Optional<BackupView> oldest = f.complete().stream().min(Comparator.comparing(b -> Instant.parse(b.finishedAt())));
        Optional<BackupView> newest = f.complete().stream().max(Comparator.comparing(b -> Instant.parse(b.finishedAt())));
        Instant end = f.stream() != null && f.stream().lastFlushAt() != null ? latest(f.stream().lastFlushAt(), f.totals().lastArrivedAt())
                : f.totals().lastArrivedAt();
        if (oldest.isEmpty()) {
            return new Window(null, null, 0);
        }
        Instant start = Instant.parse(oldest.get().finishedAt());
        if (row.walSegmentSize() == null) {
            return new Window(start, end, 0);
        }
        long base = newest.get().timeline();
        long from = firstSegment(row, newest.get());
        List<WalStatistics.SegmentGap> gaps = (f.allGaps() != null ? f.allGaps().stream().filter(g -> g.after() >= from)
                : wal.gaps(row.id(), from).stream()).filter(g -> g.timeline() >= base).toList();
        if (!gaps.isEmpty()) {
            Gap first = gap(gaps.get(0), new WalSegmentSize(row.walSegmentSize()));
            j.critical("WAL missing after the newest backup " + newest.get().id() + ": segments " + first.from() + " to " + first.to()
                    + (gaps.size() > 1 ? " and " + (gaps.size() - 1) + " more stretch" + (gaps.size() > 2 ? "es" : "") : "")
                    + "; a recovery stops before them. Take a new backup (pgvault backup " + row.name() + " --wait) and find why they "
                    + "were not archived (pgvault check " + row.name() + ")");
        }
        return new Window(start, end, gaps.size());
    }

    private static long firstSegment(ClusterRow row, BackupView backup) {
        return Lsn.parse(backup.startLsn()).segmentNumber(new WalSegmentSize(row.walSegmentSize()));
    }

    private static Gap gap(WalStatistics.SegmentGap g, WalSegmentSize size) {
        TimelineId tli = new TimelineId(g.timeline());
        return new Gap(WalFileName.segment(tli, g.after() + 1, size).toString(), WalFileName.segment(tli, g.before() - 1, size).toString(),
                g.afterArrivedAt(), g.beforeArrivedAt());
    }

    private List<TimelineWindow> timelines(ClusterRow row, Facts f) {
        if (row.walSegmentSize() == null) {
            return List.of();
        }
        WalSegmentSize size = new WalSegmentSize(row.walSegmentSize());
        List<BackupView> complete = f.complete();
        List<WalStatistics.SegmentGap> gaps = f.allGaps();
        List<TimelineWindow> windows = new ArrayList<>();
        for (WalStatistics.TimelineSpan span : wal.timelines(row.id())) {
            // A timeline can be reached from a backup taken on it or on one of its ancestors (a lower number).
            Instant start = complete.stream().filter(b -> b.timeline() != null && b.timeline() <= span.timeline())
                    .map(b -> Instant.parse(b.finishedAt())).min(Comparator.naturalOrder()).orElse(null);
            TimelineId tli = new TimelineId(span.timeline());
            windows.add(new TimelineWindow(span.timeline(), start, span.lastArrivedAt(),
                    WalFileName.segment(tli, span.firstSegment(), size).toString(), WalFileName.segment(tli, span.lastSegment(), size).toString(),
                    gaps.stream().filter(g -> g.timeline() == span.timeline()).map(g -> gap(g, size)).toList()));
        }
        return windows;
    }

    /** WAL per hour over the last day, oldest first, empty hours included. */
    private List<HourOfWal> arrivals(ClusterRow row) {
        Instant firstHour = clock.instant().truncatedTo(ChronoUnit.HOURS).minus(23, ChronoUnit.HOURS);
        long[] files = new long[24];
        long[] bytes = new long[24];
        for (WalStatistics.Arrival a : wal.arrivalsSince(row.id(), firstHour)) {
            int hour = (int) Duration.between(firstHour, a.at()).toHours();
            if (hour >= 0 && hour < 24) {
                files[hour]++;
                bytes[hour] += a.rawBytes();
            }
        }
        List<HourOfWal> hours = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            hours.add(new HourOfWal(firstHour.plus(i, ChronoUnit.HOURS), files[i], bytes[i]));
        }
        return hours;
    }

    private static Instant latest(Instant a, Instant b) {
        return a == null ? b : b == null ? a : a.isAfter(b) ? a : b;
    }

    private static String age(Instant since, Instant now) {
        Duration d = Duration.between(since, now);
        return d.toHours() > 0 ? d.toHours() + " h " + d.toMinutesPart() + " min" : d.toMinutes() + " min";
    }

    /** Problems found, critical before warnings, and the worst level. */
    private static final class Judgement {
        private final List<String> critical = new ArrayList<>();
        private final List<String> warnings = new ArrayList<>();

        void critical(String reason) {
            critical.add(reason);
        }

        void warning(String reason) {
            warnings.add(reason);
        }

        String health() {
            return !critical.isEmpty() ? ClusterStatus.CRITICAL : !warnings.isEmpty() ? ClusterStatus.WARNING : ClusterStatus.OK;
        }

        List<String> reasons() {
            List<String> all = new ArrayList<>(critical);
            all.addAll(warnings);
            return List.copyOf(all);
        }
    }
}

package io.pgvault.server.check;

import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.pgproto.SqlConnection;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.server.backup.BackupDue;
import io.pgvault.server.backup.BackupScheduler;
import io.pgvault.server.backup.BackupService;
import io.pgvault.server.backup.BackupView;
import io.pgvault.server.catalog.Catalog;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.catalog.WalStatistics;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.stream.SlotHealth;
import io.pgvault.server.stream.StreamStatus;
import io.pgvault.server.stream.StreamingService;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * {@code pgvault check CLUSTER} end to end, as {@code pgbackrest check} and {@code barman check}
 * do: the connections the server uses, the cluster's own archiving settings and archiver, a
 * forced WAL switch whose segment must arrive (the only real proof that archiving works),
 * streaming and its slot, the last backup against its schedule, and gaps in the archive.
 * Each finding says what to do.
 */
@Singleton
public class ClusterCheck {

    /** Above this age, a cluster without a schedule gets a warning: nobody may be taking backups. */
    static final Duration UNSCHEDULED_BACKUP_AGE = Duration.ofDays(7);

    private static final String SETTINGS = """
            SELECT current_setting('archive_mode'), current_setting('archive_command'),
                   coalesce(current_setting('archive_library', true), ''), pg_is_in_recovery()::text,
                   a.archived_count::text, coalesce(a.last_archived_wal, ''), a.failed_count::text, coalesce(a.last_failed_wal, ''),
                   coalesce(a.last_failed_time::text, ''),
                   (a.last_failed_time IS NOT NULL AND (a.last_archived_time IS NULL OR a.last_failed_time > a.last_archived_time))::text
            FROM pg_stat_archiver a""";

    private final ClusterService clusters;
    private final Catalog catalog;
    private final WalStatistics walStatistics;
    private final BackupService backups;
    private final BackupScheduler scheduler;
    private final StreamingService streaming;
    private final Clock clock;

    public ClusterCheck(ClusterService clusters, Catalog catalog, WalStatistics walStatistics, BackupService backups, BackupScheduler scheduler,
                        StreamingService streaming, Clock clock) {
        this.clusters = clusters;
        this.catalog = catalog;
        this.walStatistics = walStatistics;
        this.backups = backups;
        this.scheduler = scheduler;
        this.streaming = streaming;
        this.clock = clock;
    }

    /** What the cluster's own settings say, read over an ordinary SQL connection. */
    private record Settings(String archiveMode, String archiveCommand, String archiveLibrary, boolean inRecovery, String lastArchived,
                            long failedCount, String lastFailed, String lastFailedAt, boolean failingNow) {
        boolean archiving() {
            return archiveMode.equals("on") || archiveMode.equals("always");
        }
    }

    /**
     * @param switchWal whether to force a WAL switch and wait for its segment ({@code cluster add}
     *                  checks without: archive_command is not set yet then)
     */
    public CheckReport run(String name, boolean switchWal, Duration walTimeout) throws InterruptedException {
        ClusterRow row = clusters.require(name);
        List<CheckResult> results = new ArrayList<>();
        Conninfo conninfo = Conninfo.parse(row.conninfo());
        boolean sameCluster = replication(row, conninfo, results);
        // One SQL session for the settings and the switch; null when it cannot be opened (its line says why).
        try (SqlConnection sql = openSql(conninfo, results)) {
            Optional<Settings> settings = sql == null ? Optional.empty() : settings(sql, results);
            settings.ifPresent(s -> archiving(row, s, results));
            if (switchWal && !sameCluster) {
                // Never a restore point and a switch on a cluster the archive does not belong to.
                results.add(CheckResult.warning("wal switch", "not tried: the conninfo does not reach the archived cluster (see above)",
                        "fix the replication connection line above first"));
            } else if (switchWal && settings.isPresent() && !settings.get().archiving() && !row.stream()) {
                results.add(CheckResult.warning("wal switch", "not tried: nothing can bring the segment (archive_mode is off, no streaming)",
                        "fix the archive_command line above first"));
            } else if (switchWal && settings.isPresent()) {
                walSwitch(row, sql, settings.get(), walTimeout, results);
            }
        }
        streaming(row, results);
        List<BackupView> list = backupList(row, results);
        if (list != null) {
            backups(row, list, results);
            archiveGaps(row, list, results);
        }
        return CheckReport.of(name, clock.instant(), results);
    }

    /**
     * The connection backups and streaming use, and whether it reaches the cluster the archive
     * belongs to (or one whose identity the first segment will fix).
     */
    private boolean replication(ClusterRow row, Conninfo conninfo, List<CheckResult> results) {
        ReplicationConnection.SystemIdentity identity;
        try (ReplicationConnection rc = ReplicationConnection.open(conninfo, "pgvault check")) {
            identity = rc.identifySystem();
            results.add(CheckResult.ok("replication connection", "connected to " + where(conninfo) + " (" + rc.security()
                    + "), PostgreSQL " + rc.serverMajor() + ", timeline " + identity.timeline().value() + ", at " + identity.position()));
        } catch (IOException | RuntimeException e) {
            results.add(CheckResult.critical("replication connection", "cannot open a replication connection to " + where(conninfo) + ": "
                    + e.getMessage(), "backups and streaming need it: give the role REPLICATION (ALTER ROLE ... REPLICATION), add a "
                    + "'replication' line for pgvault's host to pg_hba.conf, or fix the conninfo (pgvault cluster update " + row.name()
                    + " --conninfo '...')"));
            return false;
        }
        if (row.systemIdentifier() == null) {
            results.add(CheckResult.warning("identity", "no WAL archived yet: the first segment will fix the cluster's identity (the "
                    + "cluster answering now is " + identity.systemIdentifier() + ")", "set archive_command as pgvault cluster add printed, "
                    + "reload, and run pgvault check " + row.name() + " again"));
        } else if (!row.systemIdentifier().equals(identity.systemIdentifier())) {
            results.add(CheckResult.critical("identity", "the conninfo reaches the cluster with system identifier "
                    + identity.systemIdentifier() + ", but this archive belongs to " + row.systemIdentifier(), "point the conninfo at the "
                    + "archived cluster (pgvault cluster update " + row.name() + " --conninfo '...'); a different cluster (a new initdb, "
                    + "pg_upgrade) is registered under a new name"));
            return false;
        } else {
            results.add(CheckResult.ok("identity", "system identifier " + identity.systemIdentifier() + " matches the archive"));
        }
        return true;
    }

    private static SqlConnection openSql(Conninfo conninfo, List<CheckResult> results) {
        try {
            SqlConnection c = SqlConnection.open(conninfo, "pgvault check");
            results.add(CheckResult.ok("sql connection", "connected to " + where(conninfo) + " as an ordinary session"));
            return c;
        } catch (IOException | RuntimeException e) {
            results.add(CheckResult.critical("sql connection", "cannot open an SQL session to " + where(conninfo) + ": " + e.getMessage(),
                    "the slot and archiving checks need one: the conninfo's dbname (default: the user's name) must exist and "
                            + "pg_hba.conf must allow it"));
            return null;
        }
    }

    private static Optional<Settings> settings(SqlConnection sql, List<CheckResult> results) {
        try {
            List<String> r = sql.query(SETTINGS).get(0).rows().get(0);
            return Optional.of(new Settings(r.get(0), r.get(1), r.get(2), "true".equals(r.get(3)), r.get(5), Long.parseLong(r.get(6)),
                    r.get(7), r.get(8), "true".equals(r.get(9))));
        } catch (IOException | RuntimeException e) {
            results.add(CheckResult.critical("archive_command", "cannot read the cluster's archiving settings and pg_stat_archiver: "
                    + e.getMessage(), "check runs an ordinary SELECT of current_setting() and pg_stat_archiver as the conninfo's role"));
            return Optional.empty();
        }
    }

    private static void archiving(ClusterRow row, Settings s, List<CheckResult> results) {
        String push = "/v1/clusters/" + row.name() + "/wal/";
        String command = redacted(s.archiveCommand());
        String fix = "set archive_command = 'curl -fsS -T %p http://PGVAULT:8432" + push + "%f' (pgvault cluster add printed the exact "
                + "line) and reload";
        java.util.regex.Matcher other = java.util.regex.Pattern.compile("/v1/clusters/([^/\\s]+)/wal/").matcher(s.archiveCommand());
        if (!s.archiving()) {
            String detail = "archive_mode is " + s.archiveMode() + (row.stream() ? ": only streaming brings WAL to pgvault" : " and the server "
                    + "does not stream from it: no WAL reaches pgvault");
            String modeFix = "set archive_mode = on (restart) and archive_command = 'curl -fsS -T %p http://PGVAULT:8432" + push + "%f' "
                    + "(pgvault cluster add printed the exact line)";
            results.add(row.stream() ? CheckResult.warning("archive_command", detail, modeFix)
                    : CheckResult.critical("archive_command", detail, modeFix));
        } else if (!s.archiveLibrary().isBlank()) {
            results.add(CheckResult.warning("archive_command", "archive_library = '" + s.archiveLibrary() + "' is set, so archive_command is "
                    + "not used; whether it reaches pgvault only the WAL switch can tell", "use archive_command with pgvault's curl line, "
                    + "or let the WAL switch below prove the library"));
        } else if (s.archiveCommand().isBlank()) {
            results.add(CheckResult.critical("archive_command", "archive_mode is on but archive_command is empty: WAL piles up in pg_wal", fix));
        } else if (other.find() && !s.archiveCommand().contains(push)) {
            results.add(CheckResult.critical("archive_command", "archive_command pushes to pgvault's cluster '" + other.group(1) + "', not '"
                    + row.name() + "': " + command, fix));
        } else if (!s.archiveCommand().contains(push)) {
            // A wrapper script or a proxy path: only the switched segment's arrival can tell.
            results.add(CheckResult.warning("archive_command", "archive_command does not name " + push + " (a wrapper or a proxy?): "
                    + command, "the WAL switch line below proves it either way; " + fix));
        } else if (s.inRecovery() && !s.archiveMode().equals("always")) {
            results.add(CheckResult.warning("archive_command", "the cluster is a standby (archive_mode = on archives only on a primary): "
                    + command, "point the conninfo at the primary, or set archive_mode = always on this standby"));
        } else {
            results.add(CheckResult.ok("archive_command", command));
        }
        if (s.failingNow()) {
            results.add(CheckResult.critical("archiver", "archive_command fails: " + s.failedCount() + " failures, last for " + s.lastFailed()
                    + " at " + s.lastFailedAt() + (s.lastArchived().isEmpty() ? "" : "; last archived " + s.lastArchived()),
                    "PostgreSQL's log has archive_command's output, with pgvault's answer naming the cause (docs/troubleshooting.md); "
                            + "WAL piles up in pg_wal until it succeeds"));
        } else if (s.archiving()) {
            results.add(CheckResult.ok("archiver", s.lastArchived().isEmpty() ? "no failures, nothing archived since the statistics reset"
                    : "last archived " + s.lastArchived() + (s.failedCount() > 0 ? " (" + s.failedCount() + " earlier failures, none since)" : "")));
        }
    }

    /** The proof: a segment closed now must be in the archive within the timeout, by archive_command or streaming. */
    private void walSwitch(ClusterRow row, SqlConnection sql, Settings settings, Duration timeout, List<CheckResult> results)
            throws InterruptedException {
        if (settings.inRecovery()) {
            results.add(CheckResult.warning("wal switch", "not tried: the cluster is in recovery (a standby cannot switch WAL)",
                    "run pgvault check against the primary"));
            return;
        }
        String segment;
        try {
            // A switch with nothing written since the last one closes no segment: a restore point first (as pgBackRest's check does).
            segment = sql.query("SELECT pg_create_restore_point('pgvault check'); SELECT pg_walfile_name(pg_switch_wal())").get(1)
                    .rows().get(0).get(0);
        } catch (IOException | RuntimeException e) {
            results.add(CheckResult.warning("wal switch", "cannot force a WAL switch: " + e.getMessage(), "let the role switch WAL "
                    + "(GRANT EXECUTE ON FUNCTION pg_switch_wal(), pg_create_restore_point(text) TO ...) so check can prove archiving works"));
            return;
        }
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        Optional<Instant> arrived = catalog.walArrival(row.id(), segment);
        while (arrived.isEmpty() && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(250);
            arrived = catalog.walArrival(row.id(), segment);
        }
        if (arrived.isPresent()) {
            results.add(CheckResult.ok("wal switch", String.format("segment %s, closed by a forced switch, is in the archive (%.1f s)", segment,
                    (System.nanoTime() - start) / 1e9)));
        } else {
            results.add(CheckResult.critical("wal switch", "segment " + segment + ", closed by a forced switch, did not reach the archive "
                    + "within " + timeout.toSeconds() + " s", "archiving does not work: see the archive_command and archiver lines above, "
                    + "pg_stat_archiver and PostgreSQL's log"));
        }
    }

    private void streaming(ClusterRow row, List<CheckResult> results) {
        if (!row.stream()) {
            results.add(CheckResult.ok("streaming", "off: WAL comes by archive_command only, so a lost primary costs up to a segment "
                    + "(pgvault cluster update " + row.name() + " --stream follows it within a second)"));
            return;
        }
        StreamStatus s = streaming.status(row.name());
        if (StreamStatus.ELSEWHERE.equals(s.state())) {
            results.add(CheckResult.ok("streaming", "streamed by server " + s.server() + ", which holds the cluster's lease (its "
                    + "GET /v1/clusters/" + row.name() + "/stream has the details)"));
        } else if (s.state().equals("streaming")) {
            results.add(CheckResult.ok("streaming", "from slot " + s.slot() + ", stored up to " + s.flushedLsn() + " (last stored "
                    + s.lastFlushAt() + ")"));
        } else {
            results.add(CheckResult.critical("streaming", s.state() + (s.lastError() == null ? "" : ": " + s.lastError()),
                    "the receiver retries by itself; fix what the error names (the replication connection line above says more)"));
        }
        SlotHealth slot = s.slotHealth();
        if (slot != null && (slot.warning() != null || slot.error() != null)) {
            results.add(CheckResult.warning("slot", slot.warning() != null ? slot.warning() : slot.error(),
                    "a slot that pgvault does not read holds WAL on the cluster: fix streaming, or stop it (--no-stream drops the slot)"));
        } else if (slot != null && slot.exists()) {
            results.add(CheckResult.ok("slot", s.slot() + " " + slot.walStatus() + ", holds " + (slot.retainedBytes() == null ? "-"
                    : (slot.retainedBytes() >> 20) + " MiB") + " on the cluster"));
        }
    }

    private List<BackupView> backupList(ClusterRow row, List<CheckResult> results) {
        try {
            return backups.list(row.name());
        } catch (RuntimeException e) {
            results.add(CheckResult.critical("catalog", "cannot list the backups: " + e.getMessage(),
                    "the catalog must be reachable (GET /health shows it)"));
            return null;
        }
    }

    private void backups(ClusterRow row, List<BackupView> list, List<CheckResult> results) {
        Instant now = clock.instant();
        Optional<BackupView> last = list.stream().filter(b -> b.status().equals("complete") && b.finishedAt() != null)
                .max(Comparator.comparing(b -> Instant.parse(b.finishedAt())));
        Optional<String> schedule = scheduler.scheduleOf(row);
        if (last.isEmpty()) {
            results.add(CheckResult.critical("backup", "no complete backup: nothing can be restored yet", "pgvault backup " + row.name()
                    + " --wait" + (schedule.isEmpty() ? ", and a schedule: pgvault.clusters." + row.name() + ".backup.schedule or "
                    + "cluster add --backup-schedule" : "")));
            return;
        }
        Duration age = Duration.between(Instant.parse(last.get().finishedAt()), now);
        String detail = "last complete backup " + last.get().id() + " finished " + last.get().finishedAt() + " (" + human(age) + " ago)";
        if (schedule.isPresent()) {
            BackupDue dues = BackupDue.after(schedule.get(), Instant.parse(last.get().startedAt()));
            Instant due = dues.next();
            Instant dueAfter = dues.afterNext();
            boolean running = backups.runningJob(row.name()).isPresent();
            detail += ", schedule '" + schedule.get() + "'";
            if (!running && now.isAfter(dueAfter.plus(BackupDue.GRACE))) {
                results.add(CheckResult.critical("backup", detail + ": the backups due " + due + " and " + dueAfter
                        + " are missing", "the server's log says why the scheduled backups failed; pgvault backup " + row.name()
                        + " --wait takes one now"));
            } else if (!running && now.isAfter(due.plus(BackupDue.GRACE))) {
                results.add(CheckResult.warning("backup", detail + ": the backup due " + due + " is missing", "the server's "
                        + "log says why; pgvault backups " + row.name() + " lists failed ones"));
            } else {
                results.add(CheckResult.ok("backup", detail + (running ? ", one running now" : ", next due " + due)));
            }
        } else if (age.compareTo(UNSCHEDULED_BACKUP_AGE) > 0) {
            results.add(CheckResult.warning("backup", detail + ", and no schedule", "schedule backups: cluster add --backup-schedule "
                    + "'0 2 * * *' or pgvault.clusters." + row.name() + ".backup.schedule"));
        } else {
            results.add(CheckResult.ok("backup", detail + " (no schedule)"));
        }
        list.stream().filter(b -> b.status().equals("failed")).max(Comparator.comparing(BackupView::startedAt))
                .filter(f -> f.startedAt().compareTo(last.get().startedAt()) > 0)
                .ifPresent(f -> results.add(CheckResult.warning("backup", "the latest backup attempt " + f.id() + " failed: " + f.reason(),
                        "fix what it names and take a new one: pgvault backup " + row.name() + " --wait")));
    }

    /** From the newest complete backup to the newest segment, per timeline, every segment must be there. */
    private void archiveGaps(ClusterRow row, List<BackupView> list, List<CheckResult> results) {
        Optional<BackupView> base = list.stream().filter(b -> b.status().equals("complete") && b.startLsn() != null && b.timeline() != null)
                .max(Comparator.comparing(BackupView::id));
        if (base.isEmpty() || row.walSegmentSize() == null) {
            return;
        }
        WalSegmentSize size = new WalSegmentSize(row.walSegmentSize());
        long from = Lsn.parse(base.get().startLsn()).segmentNumber(size);
        Optional<WalStatistics.SegmentGap> gap = walStatistics.gaps(row.id(), from).stream()
                .filter(g -> g.timeline() >= base.get().timeline()).findFirst();
        if (gap.isPresent()) {
            WalFileName missing = WalFileName.segment(new TimelineId(gap.get().timeline()), gap.get().after() + 1, size);
            results.add(CheckResult.critical("wal archive", "segment " + missing + " is missing, with later segments archived: "
                    + "recovery from backup " + base.get().id() + " stops there", "take a new backup (pgvault backup " + row.name()
                    + " --wait) and find why it was skipped (PostgreSQL's log, pg_stat_archiver); pgvault verify " + row.name()
                    + " reads the whole archive"));
            return;
        }
        List<WalStatistics.TimelineSpan> spans = walStatistics.timelines(row.id());
        WalStatistics.TimelineSpan newest = spans.isEmpty() ? null : spans.get(spans.size() - 1);
        String end = newest == null ? "no segment yet"
                : WalFileName.segment(new TimelineId(newest.timeline()), newest.lastSegment(), size).toString();
        results.add(CheckResult.ok("wal archive", "no gap from backup " + base.get().id() + " to " + end));
    }

    /** archive_command as it may be shown to a read token: no bearer token, basic-auth password or URL credentials. */
    static String redacted(String command) {
        return command.replaceAll("(?i)(bearer\\s+)[^\\s'\"]+", "$1***")
                .replaceAll("(\\s(?:-u|--user|--proxy-user)\\s+)[^\\s'\"]+", "$1***")
                .replaceAll("(?i)(--oauth2-bearer\\s+)[^\\s'\"]+", "$1***")
                .replaceAll("(://)[^/@\\s'\"]+@", "$1***@");
    }

    private static String human(Duration d) {
        if (d.toDays() >= 2) {
            return d.toDays() + " days";
        }
        if (d.toHours() >= 2) {
            return d.toHours() + " h";
        }
        return Math.max(0, d.toMinutes()) + " min";
    }

    private static String where(Conninfo c) {
        return c.host() + ":" + c.port();
    }
}

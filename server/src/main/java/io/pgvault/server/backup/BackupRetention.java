package io.pgvault.server.backup;

import io.micronaut.context.annotation.Value;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.RetentionPlanner;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.repo.StreamedHeads;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.server.catalog.BackupHistory;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.lease.Lease;
import io.pgvault.server.lease.LeaseKeeper;
import io.pgvault.server.config.RetentionConfig;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Applies a cluster's retention policy (its {@code --retain-full} / {@code --retain-days}):
 * which backups and WAL a recovery no longer needs, planned from the repository's manifests
 * (the truth) and deleted newest first, with {@code pgvault.retention.grace} for backups just
 * superseded. Runs after each stored backup and on {@code pgvault expire}.
 */
@Singleton
public class BackupRetention {

    private static final Logger LOG = LoggerFactory.getLogger(BackupRetention.class);

    private final ClusterService clusters;
    private final BackupHistory history;
    private final ObjectStore store;
    private final Clock clock;
    private final Duration retentionGrace;
    private final Duration walWait;
    private final LeaseKeeper leases;

    public BackupRetention(ClusterService clusters, BackupHistory history, ObjectStore store, Clock clock, RetentionConfig retention,
                           @Value("${pgvault.backup.wal-wait:5m}") Duration walWait, LeaseKeeper leases) {
        this.leases = leases;
        this.clusters = clusters;
        this.history = history;
        this.store = store;
        this.clock = clock;
        this.retentionGrace = retention.getGrace();
        this.walWait = walWait;
    }

    /**
     * After backup {@code id} was stored: once its WAL arrived (or {@code pgvault.backup.wal-wait}
     * passed), applies the policy, if this server holds the cluster's lease (asked of the
     * catalog right before): retention runs once per cluster, on its holder, so two servers
     * never delete from one plan each. Another server's backups are followed by the holder's.
     */
    void afterBackup(String cluster, String id) throws IOException, InterruptedException {
        awaitWal(cluster, id);
        Optional<Lease> lease = leases.lease(cluster);
        if (lease.isEmpty() || !leases.confirm(lease.get())) {
            LOG.info("Retention of {} after backup {} is left to the server holding the cluster's lease", cluster, id);
            return;
        }
        expire(cluster, false);
    }

    /**
     * Retention counts complete backups only, so give the new backup's WAL time to arrive
     * (PostgreSQL switches segments at the end of a backup; the archiver ships it soon).
     */
    private void awaitWal(String cluster, String id) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + walWait.toNanos();
        BackupManifest manifest = BackupManifest.read(store, cluster, id).orElseThrow();
        while (missingSegment(manifest, archivedSegments(cluster).keySet()).isPresent() && System.nanoTime() < deadline) {
            Thread.sleep(1000);
        }
    }

    /** What the cluster's retention policy keeps and deletes; applied unless {@code dryRun}. */
    public RetentionReport expire(String cluster, boolean dryRun) throws IOException {
        ClusterRow row = clusters.require(cluster);
        RetentionPlanner.Policy policy = new RetentionPlanner.Policy(row.retainFull(), row.retainDays());
        Map<String, Instant> archived = archivedSegments(cluster);
        List<RetentionPlanner.Candidate> candidates = new ArrayList<>();
        for (String id : BackupManifest.idsInRepository(store, cluster)) {
            Optional<BackupManifest> m = BackupManifest.read(store, cluster, id);
            if (m.isEmpty()) {
                continue;
            }
            BackupManifest b = m.get();
            WalSegmentSize size = new WalSegmentSize(b.walSegmentSize());
            candidates.add(new RetentionPlanner.Candidate(id, Lsn.parse(b.startLsn()).segmentNumber(size), Instant.parse(b.finishedAt()),
                    completedAt(b, archived), b.isIncremental() ? b.parent().backupId() : null));
        }
        RetentionPlanner.Plan plan = RetentionPlanner.plan(candidates, policy, clock.instant(), retentionGrace);
        List<String> walToDelete = new ArrayList<>();
        List<String> indexesToDelete = List.of();
        if (plan.walBeforeSegment() >= 0 && row.walSegmentSize() != null) {
            WalSegmentSize size = new WalSegmentSize(row.walSegmentSize());
            for (ObjectStat o : store.list(RepositoryLayout.walPrefix(cluster))) {
                String file = o.key().substring(o.key().lastIndexOf('/') + 1);
                // Streamed heads are named by their segment and stream token: left behind on an old timeline, or by a
                // stream that lost its lease, they go with the WAL of their segment.
                Optional<WalFileName> name = RepositoryLayout.isStreamingPartial(o.key()) ? StreamedHeads.segmentOf(o.key())
                        : WalFileName.tryParse(file);
                if (name.isPresent() && name.get().hasSegment() && name.get().segmentNumber(size) < plan.walBeforeSegment()) {
                    walToDelete.add(o.key());
                }
            }
            indexesToDelete = store.list(RepositoryLayout.walIndexPrefix(cluster)).stream().map(ObjectStat::key)
                    .filter(k -> RepositoryLayout.indexedSegment(k).map(n -> n.segmentNumber(size) < plan.walBeforeSegment()).orElse(false))
                    .toList();
        }
        if (!dryRun) {
            // Newest first: an incremental backup never outlives, even for a moment, the parent it needs.
            List<String> newestFirst = new ArrayList<>(plan.deleteBackups());
            java.util.Collections.reverse(newestFirst);
            for (String id : newestFirst) {
                BackupService.deleteBackupObjects(store, cluster, id);
                history.delete(row.id(), id);
                LOG.info("Retention ({}, grace {}): deleted backup {} of {}", policy, retentionGrace, id, cluster);
            }
            store.delete(walToDelete);
            // The segments first: an index without its segment is never read, a segment without its index is read whole.
            store.delete(indexesToDelete);
            if (!walToDelete.isEmpty()) {
                LOG.info("Retention ({}, grace {}): deleted {} WAL files of {} before segment {}", policy, retentionGrace, walToDelete.size(), cluster,
                        plan.walBeforeSegment());
            }
        }
        return new RetentionReport(dryRun, plan.keepBackups(), plan.deleteBackups(),
                walToDelete.stream().map(k -> k.substring(k.lastIndexOf('/') + 1)).toList());
    }

    /** The names of the cluster's archived WAL files, each with when it was stored. */
    private Map<String, Instant> archivedSegments(String cluster) throws IOException {
        Map<String, Instant> names = new HashMap<>();
        for (ObjectStat o : store.list(RepositoryLayout.walPrefix(cluster))) {
            names.put(o.key().substring(o.key().lastIndexOf('/') + 1), o.lastModified());
        }
        return names;
    }

    /** The WAL segments from the backup's start to its end: what a recovery from it needs first. */
    private static List<WalFileName> neededSegments(BackupManifest b) {
        WalSegmentSize size = new WalSegmentSize(b.walSegmentSize());
        TimelineId tli = new TimelineId(b.endTimeline());
        long first = Lsn.parse(b.startLsn()).segmentNumber(size);
        long last = Lsn.parse(b.endLsn()).plus(-1).segmentNumber(size);
        List<WalFileName> names = new ArrayList<>();
        for (long seg = first; seg <= last; seg++) {
            names.add(WalFileName.segment(tli, seg, size));
        }
        return names;
    }

    /** The first WAL segment from the backup's start to its end that the repository lacks. */
    static Optional<WalFileName> missingSegment(BackupManifest b, Set<String> archived) {
        return neededSegments(b).stream().filter(name -> !archived.contains(name.toString())).findFirst();
    }

    /**
     * Since when a recovery could use the backup: when the last of its needed segments was
     * stored (the planner never puts it before the backup's end); null while one is missing.
     */
    private static Instant completedAt(BackupManifest b, Map<String, Instant> archived) {
        Instant last = Instant.parse(b.finishedAt());
        for (WalFileName name : neededSegments(b)) {
            Instant stored = archived.get(name.toString());
            if (stored == null) {
                return null;
            }
            last = stored.isAfter(last) ? stored : last;
        }
        return last;
    }
}

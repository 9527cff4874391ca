package io.pgvault.server.backup;

import io.micronaut.context.annotation.Value;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.server.catalog.BackupHistory;
import io.pgvault.server.catalog.BackupRow;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.config.ServerIdentity;
import jakarta.annotation.PreDestroy;
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
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Brings the catalog's backup history in line with the repository, knowing that several
 * servers may share both: a server fails and cleans up only backups it can tell are dead.
 *
 * <ul>
 *   <li>A backup recorded as running is dead when it was run under this server's own
 *       (configured) id, which is starting, so that run ended; or when its server's heartbeat
 *       is older than {@code pgvault.backup.heartbeat-timeout}. Otherwise another server is
 *       taking it: left alone.</li>
 *   <li>Pieces without a manifest are deleted when the catalog records their backup as failed;
 *       with no row at all (a rebuilt catalog) only once the newest of them is older than
 *       {@code pgvault.backup.orphan-age}; while the backup runs, never.</li>
 * </ul>
 *
 * At start-up everything is reconciled; afterwards, periodically, only the backups recorded
 * as running (one catalog query), so a server that died mid-backup has it failed and
 * cleaned up by the others, or by itself after a restart under a new id.
 */
@Singleton
public class BackupReconciler {

    private static final Logger LOG = LoggerFactory.getLogger(BackupReconciler.class);

    private final ClusterService clusters;
    private final BackupHistory history;
    private final BackupService backups;
    private final ObjectStore store;
    private final ServerIdentity identity;
    private final Clock clock;
    private final Duration heartbeatTimeout;
    private final Duration orphanAge;
    private final ScheduledExecutorService checks = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pgvault-backup-reconciler");
        t.setDaemon(true);
        return t;
    });

    public BackupReconciler(ClusterService clusters, BackupHistory history, BackupService backups, ObjectStore store, ServerIdentity identity,
                            Clock clock, @Value("${pgvault.backup.heartbeat-timeout:2m}") Duration heartbeatTimeout,
                            @Value("${pgvault.backup.orphan-age:1h}") Duration orphanAge) {
        if (heartbeatTimeout.compareTo(backups.heartbeatInterval().multipliedBy(3)) < 0) {
            // A couple of missed heartbeats (a slow catalog) must not fail a backup that is fine.
            throw new IllegalArgumentException("pgvault.backup.heartbeat-timeout is " + heartbeatTimeout + ", less than three times "
                    + "pgvault.backup.heartbeat-interval (" + backups.heartbeatInterval() + "): raise it (the default is 2m)");
        }
        if (orphanAge.isNegative()) {
            throw new IllegalArgumentException("pgvault.backup.orphan-age is " + orphanAge + ", a negative duration: expected e.g. 1h (the default)");
        }
        this.clusters = clusters;
        this.history = history;
        this.backups = backups;
        this.store = store;
        this.identity = identity;
        this.clock = clock;
        this.heartbeatTimeout = heartbeatTimeout;
        this.orphanAge = orphanAge;
    }

    /** Reconciles everything now, then checks for abandoned backups every half heartbeat timeout. */
    public void start() {
        reconcile();
        long every = heartbeatTimeout.toMillis() / 2;
        checks.scheduleWithFixedDelay(() -> {
            try {
                failAbandoned(false).forEach(this::removeAbandoned);
            } catch (RuntimeException e) {
                LOG.warn("Check for abandoned backups failed (retried in {} ms): {}", every, e.getMessage());
            }
        }, every, every, TimeUnit.MILLISECONDS);
    }

    /**
     * At start-up, before this server starts any backup: backups whose server is gone are
     * failed and their pieces deleted (they have no manifest, so they never completed); stored
     * backups the catalog lacks (taken before it kept a history, or by another server) are
     * added; rows of backups deleted from the repository by other means are dropped.
     */
    public void reconcile() {
        try {
            failAbandoned(true);
        } catch (RuntimeException e) {
            LOG.error("Cannot check the catalog for abandoned backups: {}", e.getMessage());
        }
        for (ClusterRow row : clusters.list()) {
            try {
                reconcile(row);
            } catch (IOException | RuntimeException e) {
                LOG.error("Cannot reconcile the backups of {} with the repository: {}", row.name(), e.getMessage());
            }
        }
    }

    private void reconcile(ClusterRow row) throws IOException {
        Map<String, BackupRow> known = new HashMap<>();
        history.list(row.id()).forEach(b -> known.put(b.id(), b));
        Set<String> inRepository = BackupManifest.idsInRepository(store, row.name());
        for (String id : inRepository) {
            BackupRow b = known.get(id);
            if (b != null && b.isStored()) {
                continue;
            }
            Optional<BackupManifest> manifest;
            try {
                manifest = BackupManifest.read(store, row.name(), id);
            } catch (CorruptObjectException e) {
                // Damaged or crafted: not listed, and its pieces kept (it is not "no manifest"); the others go on.
                LOG.error("Backup {} of {} left out of the catalog: {}", id, row.name(), e.getMessage());
                continue;
            }
            if (manifest.isPresent()) {
                storeIfWhole(row, manifest.get());
            } else if (b != null && BackupRow.FAILED.equals(b.status())) {
                BackupService.deleteBackupObjects(store, row.name(), id);
                LOG.warn("Removed the pieces of failed backup {} of {} (it has no manifest, so it never completed): {}", id, row.name(), b.reason());
            } else if (b != null) {
                LOG.info("Backup {} of {} is running on another server: its pieces are left alone", id, row.name());
            } else {
                removeIfOld(row.name(), id);
            }
        }
        for (BackupRow b : known.values()) {
            if (b.isStored() && !inRepository.contains(b.id())) {
                history.delete(row.id(), b.id());
                LOG.warn("Backup {} of {} is no longer in the repository (deleted by other means): removed from the catalog", b.id(), row.name());
            }
        }
    }

    /**
     * Lists a backup found with its manifest as stored, if every piece it names is there; else
     * removes it: a manifest over missing pieces is a backup its server completed after another
     * one failed it and removed its pieces, and it must not look restorable.
     */
    private void storeIfWhole(ClusterRow cluster, BackupManifest manifest) throws IOException {
        List<String> missing = BackupService.missingPieces(store, cluster.name(), manifest);
        if (missing.isEmpty()) {
            history.put(cluster.id(), BackupRow.stored(manifest));
            return;
        }
        BackupService.deleteBackupObjects(store, cluster.name(), manifest.backupId());
        history.failed(cluster.id(), BackupRow.running(manifest.backupId(), clock.instant(), manifest.type(),
                manifest.isIncremental() ? manifest.parent().backupId() : null), clock.instant(), "its manifest names "
                + missing.size() + " pieces the repository does not hold (" + missing.get(0) + (missing.size() > 1 ? ", ..." : "")
                + "): removed; take a new backup");
        LOG.error("Backup {} of {} removed: its manifest names {} missing pieces", manifest.backupId(), cluster.name(), missing.size());
    }

    /** Pieces of a backup the catalog does not know: an old interrupted one, or one another server writes while the catalog was rebuilt. */
    private void removeIfOld(String cluster, String id) throws IOException {
        List<ObjectStat> objects = store.list(RepositoryLayout.backupPrefix(cluster, id));
        Instant newest = objects.stream().map(ObjectStat::lastModified).max(Instant::compareTo).orElse(Instant.EPOCH);
        if (newest.isBefore(clock.instant().minus(orphanAge))) {
            BackupService.deleteBackupObjects(store, cluster, id);
            LOG.warn("Removed the pieces of interrupted backup {} of {}: no manifest and no catalog record, and the newest of them was "
                    + "written at {}, more than pgvault.backup.orphan-age ({}) ago", id, cluster, newest, orphanAge);
        } else {
            LOG.warn("Backup {} of {} has pieces but no manifest and no catalog record; its newest piece was written at {}, so another "
                    + "server may be writing it: left alone (removed at a start once older than pgvault.backup.orphan-age, {})", id, cluster,
                    newest, orphanAge);
        }
    }

    /**
     * Fails the backups recorded as running whose server is gone.
     *
     * @param starting at start-up, a backup under this server's own id is dead too (that run ended)
     * @return the backups failed now
     */
    List<BackupHistory.Running> failAbandoned(boolean starting) {
        Instant now = clock.instant();
        List<BackupHistory.Running> failed = new ArrayList<>();
        for (BackupHistory.Running r : history.running()) {
            Optional<String> reason = deadBecause(r, now, starting);
            if (reason.isEmpty()) {
                if (starting) {
                    LOG.info("Backup {} is running on server {} (last heartbeat {}): left alone", r.id(), r.serverId(), r.aliveAt());
                }
                continue;
            }
            if (history.abandoned(r.clusterId(), r.id(), now, reason.get() + "; nothing of it is kept (its pieces are removed); take a new backup")) {
                LOG.warn("Backup {} recorded as failed: {}", r.id(), reason.get());
                failed.add(r);
            }
        }
        return failed;
    }

    private Optional<String> deadBecause(BackupHistory.Running r, Instant now, boolean starting) {
        if (backups.isRunningHere(r.id())) {
            return Optional.empty();
        }
        if (starting && identity.configured() && identity.id().equals(r.serverId())) {
            return Optional.of("the pgvault server running it (server id " + r.serverId() + ") restarted, so it stopped while this backup ran");
        }
        if (r.aliveAt().isBefore(now.minus(heartbeatTimeout))) {
            String server = r.serverId() == null ? "a pgvault server that recorded no id" : "pgvault server " + r.serverId();
            String since = r.heartbeatAt() == null ? "no heartbeat since its start at " + r.startedAt() : "no heartbeat since " + r.heartbeatAt();
            return Optional.of(server + " stopped while this backup ran: " + since + ", more than pgvault.backup.heartbeat-timeout ("
                    + heartbeatTimeout + ") ago");
        }
        return Optional.empty();
    }

    /** Deletes the pieces of a backup failed by {@link #failAbandoned}, unless its manifest shows it completed after all. */
    private void removeAbandoned(BackupHistory.Running r) {
        clusters.list().stream().filter(c -> c.id() == r.clusterId()).findFirst().ifPresent(cluster -> {
            try {
                Optional<BackupManifest> manifest = BackupManifest.read(store, cluster.name(), r.id());
                if (manifest.isPresent()) {
                    // Its server stored it and then lost the catalog: it is a backup, if whole.
                    storeIfWhole(cluster, manifest.get());
                } else {
                    BackupService.deleteBackupObjects(store, cluster.name(), r.id());
                    LOG.warn("Removed the pieces of abandoned backup {} of {}", r.id(), cluster.name());
                }
            } catch (IOException | RuntimeException e) {
                LOG.error("Cannot remove the pieces of abandoned backup {} of {} (removed at the next start): {}", r.id(), cluster.name(),
                        e.getMessage());
            }
        });
    }

    @PreDestroy
    void shutdown() {
        checks.shutdownNow();
    }
}

package io.pgvault.server.backup;

import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.annotation.Value;
import io.micronaut.http.HttpStatus;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.BackupProgress;
import io.pgvault.core.backup.BackupWriter;
import io.pgvault.core.util.ByteSize;
import io.pgvault.core.compress.Codec;
import io.pgvault.core.pgproto.BaseBackupOptions;
import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.spool.SpoolBudget;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.server.api.ApiException;
import io.pgvault.server.catalog.BackupHistory;
import io.pgvault.server.catalog.BackupRow;
import io.pgvault.server.catalog.Catalog;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.config.ServerIdentity;
import io.pgvault.server.events.ClusterEvent;
import io.pgvault.server.events.ClusterEvents;
import io.pgvault.server.repository.RepositoryInitializer;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Takes base backups over the replication protocol (no pg_basebackup binary), one at a
 * time per cluster, with a heartbeat in the catalog while each runs; lists and deletes
 * them, and has {@link BackupRetention} apply the cluster's retention policy after each
 * backup. What servers left behind is reconciled by {@link BackupReconciler}.
 */
@Singleton
public class BackupService {

    private static final Logger LOG = LoggerFactory.getLogger(BackupService.class);
    private static final DateTimeFormatter ID_TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    /** A backup this server is taking or took since it started. */
    static final class Job {
        final String id;
        final String cluster;
        final Instant startedAt;
        final boolean incremental;
        /** The backup an incremental one builds on, once chosen: it may not be deleted meanwhile. */
        volatile String parentId;
        volatile String state = "running";
        volatile String error;
        volatile Instant finishedAt;
        /** Bytes received of the estimated total, while the backup streams. */
        volatile BackupProgress progress;
        /** Set when another server recorded this backup as failed (it thought this server gone) and may have removed its pieces. */
        volatile String disowned;
        /** Completed when the job is stored or failed: what a waiting GET blocks on. */
        final CompletableFuture<Void> ended = new CompletableFuture<>();

        Job(String id, String cluster, Instant startedAt, boolean incremental) {
            this.id = id;
            this.cluster = cluster;
            this.startedAt = startedAt;
            this.incremental = incremental;
        }

        String type() {
            return incremental ? "incremental" : "full";
        }
    }

    private final ClusterService clusters;
    private final BackupHistory history;
    private final Catalog catalog;
    private final MeterRegistry metrics;
    private final ClusterEvents events;
    private final ObjectStore store;
    private final Codec codec;
    private final RepositoryInitializer repository;
    private final Clock clock;
    private final SpoolBudget spool;
    private final long pieceBytes;
    private final boolean fastCheckpoint;
    private final BackupRetention retention;
    private final ServerIdentity server;
    private final Duration heartbeatInterval;
    private final Map<String, Job> jobs = new ConcurrentHashMap<>();
    private final Map<String, Job> running = new ConcurrentHashMap<>();
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "pgvault-backup");
        t.setDaemon(true);
        return t;
    });
    private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pgvault-backup-heartbeat");
        t.setDaemon(true);
        return t;
    });

    public BackupService(ClusterService clusters, BackupHistory history, Catalog catalog, MeterRegistry metrics, ClusterEvents events,
                         ObjectStore store, Codec codec, RepositoryInitializer repository, Clock clock, SpoolBudget spool, BackupRetention retention,
                         @Value("${pgvault.backup.piece-size:64MB}") String pieceSize,
                         @Value("${pgvault.backup.fast-checkpoint:true}") boolean fastCheckpoint,
                         ServerIdentity identity,
                         @Value("${pgvault.backup.heartbeat-interval:10s}") Duration heartbeatInterval) {
        this.clusters = clusters;
        this.history = history;
        this.catalog = catalog;
        this.metrics = metrics;
        this.events = events;
        this.store = store;
        this.codec = codec;
        this.repository = repository;
        this.clock = clock;
        this.spool = spool;
        this.pieceBytes = ByteSize.parse("pgvault.backup.piece-size", pieceSize);
        if (pieceBytes < MIN_PIECE_BYTES) {
            // Every piece is an object and a spool file, and a 1 GiB relation file would become thousands of ranges.
            throw new IllegalArgumentException("pgvault.backup.piece-size is " + pieceSize + "; use at least 1MB (the default is 64MB)");
        }
        long forTwoPieces = 2 * BackupWriter.spoolBytesPerPiece(pieceBytes);
        if (spool.maxBytes() < forTwoPieces) {
            // Not refused: it works, one piece at a time, each waiting for an empty spool.
            LOG.warn("pgvault.limits.spool-bytes ({}) holds fewer than two backup pieces of pgvault.backup.piece-size {} ({} each "
                    + "at most): backups will upload one piece at a time and wait for WAL pushes to leave the spool empty; raise it to {} "
                    + "or more", ByteSize.format(spool.maxBytes()), pieceSize, ByteSize.format(BackupWriter.spoolBytesPerPiece(pieceBytes)),
                    ByteSize.format(forTwoPieces));
        }
        this.fastCheckpoint = fastCheckpoint;
        this.retention = retention;
        if (heartbeatInterval.isNegative() || heartbeatInterval.isZero()) {
            throw new IllegalArgumentException("pgvault.backup.heartbeat-interval is " + heartbeatInterval + ": expected a positive duration, "
                    + "e.g. 10s (the default)");
        }
        this.server = identity;
        this.heartbeatInterval = heartbeatInterval;
    }

    /** How often a running backup's row says its server is alive. */
    Duration heartbeatInterval() {
        return heartbeatInterval;
    }

    /** Whether this server is taking backup {@code id} now. */
    boolean isRunningHere(String id) {
        return running.values().stream().anyMatch(j -> j.id.equals(id));
    }

    private static final long MIN_PIECE_BYTES = 1L << 20;

    /** Backups that failed, per cluster (registered at zero for every cluster by the cluster metrics). */
    public static final String FAILURES = "pgvault.backup.failures";

    /** Starts a full backup; refused with 409 while another backup of the cluster runs. */
    public BackupView start(String cluster) throws IOException {
        return start(cluster, false);
    }

    /**
     * Starts a backup; refused with 409 while another backup of the cluster runs.
     *
     * @param incremental only what changed since the cluster's newest backup (PostgreSQL 17+, see {@link IncrementalParent})
     */
    public BackupView start(String cluster, boolean incremental) throws IOException {
        ClusterRow row = clusters.require(cluster);
        if (row.conninfo() == null || row.conninfo().isBlank()) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "cluster '" + cluster
                    + "' has no conninfo, so pgvault cannot connect to take a backup: register it with --conninfo 'host=... user=...'");
        }
        repository.ensureReady();
        Instant now = clock.instant();
        Optional<BackupHistory.Running> elsewhere = runningElsewhere(row, now);
        if (elsewhere.isPresent()) {
            throw new ApiException(HttpStatus.CONFLICT, "a backup of cluster '" + cluster + "' is already running on pgvault server "
                    + elsewhere.get().serverId() + " (" + elsewhere.get().id() + ", started " + elsewhere.get().startedAt()
                    + "); wait for it: pgvault backups " + cluster);
        }
        String id = ID_TIME.format(now) + "-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(2);
        Job job = new Job(id, cluster, now, incremental);
        Job other = running.putIfAbsent(cluster, job);
        if (other != null) {
            throw new ApiException(HttpStatus.CONFLICT, "a backup of cluster '" + cluster + "' is already running (" + other.id
                    + ", started " + other.startedAt + "); wait for it: pgvault backups " + cluster);
        }
        try {
            history.started(row.id(), id, now, server.id(), job.type());
        } catch (RuntimeException e) {
            running.remove(cluster, job);
            throw e;
        }
        forgetOldJobs();
        jobs.put(id, job);
        events.changed(cluster);
        executor.submit(() -> run(job, row));
        return view(job);
    }

    /** Beyond this, pgvault's and PostgreSQL's clocks disagree enough to be worth a warning. */
    private static final Duration CLOCK_SKEW_WARNING = Duration.ofSeconds(2);

    /**
     * PostgreSQL's clock once BASE_BACKUP has ended (BackupManifest#pgFinishedAt), from the
     * walsender of this connection; null, with a warning, when it cannot be read: the backup is
     * kept, and a recovery to a target time then goes by pgvault's clock and the backup's WAL.
     */
    private Instant postgresClock(ReplicationConnection rc, String cluster, String backupId) {
        try {
            Optional<Instant> pg = rc.serverClock(10_000);
            if (pg.isEmpty()) {
                LOG.warn("Backup {} of {}: PostgreSQL's timeline ended twice while its clock was read; a recovery to a target time "
                        + "compares the target with pgvault's clock and the backup's WAL", backupId, cluster);
                return null;
            }
            Duration skew = Duration.between(clock.instant(), pg.get());
            if (skew.abs().compareTo(CLOCK_SKEW_WARNING) > 0) {
                LOG.warn("The clock of cluster {}'s PostgreSQL reads {}, {} {} pgvault's: recovery to a target time follows "
                        + "PostgreSQL's clock, which stamps the commits, but listings and schedules follow pgvault's; synchronize both "
                        + "machines' clocks (NTP)", cluster, pg.get(), skew.abs(), skew.isNegative() ? "behind" : "ahead of");
            }
            return pg.get();
        } catch (IOException | RuntimeException e) {
            // Never the backup's end: BASE_BACKUP succeeded, and the WAL still bounds what a target time may use.
            LOG.warn("Backup {} of {}: PostgreSQL's clock could not be read ({}); a recovery to a target time compares the target with "
                    + "pgvault's clock and the backup's WAL", backupId, cluster, e.toString());
            return null;
        }
    }

    private void run(Job job, ClusterRow row) {
        BackupWriter writer = null;
        ScheduledFuture<?> beating = heartbeats.scheduleWithFixedDelay(() -> beat(job), heartbeatInterval.toMillis(),
                heartbeatInterval.toMillis(), TimeUnit.MILLISECONDS);
        try (ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse(row.conninfo()), "pgvault backup")) {
            ReplicationConnection.SystemIdentity identity = rc.identifySystem();
            if (row.systemIdentifier() != null && !row.systemIdentifier().equals(identity.systemIdentifier())) {
                throw new IOException("the conninfo of cluster '" + row.name() + "' reaches the cluster with system identifier "
                        + identity.systemIdentifier() + ", but '" + row.name() + "' archives system identifier " + row.systemIdentifier()
                        + ": fix the conninfo");
            }
            long segmentSize = rc.walSegmentSize().bytes();
            BackupManifest.Parent parent = null;
            io.pgvault.core.backup.BackupFileIndex parentFiles = null;
            if (job.incremental) {
                BackupManifest parentBackup = IncrementalParent.prepare(rc, identity, store, row.name());
                job.parentId = parentBackup.backupId();
                parent = new BackupManifest.Parent(parentBackup.backupId(), parentBackup.startLsn(), parentBackup.startTimeline());
                if (!IncrementalParent.isNative(rc)) {
                    parentFiles = IncrementalParent.vouchedFor(IncrementalParent.parentFiles(store, row.name(), parentBackup),
                            history.fileIndex(clusters.require(row.name()).id(), parentBackup.backupId()), row.name());
                }
            }
            writer = new BackupWriter(store, codec, row.name(), job.id, spool, pieceBytes, "pgvault", clock).referenceUnchangedFiles(parentFiles);
            if (IncrementalParent.isNative(rc)) {
                writer.withoutFileIndex();
            }
            String label = "pgvault " + job.id;
            LOG.info("Backup {} of {} started ({})", job.id, row.name(), parent == null ? "full" : "incremental on " + parent.backupId());
            long streamStart = System.nanoTime();
            BackupProgress progress = new BackupProgress(writer);
            job.progress = progress;
            ReplicationConnection.BaseBackupResult result = rc.baseBackup(new BaseBackupOptions(label, fastCheckpoint, true).withProgress()
                    .withIncremental(job.incremental && parentFiles == null), progress);
            long streamEnd = System.nanoTime();
            beat(job); // now, not at the next interval: this server may have been paused past the heartbeat timeout
            if (job.disowned != null) {
                throw disowned(job.disowned);
            }
            Instant pgFinishedAt = postgresClock(rc, row.name(), job.id);
            BackupManifest manifest = writer.finish(label, identity.systemIdentifier(), rc.serverMajor(), segmentSize, result.end(),
                    result.endTimeline(), parent, pgFinishedAt);
            try {
                // The id now, not at the start: a catalog rebuild meanwhile numbers the clusters anew.
                long clusterId = clusters.require(row.name()).id();
                if (!history.completed(clusterId, BackupRow.stored(manifest))) {
                    // Failed by another server between the last heartbeat and now: it deletes the pieces, so the manifest goes too.
                    deleteBackupObjects(row.name(), job.id);
                    throw disowned(history.find(clusterId, job.id).map(BackupRow::reason).orElse("its row is gone"));
                }
                // Lost with the server before this line, the next incremental backup builds on the index without trusting its pieces.
                writer.fileIndexSha256().ifPresent(sha -> history.recordFileIndex(clusterId, job.id, sha));
            } catch (RuntimeException catalogDown) {
                // The backup is in the repository, which is the truth: keep it if it is whole (another server cut off
                // from this one may have failed it and removed pieces); the next start's reconciliation lists it.
                List<String> missing = missingPieces(store, row.name(), manifest);
                if (!missing.isEmpty()) {
                    deleteBackupObjects(row.name(), job.id);
                    throw new IOException("another pgvault server removed " + missing.size() + " of its pieces while it ran (the catalog "
                            + "could not be reached to record it as stored: " + catalogDown.getMessage() + ")");
                }
                LOG.error("Backup {} of {} is stored, but the catalog could not record it ({}); it is listed after the next start or "
                        + "a catalog rebuild", job.id, row.name(), catalogDown.getMessage());
            }
            job.finishedAt = clock.instant();
            job.state = "stored";
            events.changed(row.name());
            LOG.info("Backup {} of {} stored ({}): {} to {}, {} bytes raw, {} stored, {} pieces; BASE_BACKUP {} ms, manifest {} ms", job.id,
                    row.name(), manifest.type(), manifest.startLsn(), manifest.endLsn(), manifest.rawBytes(), manifest.storedBytes(), manifest.pieces().size(),
                    (streamEnd - streamStart) / 1_000_000, (System.nanoTime() - streamEnd) / 1_000_000);
        } catch (Exception | LinkageError e) {
            // LinkageError too: a job must never stay "running" forever.
            job.error = e.getMessage() == null ? e.toString() : e.getMessage();
            if (job.incremental && e instanceof io.pgvault.core.pgproto.PgServerException && job.error.contains("WAL summar")) {
                job.error += " (an incremental backup needs WAL summaries from its parent's start on: check summarize_wal and "
                        + "wal_summary_keep_time, or take a full backup)";
            }
            job.state = "failed";
            job.finishedAt = clock.instant();
            LOG.error("Backup {} of {} failed, nothing kept: {}", job.id, row.name(), e.getMessage());
            metrics.counter(FAILURES, "cluster", row.name()).increment();
            events.record(row.name(), new ClusterEvent(job.finishedAt, ClusterEvent.BACKUP_FAILED, null, job.id, job.error));
            try {
                history.failed(clusters.require(row.name()).id(), BackupRow.running(job.id, job.startedAt, job.type(), job.parentId),
                        job.finishedAt, job.error);
            } catch (RuntimeException catalogDown) {
                LOG.error("Backup {} of {}: the failure could not be recorded in the catalog: {}", job.id, row.name(), catalogDown.getMessage());
            }
            if (writer != null) {
                writer.abandon();
            } else {
                try {
                    deleteBackupObjects(row.name(), job.id);
                } catch (IOException ignored) {
                    // nothing was stored
                }
            }
        } finally {
            beating.cancel(false);
            running.remove(row.name(), job);
            job.ended.complete(null);
        }
        if ("stored".equals(job.state) && (row.retainFull() != null || row.retainDays() != null)) {
            try {
                retention.afterBackup(row.name(), job.id);
            } catch (Exception e) {
                LOG.error("Retention for {} after backup {} failed: {}", row.name(), job.id, e.getMessage());
            }
        }
    }

    /**
     * A backup of the cluster another server sharing the catalog is taking: recorded as running,
     * with a heartbeat from the last three intervals (an older one may be a dead server's, which
     * the reconciler fails in time; it does not block new backups).
     */
    private Optional<BackupHistory.Running> runningElsewhere(ClusterRow row, Instant now) {
        Instant alive = now.minus(heartbeatInterval.multipliedBy(3));
        return history.running().stream().filter(r -> r.clusterId() == row.id() && !server.id().equals(r.serverId()))
                .filter(r -> r.aliveAt().isAfter(alive)).findFirst();
    }

    private static IOException disowned(String reason) {
        return new IOException("another pgvault server recorded this backup as failed while it ran (" + reason + ") and may "
                + "have removed its pieces; check that the servers sharing the catalog reach it and have distinct pgvault.server-id");
    }

    /**
     * Tells the servers sharing the catalog that this backup is alive, so none of them fails
     * it; learns when one did (it judged this server gone: a catalog outage, a stalled JVM).
     */
    private void beat(Job job) {
        try {
            // Once ended, its row is this server's own outcome; once disowned, nothing more to learn.
            if (job.finishedAt == null && job.disowned == null && !history.heartbeat(job.id, server.id(), clock.instant())) {
                clusters.find(job.cluster).flatMap(c -> history.find(c.id(), job.id)).filter(b -> BackupRow.FAILED.equals(b.status()))
                        .filter(b -> job.finishedAt == null).ifPresent(b -> {
                            job.disowned = b.reason();
                            LOG.error("Backup {} of {} was recorded as failed by another server ({}): it will not be completed", job.id,
                                    job.cluster, b.reason());
                        });
            }
        } catch (RuntimeException e) {
            // A row without heartbeats is failed by the others after pgvault.backup.heartbeat-timeout.
            LOG.warn("Backup {} of {}: the heartbeat could not be recorded in the catalog: {}", job.id, job.cluster, e.getMessage());
        }
    }

    /** Finished jobs are kept for a while (a client may still ask how one ended) and then forgotten; the catalog keeps their outcome. */
    private void forgetOldJobs() {
        Instant hourAgo = clock.instant().minus(Duration.ofHours(1));
        jobs.values().removeIf(j -> j.finishedAt != null && j.finishedAt.isBefore(hourAgo));
        List<Job> finished = jobs.values().stream().filter(j -> j.finishedAt != null).sorted(Comparator.comparing((Job j) -> j.finishedAt))
                .toList();
        finished.subList(0, Math.max(0, finished.size() - KEPT_JOBS)).forEach(j -> jobs.remove(j.id, j));
    }

    private static final int KEPT_JOBS = 100;

    public Optional<Job> runningJob(String cluster) {
        return Optional.ofNullable(running.get(cluster));
    }

    /** Every backup of a cluster in the catalog's history: stored, running and failed, oldest first. */
    public List<BackupView> list(String cluster) {
        ClusterRow row = clusters.require(cluster);
        List<BackupView> views = new ArrayList<>();
        Set<String> listed = new HashSet<>();
        Map<String, Long> archived = history.archivedSegmentCounts(row.id());
        for (BackupRow b : history.list(row.id())) {
            // Complete when the index lists every segment of its range: only an incomplete one needs its first missing segment named.
            boolean complete = b.isStored() && archived.getOrDefault(b.id(), 0L) == segmentsOf(b);
            views.add(complete ? view(b, "complete", null) : view(row, b));
            listed.add(b.id());
        }
        // A backup running while the catalog was rebuilt has no row until it ends.
        jobs.values().stream().filter(j -> j.cluster.equals(cluster) && j.finishedAt == null && !listed.contains(j.id))
                .forEach(j -> views.add(view(j)));
        views.sort(Comparator.comparing(BackupView::id));
        return views;
    }

    /**
     * One backup; while it runs, waits up to {@code wait} for it to end first, so a client
     * learns the outcome when it happens instead of polling.
     */
    public BackupView get(String cluster, String id, Duration wait) throws IOException {
        Job job = jobs.get(id);
        if (job != null && job.cluster.equals(cluster) && !wait.isZero()) {
            try {
                job.ended.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException stillRunning) {
                // answer with its state as it is
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException e) {
                throw new IllegalStateException("a backup job's end is never exceptional", e);
            }
        }
        return get(cluster, id);
    }

    /** One backup, from the catalog's history (a running one with its progress). */
    public BackupView get(String cluster, String id) {
        ClusterRow row = clusters.require(cluster);
        Job job = jobs.get(id);
        Optional<BackupView> running = job != null && job.cluster.equals(cluster) && job.finishedAt == null ? Optional.of(view(job))
                : Optional.empty();
        return history.find(row.id(), id).map(b -> view(row, b)).or(() -> running).orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND,
                "cluster '" + cluster + "' has no backup " + id + "; pgvault backups " + cluster + " lists them"));
    }

    public void delete(String cluster, String id) throws IOException {
        delete(cluster, id, false);
    }

    /**
     * Deletes a backup. One that incremental backups build on is refused, naming them, unless
     * {@code cascade}: then they go too, newest first, so no listed backup ever lacks its parent.
     *
     * @return the ids deleted
     */
    public List<String> delete(String cluster, String id, boolean cascade) throws IOException {
        ClusterRow row = clusters.require(cluster);
        Job job = running.get(cluster);
        if (job != null && (job.id.equals(id) || id.equals(job.parentId))) {
            throw new ApiException(HttpStatus.CONFLICT, job.id.equals(id) ? "backup " + id + " is still running"
                    : "backup " + id + " is the parent of incremental backup " + job.id + ", which is running: wait for it to end");
        }
        if (BackupManifest.read(store, cluster, id).isEmpty()) {
            throw new ApiException(HttpStatus.NOT_FOUND, "cluster '" + cluster + "' has no backup " + id);
        }
        List<String> dependents = dependents(cluster, id);
        if (!dependents.isEmpty() && !cascade) {
            throw new ApiException(HttpStatus.CONFLICT, "backup " + id + " is the parent of incremental backup(s) " + String.join(", ", dependents)
                    + ", which cannot be restored without it: delete them first, or delete the whole chain with --cascade");
        }
        List<String> deleted = new ArrayList<>();
        List<String> childrenFirst = new ArrayList<>(dependents);
        java.util.Collections.reverse(childrenFirst);
        for (String victim : childrenFirst) {
            deleteBackupObjects(cluster, victim);
            history.delete(row.id(), victim);
            deleted.add(victim);
        }
        deleteBackupObjects(cluster, id);
        history.delete(row.id(), id);
        deleted.add(id);
        LOG.info("Deleted backup(s) {} of {}", deleted, cluster);
        return deleted;
    }

    /**
     * The backups that build on {@code id}, directly or not, each after the backup it builds on
     * (from the repository's manifests, the truth). Found by following the links, not by id
     * order: ids of backups of the same second sort by a random suffix, not by age.
     */
    private List<String> dependents(String cluster, String id) throws IOException {
        Map<String, List<String>> childrenOf = new HashMap<>();
        for (String other : BackupManifest.idsInRepository(store, cluster)) {
            try {
                BackupManifest.read(store, cluster, other).filter(BackupManifest::isIncremental)
                        .ifPresent(m -> childrenOf.computeIfAbsent(m.parent().backupId(), p -> new ArrayList<>()).add(other));
            } catch (CorruptObjectException e) {
                // A damaged manifest cannot be restored anyway; it does not hold its parent back.
            }
        }
        List<String> found = new ArrayList<>();
        java.util.Deque<String> parents = new java.util.ArrayDeque<>(List.of(id));
        while (!parents.isEmpty()) {
            for (String child : childrenOf.getOrDefault(parents.poll(), List.of())) {
                // (A crafted repository may loop; each backup is listed once.)
                if (!child.equals(id) && !found.contains(child)) {
                    found.add(child);
                    parents.add(child);
                }
            }
        }
        return found;
    }

    private void deleteBackupObjects(String cluster, String id) throws IOException {
        deleteBackupObjects(store, cluster, id);
    }

    static void deleteBackupObjects(ObjectStore store, String cluster, String id) throws IOException {
        // The manifest goes first: a half-deleted backup must not look restorable.
        store.delete(List.of(RepositoryLayout.backupManifest(cluster, id)));
        store.delete(store.list(RepositoryLayout.backupPrefix(cluster, id)).stream().map(ObjectStat::key).toList());
    }

    /**
     * The pieces {@code manifest} names that the repository does not hold: none for a backup
     * that is whole. A manifest whose pieces are gone is what a server leaves that completed a
     * backup another server had failed and cleaned up (it was paused, or cut off from the catalog).
     */
    static List<String> missingPieces(ObjectStore store, String cluster, BackupManifest manifest) throws IOException {
        Set<String> present = store.list(RepositoryLayout.backupPrefix(cluster, manifest.backupId())).stream().map(ObjectStat::key)
                .collect(java.util.stream.Collectors.toSet());
        return manifest.pieces().stream().map(BackupManifest.Piece::key).filter(key -> !present.contains(key)).toList();
    }

    /** What the cluster's retention policy keeps and deletes; applied unless {@code dryRun}. */
    public RetentionReport expire(String cluster, boolean dryRun) throws IOException {
        return retention.expire(cluster, dryRun);
    }

    private BackupView view(ClusterRow cluster, BackupRow b) {
        Job job = jobs.get(b.id());
        if (BackupRow.RUNNING.equals(b.status()) && job != null) {
            return view(job);
        }
        if (!b.isStored()) {
            return view(b, b.status(), b.reason());
        }
        Optional<WalFileName> missing = firstMissingSegment(cluster, b);
        return view(b, missing.isEmpty() ? "complete" : "incomplete", missing.map(m -> "WAL segment " + m + " (needed from "
                + Lsn.of(b.startLsn()) + " to " + Lsn.of(b.endLsn()) + ") is not archived yet; check archive_command").orElse(null));
    }

    private static long segmentsOf(BackupRow b) {
        WalSegmentSize size = new WalSegmentSize(b.walSegmentSize());
        return Lsn.of(b.endLsn()).plus(-1).segmentNumber(size) - Lsn.of(b.startLsn()).segmentNumber(size) + 1;
    }

    private static BackupView view(BackupRow b, String status, String reason) {
        return new BackupView(b.id(), status, reason, b.startedAt().toString(), b.finishedAt() == null ? null : b.finishedAt().toString(),
                b.finishedAt() == null ? null : Duration.between(b.startedAt(), b.finishedAt()).toMillis() / 1000.0,
                b.startLsn() == null ? null : Lsn.of(b.startLsn()).toString(), b.endLsn() == null ? null : Lsn.of(b.endLsn()).toString(),
                b.timeline(), b.rawBytes(), b.storedBytes(), b.pieces(), null, null, b.type(), b.parentId());
    }

    /** The first segment from the backup's start to its end that the catalog does not list: until it comes, the backup cannot be restored. */
    private Optional<WalFileName> firstMissingSegment(ClusterRow cluster, BackupRow b) {
        WalSegmentSize size = new WalSegmentSize(b.walSegmentSize());
        TimelineId tli = new TimelineId(b.timeline());
        long first = Lsn.of(b.startLsn()).segmentNumber(size);
        long last = Lsn.of(b.endLsn()).plus(-1).segmentNumber(size);
        Set<Long> archived = catalog.segmentNumbers(cluster.id(), tli.value(), first, last);
        for (long segment = first; segment <= last; segment++) {
            if (!archived.contains(segment)) {
                return Optional.of(WalFileName.segment(tli, segment, size));
            }
        }
        return Optional.empty();
    }

    private static BackupView view(Job job) {
        return new BackupView(job.id, job.state, job.error, job.startedAt.toString(), job.finishedAt == null ? null : job.finishedAt.toString(),
                job.finishedAt == null ? null : Duration.between(job.startedAt, job.finishedAt).toMillis() / 1000.0,
                null, null, null, null, null, null,
                job.progress == null ? null : job.progress.doneBytes(),
                job.progress == null ? null : job.progress.totalBytes().stream().boxed().findFirst().orElse(null),
                job.type(), job.parentId);
    }

    @PreDestroy
    void shutdown() {
        heartbeats.shutdownNow();
        executor.shutdownNow();
    }
}

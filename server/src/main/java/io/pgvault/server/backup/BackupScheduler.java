package io.pgvault.server.backup;

import io.micronaut.context.annotation.Value;
import io.micronaut.context.event.StartupEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.pgvault.server.catalog.BackupSlots;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.config.ClusterSettings;
import io.pgvault.server.lease.Lease;
import io.pgvault.server.lease.LeaseKeeper;
import io.pgvault.server.lease.LeaseListener;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Starts each cluster's backups on its cron schedules: full backups on one (e.g. {@code 0 2 * * 0})
 * and incremental ones on another (e.g. {@code 0 2 * * 1-6}), on the server holding the
 * cluster's lease.
 *
 * <ul>
 *   <li>Every second the holder looks for a slot (a time a schedule names) since it last looked;
 *       when both schedules name the same time the full backup runs.</li>
 *   <li>A slot is claimed in the catalog ({@link BackupSlots}) before its backup starts: of
 *       all servers, past and present holders, one runs it.</li>
 *   <li>A server that takes a lease over looks back {@code pgvault.backup.schedule-catch-up}
 *       (10 minutes; never before the cluster was registered) and runs the newest slot nobody
 *       claimed, once, for however many were missed while no server held the lease.</li>
 * </ul>
 */
@Singleton
public class BackupScheduler implements LeaseListener {

    private static final Logger LOG = LoggerFactory.getLogger(BackupScheduler.class);

    /** How long claims are kept: far past any catch-up, for the record. */
    private static final Duration CLAIMS_KEPT = Duration.ofDays(7);

    private final ClusterService clusters;
    private final BackupService backups;
    private final BackupReconciler reconciler;
    private final LeaseKeeper leases;
    private final BackupSlots slots;
    private final Clock clock;
    private final Duration catchUp;
    private final Map<String, String> configuredFull = new HashMap<>();
    private final Map<String, String> configuredIncremental = new HashMap<>();
    /** A cluster this server holds: its row as last seen, its schedules, and up to when they were looked at. */
    private record Watched(ClusterRow row, ScheduleSlots schedules, ZonedDateTime lookedUpTo) {
    }

    /** Per cluster this server holds; kept up to date by the lease events, so a tick reads nothing from the catalog. */
    private final Map<String, Watched> watched = new ConcurrentHashMap<>();
    private volatile Instant claimsPrunedAt = Instant.EPOCH;
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pgvault-backup-scheduler");
        t.setDaemon(true);
        return t;
    });

    public BackupScheduler(ClusterService clusters, BackupService backups, BackupReconciler reconciler, LeaseKeeper leases, BackupSlots slots,
                           Clock clock, @Value("${pgvault.backup.schedule-catch-up:10m}") Duration catchUp, List<ClusterSettings> settings) {
        if (catchUp.isNegative()) {
            throw new IllegalArgumentException("pgvault.backup.schedule-catch-up is " + catchUp + ": expected a duration such as 10m (0 turns catching up off)");
        }
        this.clusters = clusters;
        this.backups = backups;
        this.reconciler = reconciler;
        this.leases = leases;
        this.slots = slots;
        this.clock = clock;
        this.catchUp = catchUp;
        for (ClusterSettings s : settings) {
            if (s.getBackup().getSchedule() != null && !s.getBackup().getSchedule().isBlank()) {
                configuredFull.put(s.getName(), s.getBackup().getSchedule());
            }
            if (s.getBackup().getIncrementalSchedule() != null && !s.getBackup().getIncrementalSchedule().isBlank()) {
                configuredIncremental.put(s.getName(), s.getBackup().getIncrementalSchedule());
            }
        }
    }

    @EventListener
    void onStartup(StartupEvent event) {
        reconciler.start();
        leases.addListener(this);
        ticker.scheduleWithFixedDelay(this::tick, 1, 1, TimeUnit.SECONDS);
        Set<String> configured = new TreeSet<>(configuredFull.keySet());
        configured.addAll(configuredIncremental.keySet());
        configured.stream().filter(name -> clusters.find(name).isEmpty())
                .forEach(name -> LOG.warn("pgvault.clusters.{}.backup schedules are set, but no cluster '{}' is registered: "
                        + "register it with pgvault cluster add {} --conninfo '...' (the schedules start then)", name, name, name));
    }

    @PreDestroy
    void shutdown() {
        ticker.shutdownNow();
    }

    /** The cron expression full backups of {@code cluster} follow: the server's configuration wins over what cluster add stored. */
    public Optional<String> scheduleOf(ClusterRow cluster) {
        return Optional.ofNullable(configuredFull.getOrDefault(cluster.name(), cluster.backupSchedule())).filter(c -> !c.isBlank());
    }

    /** The cron expression incremental backups of {@code cluster} follow, likewise. */
    public Optional<String> incrementalScheduleOf(ClusterRow cluster) {
        return Optional.ofNullable(configuredIncremental.getOrDefault(cluster.name(), cluster.incrementalSchedule())).filter(c -> !c.isBlank());
    }

    @Override
    public void gained(ClusterRow cluster, Lease lease) {
        ZonedDateTime now = now();
        ZonedDateTime from = now.minus(catchUp);
        ZonedDateTime registered = cluster.createdAt().atZone(now.getZone());
        ScheduleSlots schedules = schedulesOf(cluster);
        watched.put(cluster.name(), new Watched(cluster, schedules, from.isBefore(registered) ? registered : from));
    }

    @Override
    public void changed(ClusterRow before, ClusterRow after, Lease lease) {
        watched.computeIfPresent(after.name(), (name, w) -> new Watched(after, schedulesOf(after), w.lookedUpTo()));
    }

    @Override
    public void lost(String cluster, Lease lease, String why) {
        watched.remove(cluster);
    }

    private ScheduleSlots schedulesOf(ClusterRow cluster) {
        ScheduleSlots schedules = new ScheduleSlots(scheduleOf(cluster), incrementalScheduleOf(cluster));
        if (schedules.any()) {
            LOG.info("Backups of {} scheduled here: full {}, incremental {}", cluster.name(), scheduleOf(cluster).orElse("never"),
                    incrementalScheduleOf(cluster).orElse("never"));
        }
        return schedules;
    }

    private ZonedDateTime now() {
        return ZonedDateTime.ofInstant(clock.instant(), ZoneId.systemDefault());
    }

    private void tick() {
        ZonedDateTime now = now();
        for (Map.Entry<String, Watched> entry : watched.entrySet()) {
            Watched w = entry.getValue();
            if (!w.schedules().any()) {
                continue;
            }
            try {
                Optional<Lease> lease = leases.lease(entry.getKey());
                if (lease.isEmpty()) {
                    continue;
                }
                Optional<ScheduleSlots.Due> due = w.schedules().latest(w.lookedUpTo(), now);
                watched.replace(entry.getKey(), w, new Watched(w.row(), w.schedules(), now));
                due.ifPresent(d -> run(w.row(), lease.get(), d));
            } catch (RuntimeException e) {
                LOG.error("Schedules of {} could not be looked at: {}", entry.getKey(), e.getMessage());
            }
        }
        pruneClaims(now.toInstant());
    }

    private void run(ClusterRow cluster, Lease lease, ScheduleSlots.Due due) {
        String kind = due.full() ? "full" : "incremental";
        Instant slot = due.at().toInstant();
        if (!slots.claim(cluster.id(), slot, kind, leases.serverId(), lease.token())) {
            LOG.debug("Backup slot {} of {} was claimed already", slot, cluster.name());
            return;
        }
        if (due.missed() > 0) {
            LOG.warn("{} backup slot(s) of {} passed while no server held its lease: the newest ({}) runs now", due.missed() + 1, cluster.name(),
                    slot);
        }
        if (backups.runningJob(cluster.name()).isPresent()) {
            LOG.warn("Scheduled {} backup of {} ({}) skipped: the previous one is still running", kind, cluster.name(), slot);
            return;
        }
        try {
            String id = backups.start(cluster.name(), !due.full()).id();
            slots.started(cluster.id(), slot, id);
        } catch (Exception e) {
            LOG.error("Scheduled {} backup of {} could not start: {}", kind, cluster.name(), e.getMessage());
        }
    }

    private void pruneClaims(Instant now) {
        if (Duration.between(claimsPrunedAt, now).compareTo(Duration.ofHours(1)) < 0) {
            return;
        }
        claimsPrunedAt = now;
        try {
            slots.forgetBefore(now.minus(CLAIMS_KEPT));
        } catch (RuntimeException e) {
            LOG.debug("Old backup slot claims not pruned: {}", e.getMessage());
        }
    }
}

package io.pgvault.server.backup;

import io.micronaut.context.event.StartupEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.micronaut.scheduling.TaskScheduler;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterListener;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.config.ClusterSettings;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;

/**
 * Starts each cluster's backups on its cron schedules: full backups on one (e.g. {@code 0 2 * * 0})
 * and incremental ones on another (e.g. {@code 0 2 * * 1-6}). When both fall on the same minute
 * the full backup runs and the incremental one is skipped: it would only build on the backup
 * before.
 */
@Singleton
public class BackupScheduler implements ClusterListener {

    private static final Logger LOG = LoggerFactory.getLogger(BackupScheduler.class);

    private final ClusterService clusters;
    private final BackupService backups;
    private final BackupReconciler reconciler;
    private final TaskScheduler scheduler;
    private final Map<String, String> configuredFull = new HashMap<>();
    private final Map<String, String> configuredIncremental = new HashMap<>();
    /** Per cluster, the scheduled tasks (full, then incremental). */
    private final Map<String, List<ScheduledFuture<?>>> scheduled = new ConcurrentHashMap<>();

    public BackupScheduler(ClusterService clusters, BackupService backups, BackupReconciler reconciler, @Named("scheduled") TaskScheduler scheduler,
                           List<ClusterSettings> settings) {
        this.clusters = clusters;
        this.backups = backups;
        this.reconciler = reconciler;
        this.scheduler = scheduler;
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
        clusters.list().forEach(this::schedule);
        clusters.addListener(this);
        java.util.Set<String> configured = new java.util.TreeSet<>(configuredFull.keySet());
        configured.addAll(configuredIncremental.keySet());
        configured.stream().filter(name -> clusters.list().stream().noneMatch(c -> c.name().equals(name)))
                .forEach(name -> LOG.warn("pgvault.clusters.{}.backup schedules are set, but no cluster '{}' is registered: "
                        + "register it with pgvault cluster add {} --conninfo '...' (the schedules start then)", name, name, name));
    }

    @Override
    public void registered(ClusterRow cluster) {
        schedule(cluster);
    }

    @Override
    public void updated(ClusterRow before, ClusterRow after) {
        schedule(after);
    }

    @Override
    public List<String> removing(ClusterRow cluster) {
        if (cancel(cluster.name())) {
            LOG.info("Backups of {} no longer scheduled: the cluster is removed", cluster.name());
        }
        return List.of();
    }

    /** The cron expression full backups of {@code cluster} follow: the server's configuration wins over what cluster add stored. */
    public Optional<String> scheduleOf(ClusterRow cluster) {
        return Optional.ofNullable(configuredFull.getOrDefault(cluster.name(), cluster.backupSchedule())).filter(c -> !c.isBlank());
    }

    /** The cron expression incremental backups of {@code cluster} follow, likewise. */
    public Optional<String> incrementalScheduleOf(ClusterRow cluster) {
        return Optional.ofNullable(configuredIncremental.getOrDefault(cluster.name(), cluster.incrementalSchedule())).filter(c -> !c.isBlank());
    }

    private boolean cancel(String cluster) {
        List<ScheduledFuture<?>> tasks = scheduled.remove(cluster);
        if (tasks != null) {
            tasks.forEach(t -> t.cancel(false));
        }
        return tasks != null && !tasks.isEmpty();
    }

    private void schedule(ClusterRow cluster) {
        cancel(cluster.name());
        Optional<String> full = scheduleOf(cluster);
        Optional<String> incremental = incrementalScheduleOf(cluster);
        List<ScheduledFuture<?>> tasks = new java.util.ArrayList<>();
        full.ifPresent(cron -> tasks.add(scheduler.schedule(cron, () -> start(cluster.name(), false))));
        incremental.ifPresent(cron -> tasks.add(scheduler.schedule(cron, () -> {
            if (full.isPresent() && firesThisMinute(full.get())) {
                LOG.info("Scheduled incremental backup of {} skipped: a full backup is scheduled for the same minute", cluster.name());
                return;
            }
            start(cluster.name(), true);
        })));
        scheduled.put(cluster.name(), tasks);
        if (!tasks.isEmpty()) {
            LOG.info("Backups of {} scheduled: full {}, incremental {}", cluster.name(), full.orElse("never"), incremental.orElse("never"));
        }
    }

    private void start(String cluster, boolean incremental) {
        if (backups.runningJob(cluster).isPresent()) {
            LOG.warn("Scheduled {} backup of {} skipped: the previous one is still running", incremental ? "incremental" : "full", cluster);
            return;
        }
        try {
            backups.start(cluster, incremental);
        } catch (Exception e) {
            LOG.error("Scheduled {} backup of {} could not start: {}", incremental ? "incremental" : "full", cluster, e.getMessage());
        }
    }

    /** Whether {@code cron} fires in the current minute (the two tasks may run a few milliseconds apart, in either order). */
    private static boolean firesThisMinute(String cron) {
        java.time.ZonedDateTime minute = java.time.ZonedDateTime.now().truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
        java.time.ZonedDateTime next = io.micronaut.scheduling.cron.CronExpression.create(cron).nextTimeAfter(minute.minusSeconds(1));
        return next.equals(minute);
    }
}

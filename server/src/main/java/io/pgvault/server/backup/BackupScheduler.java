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

/** Starts each cluster's backups on its cron schedule (e.g. {@code 0 2 * * *}). */
@Singleton
public class BackupScheduler implements ClusterListener {

    private static final Logger LOG = LoggerFactory.getLogger(BackupScheduler.class);

    private final ClusterService clusters;
    private final BackupService backups;
    private final TaskScheduler scheduler;
    private final Map<String, String> configured = new HashMap<>();
    private final Map<String, ScheduledFuture<?>> scheduled = new ConcurrentHashMap<>();

    public BackupScheduler(ClusterService clusters, BackupService backups, @Named("scheduled") TaskScheduler scheduler,
                           List<ClusterSettings> settings) {
        this.clusters = clusters;
        this.backups = backups;
        this.scheduler = scheduler;
        for (ClusterSettings s : settings) {
            if (s.getBackup().getSchedule() != null && !s.getBackup().getSchedule().isBlank()) {
                configured.put(s.getName(), s.getBackup().getSchedule());
            }
        }
    }

    @EventListener
    void onStartup(StartupEvent event) {
        backups.reconcileHistory();
        clusters.list().forEach(this::schedule);
        clusters.addListener(this);
        configured.keySet().stream().filter(name -> clusters.list().stream().noneMatch(c -> c.name().equals(name)))
                .forEach(name -> LOG.warn("pgvault.clusters.{}.backup.schedule is set, but no cluster '{}' is registered: "
                        + "register it with pgvault cluster add {} --conninfo '...' (the schedule starts then)", name, name, name));
    }

    @Override
    public void registered(ClusterRow cluster) {
        schedule(cluster);
    }

    @Override
    public List<String> removing(ClusterRow cluster) {
        ScheduledFuture<?> task = scheduled.remove(cluster.name());
        if (task != null) {
            task.cancel(false);
            LOG.info("Backups of {} no longer scheduled: the cluster is removed", cluster.name());
        }
        return List.of();
    }

    /** The cron expression backups of {@code cluster} follow: the server's configuration wins over what cluster add stored. */
    public Optional<String> scheduleOf(ClusterRow cluster) {
        return Optional.ofNullable(configured.getOrDefault(cluster.name(), cluster.backupSchedule())).filter(c -> !c.isBlank());
    }

    private void schedule(ClusterRow cluster) {
        String cron = scheduleOf(cluster).orElse(null);
        if (cron == null) {
            return;
        }
        ScheduledFuture<?> previous = scheduled.put(cluster.name(), scheduler.schedule(cron, () -> {
            if (backups.runningJob(cluster.name()).isPresent()) {
                LOG.warn("Scheduled backup of {} skipped: the previous one is still running", cluster.name());
                return;
            }
            try {
                backups.start(cluster.name());
            } catch (Exception e) {
                LOG.error("Scheduled backup of {} could not start: {}", cluster.name(), e.getMessage());
            }
        }));
        if (previous != null) {
            previous.cancel(false);
        }
        LOG.info("Backups of {} scheduled: {}", cluster.name(), cron);
    }
}

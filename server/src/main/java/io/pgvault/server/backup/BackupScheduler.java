package io.pgvault.server.backup;

import io.micronaut.context.event.StartupEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.micronaut.scheduling.TaskScheduler;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterService;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts each cluster's backups on its cron schedule (e.g. {@code 0 2 * * *}). */
@Singleton
public class BackupScheduler {

    private static final Logger LOG = LoggerFactory.getLogger(BackupScheduler.class);

    private final ClusterService clusters;
    private final BackupService backups;
    private final TaskScheduler scheduler;

    public BackupScheduler(ClusterService clusters, BackupService backups, @Named("scheduled") TaskScheduler scheduler) {
        this.clusters = clusters;
        this.backups = backups;
        this.scheduler = scheduler;
    }

    @EventListener
    void onStartup(StartupEvent event) {
        backups.cleanUpInterrupted();
        clusters.list().forEach(this::schedule);
        clusters.onRegistered(this::schedule);
    }

    private void schedule(ClusterRow cluster) {
        if (cluster.backupSchedule() == null || cluster.backupSchedule().isBlank()) {
            return;
        }
        scheduler.schedule(cluster.backupSchedule(), () -> {
            if (backups.runningJob(cluster.name()).isPresent()) {
                LOG.warn("Scheduled backup of {} skipped: the previous one is still running", cluster.name());
                return;
            }
            try {
                backups.start(cluster.name());
            } catch (Exception e) {
                LOG.error("Scheduled backup of {} could not start: {}", cluster.name(), e.getMessage());
            }
        });
        LOG.info("Backups of {} scheduled: {}", cluster.name(), cluster.backupSchedule());
    }
}

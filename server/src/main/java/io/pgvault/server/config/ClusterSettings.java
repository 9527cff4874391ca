package io.pgvault.server.config;

import io.micronaut.context.annotation.EachProperty;
import io.micronaut.context.annotation.Parameter;
import io.micronaut.core.annotation.Nullable;

/**
 * {@code pgvault.clusters.NAME.*}: per-cluster settings in the server's configuration,
 * e.g. {@code pgvault.clusters.main.backup.schedule: "0 2 * * 0"} (full backups) and
 * {@code backup.incremental-schedule: "0 2 * * 1-6"}. A schedule here overrides the one given
 * at {@code cluster add}; the cluster must be registered.
 */
@EachProperty("pgvault.clusters")
public class ClusterSettings {

    private final String name;
    private Backup backup = new Backup();

    public ClusterSettings(@Parameter String name) {
        this.name = name;
    }

    public String getName() {
        return name;
    }

    public Backup getBackup() {
        return backup;
    }

    public void setBackup(Backup backup) {
        this.backup = backup;
    }

    /** {@code pgvault.clusters.NAME.backup.*}. */
    @io.micronaut.context.annotation.ConfigurationProperties("backup")
    public static class Backup {
        @Nullable
        private String schedule;

        public String getSchedule() {
            return schedule;
        }

        public void setSchedule(String schedule) {
            this.schedule = schedule;
        }

        @Nullable
        private String incrementalSchedule;

        /** {@code pgvault.clusters.NAME.backup.incremental-schedule}: cron expression of incremental backups. */
        public String getIncrementalSchedule() {
            return incrementalSchedule;
        }

        public void setIncrementalSchedule(String incrementalSchedule) {
            this.incrementalSchedule = incrementalSchedule;
        }
    }
}

package io.pgvault.server.catalog;

import io.micronaut.serde.annotation.Serdeable;
import io.pgvault.core.repo.ClusterDescriptor;

import java.time.Instant;

/**
 * A registered cluster as the catalog holds it.
 *
 * @param stream whether the server follows it over streaming replication
 * @param slot the physical slot it streams from (set whenever {@code stream} is)
 * @param backupSchedule cron expression of its full backups
 * @param incrementalSchedule cron expression of its incremental backups
 */
@Serdeable
public record ClusterRow(long id, String name, String conninfo, String systemIdentifier, Long walSegmentSize, Integer pgMajor,
                         Instant createdAt, String backupSchedule, Integer retainFull, Integer retainDays, boolean stream, String slot,
                         String incrementalSchedule) {

    public ClusterRow(long id, String name, String conninfo, String systemIdentifier, Long walSegmentSize, Integer pgMajor, Instant createdAt,
                      String backupSchedule, Integer retainFull, Integer retainDays, boolean stream, String slot) {
        this(id, name, conninfo, systemIdentifier, walSegmentSize, pgMajor, createdAt, backupSchedule, retainFull, retainDays, stream, slot, null);
    }

    /** The same row with any password removed from the connection string, for output. */
    public ClusterRow redacted() {
        return new ClusterRow(id, name, ClusterDescriptor.withoutPassword(conninfo), systemIdentifier, walSegmentSize, pgMajor, createdAt,
                backupSchedule, retainFull, retainDays, stream, slot, incrementalSchedule);
    }

    /** What the repository records of this cluster ({@code cluster.json}). */
    public ClusterDescriptor descriptor() {
        return new ClusterDescriptor(name, conninfo, systemIdentifier, walSegmentSize, pgMajor, createdAt.toString(), backupSchedule, retainFull,
                retainDays, stream ? Boolean.TRUE : null, slot, null, incrementalSchedule);
    }
}

package io.pgvault.server.catalog;

import io.micronaut.serde.annotation.Serdeable;

import java.time.Instant;

/** A registered cluster as the catalog holds it. */
@Serdeable
public record ClusterRow(long id, String name, String conninfo, String systemIdentifier, Long walSegmentSize, Integer pgMajor,
                         Instant createdAt, String backupSchedule, Integer retainFull, Integer retainDays) {

    /** The same row with any password removed from the connection string, for output. */
    public ClusterRow redacted() {
        return new ClusterRow(id, name, io.pgvault.core.repo.ClusterDescriptor.withoutPassword(conninfo), systemIdentifier, walSegmentSize,
                pgMajor, createdAt, backupSchedule, retainFull, retainDays);
    }
}

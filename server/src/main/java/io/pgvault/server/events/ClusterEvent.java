package io.pgvault.server.events;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.time.Instant;

/**
 * Something a DBA should see on a cluster's page: a refused or failed push, a failed backup.
 *
 * @param kind {@code refusal} (bad or foreign WAL: 4xx), {@code failure} (the server or repository failed: 5xx), {@code backup-failed}
 * @param status the HTTP status the push got; null for a backup
 * @param file the WAL file of a push, or the backup's id
 */
@Serdeable
public record ClusterEvent(Instant at, String kind, @Nullable Integer status, @Nullable String file, String message) {

    public static final String REFUSAL = "refusal";
    public static final String FAILURE = "failure";
    public static final String BACKUP_FAILED = "backup-failed";

    public boolean isPush() {
        return REFUSAL.equals(kind) || FAILURE.equals(kind);
    }
}

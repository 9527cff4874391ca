package io.pgvault.server.stream;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.time.Instant;

/**
 * The slot as the cluster reports it ({@code pg_replication_slots}).
 *
 * @param walStatus PostgreSQL's {@code wal_status}: reserved, extended, unreserved or lost
 * @param retainedBytes WAL the cluster keeps for the slot (its current position minus restart_lsn)
 * @param lagBytes WAL the cluster has written that the repository does not hold yet
 * @param warning set when retained WAL passed the configured threshold, or the slot is missing or lost
 */
@Serdeable
public record SlotHealth(boolean exists, boolean active, @Nullable String walStatus, @Nullable String restartLsn, @Nullable Long retainedBytes,
                         @Nullable Long lagBytes, Instant checkedAt, @Nullable String error, @Nullable String warning) {
}

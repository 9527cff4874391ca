package io.pgvault.server.stream;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.time.Instant;

/**
 * How the server follows one cluster, as {@code GET /v1/clusters/{name}/stream} and
 * {@code pgvault cluster show} report it.
 *
 * @param state off, connecting, streaming, retrying or stopped
 * @param flushedLsn the end of what the repository holds durably (what PostgreSQL was told is flushed)
 * @param lastError why the last connection failed, with what to do
 * @param caughtUpAt the newest time by which everything the cluster had written is stored (from the slot checks'
 *     samples of its WAL position): the streaming RPO is the time since
 */
@Serdeable
public record StreamStatus(String cluster, @Nullable String slot, String state, @Nullable Long timeline, @Nullable String flushedLsn,
                           @Nullable Instant lastFlushAt, @Nullable Instant connectedSince, long reconnects, @Nullable String lastError,
                           @Nullable Instant lastErrorAt, @Nullable SlotHealth slotHealth, @Nullable Instant caughtUpAt) {

    public static StreamStatus off(String cluster) {
        return new StreamStatus(cluster, null, "off", null, null, null, null, 0, null, null, null, null);
    }
}

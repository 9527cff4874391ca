package io.pgvault.server.stream;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.time.Instant;

/**
 * How the server follows one cluster, as {@code GET /v1/clusters/{name}/stream} and
 * {@code pgvault cluster show} report it.
 *
 * @param state off, connecting, streaming, retrying or stopped; {@code elsewhere} when another server holds the
 *     cluster's lease and streams it (several servers on one catalog)
 * @param flushedLsn the end of what the repository holds durably (what PostgreSQL was told is flushed)
 * @param lastError why the last connection failed, with what to do
 * @param caughtUpAt the newest time by which everything the cluster had written is stored (from the slot checks'
 *     samples of its WAL position): the streaming RPO is the time since
 * @param server the server that streams the cluster (this one, or the lease holder when {@code elsewhere})
 */
@Serdeable
public record StreamStatus(String cluster, @Nullable String slot, String state, @Nullable Long timeline, @Nullable String flushedLsn,
                           @Nullable Instant lastFlushAt, @Nullable Instant connectedSince, long reconnects, @Nullable String lastError,
                           @Nullable Instant lastErrorAt, @Nullable SlotHealth slotHealth, @Nullable Instant caughtUpAt,
                           @Nullable String server) {

    public static final String ELSEWHERE = "elsewhere";

    public static StreamStatus off(String cluster) {
        return new StreamStatus(cluster, null, "off", null, null, null, null, 0, null, null, null, null, null);
    }

    /** Streamed by {@code server}, which holds the cluster's lease: ask it for the details. */
    public static StreamStatus elsewhere(String cluster, String slot, String server) {
        return new StreamStatus(cluster, slot, ELSEWHERE, null, null, null, null, 0, null, null, null, null, server);
    }

    /** Whether a server streams the cluster (this one, or the lease holder). */
    public boolean followed() {
        return "streaming".equals(state) || ELSEWHERE.equals(state);
    }
}

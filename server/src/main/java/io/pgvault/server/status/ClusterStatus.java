package io.pgvault.server.status;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import io.pgvault.server.events.ClusterEvent;

import java.time.Instant;
import java.util.List;

/**
 * Can this cluster be recovered, to when, and what is wrong: what the dashboard's overview
 * shows per cluster, {@code GET /v1/status} answers and the per-cluster metrics read.
 * Built from the catalog and the server's memory only, never from the repository or the
 * cluster, so it is cheap enough to ask every few seconds.
 *
 * @param health {@code ok}, {@code warning} or {@code critical}
 * @param reasons one line per problem, worst first; empty when ok
 * @param timelines only on the cluster's own page: each timeline's archived stretch and its holes
 * @param walArrivals only on the cluster's own page: WAL per hour over the last day
 * @param events only on the cluster's own page: recent refusals and failures, newest first
 */
@Serdeable
public record ClusterStatus(String name, String health, List<String> reasons, Archiving archiving, @Nullable Streaming streaming,
                            Backups backups, Window window, Storage storage, @Nullable List<TimelineWindow> timelines,
                            @Nullable List<HourOfWal> walArrivals, @Nullable List<ClusterEvent> events) {

    public static final String OK = "ok";
    public static final String WARNING = "warning";
    public static final String CRITICAL = "critical";

    /**
     * @param state {@code ok}; {@code idle}: nothing for longer than {@code pgvault.monitoring.archive-stale};
     *     {@code failing}: the newest push was refused or failed; {@code never}: nothing archived yet
     */
    @Serdeable
    public record Archiving(String state, @Nullable Instant lastArchivedAt, @Nullable String lastFile, long walFiles,
                            @Nullable ClusterEvent lastRefusal) {
    }

    /**
     * @param rpoSeconds how much time a lost primary would cost now: zero while the stored position matches the cluster's,
     *     else the time since it last did
     */
    @Serdeable
    public record Streaming(String state, @Nullable String flushedLsn, @Nullable Long lagBytes, @Nullable Double rpoSeconds,
                            @Nullable String slot, @Nullable Long slotRetainedBytes, @Nullable String lastError) {
    }

    /** The newest complete backup: restorable, its WAL all archived. */
    @Serdeable
    public record LastSuccess(String id, Instant finishedAt, double durationSeconds, long rawBytes, long storedBytes) {
    }

    @Serdeable
    public record LastFailure(String id, Instant at, @Nullable String reason) {
    }

    /** @param overdue a scheduled backup is missing (the next due time passed with a grace of an hour, and none runs) */
    @Serdeable
    public record Backups(int count, @Nullable String running, @Nullable LastSuccess lastSuccess, @Nullable LastFailure lastFailure,
                          @Nullable String schedule, @Nullable Instant nextDueAt, boolean overdue) {
    }

    /**
     * @param start when the oldest complete backup finished: the earliest time a recovery can reach
     * @param end the newest WAL stored (a streamed cluster's last flush, else the last archived file's arrival)
     * @param gaps holes in the archived segments after the newest complete backup: a recovery to the latest point stops at the
     *     first; a new backup clears them (older holes only split the window: see {@code timelines})
     */
    @Serdeable
    public record Window(@Nullable Instant start, @Nullable Instant end, int gaps) {
    }

    @Serdeable
    public record Storage(long walRawBytes, long walStoredBytes, long backupRawBytes, long backupStoredBytes, long storedBytes,
                          @Nullable Double compressionRatio) {
    }

    @Serdeable
    public record Gap(String from, String to, @Nullable Instant after, @Nullable Instant before) {
    }

    @Serdeable
    public record TimelineWindow(long timeline, @Nullable Instant start, @Nullable Instant end, String firstSegment, String lastSegment,
                                 List<Gap> gaps) {
    }

    @Serdeable
    public record HourOfWal(Instant hour, long files, long rawBytes) {
    }

    ClusterStatus withDetail(List<TimelineWindow> timelines, List<HourOfWal> arrivals, List<ClusterEvent> recent) {
        return new ClusterStatus(name, health, reasons, archiving, streaming, backups, window, storage, timelines, arrivals, recent);
    }
}

package io.pgvault.server.catalog;

import jakarta.inject.Singleton;

import javax.sql.DataSource;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the catalog's WAL index says about a cluster as a whole: totals, arrivals over
 * time, the stretch each timeline covers and the segments missing inside it. Aggregated
 * in SQL, so a cluster with a hundred thousand segments costs a few rows, not a listing.
 */
@Singleton
public class WalStatistics {

    /** Every file the cluster archived: count, sizes, and the newest arrival. */
    public record Totals(long files, long rawBytes, long storedBytes, Instant lastArrivedAt, String lastFile) {
    }

    /** One timeline's archived segments: first and last number, and when they arrived. */
    public record TimelineSpan(long timeline, long firstSegment, long lastSegment, Instant firstArrivedAt, Instant lastArrivedAt) {
    }

    /** Segments missing between two archived ones on a timeline: {@code after} and {@code before} are the ones present. */
    public record SegmentGap(long timeline, long after, long before, Instant afterArrivedAt, Instant beforeArrivedAt) {
    }

    /** A file's arrival: when, and its raw size. */
    public record Arrival(Instant at, long rawBytes) {
    }

    private final DataSource dataSource;

    public WalStatistics(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    public Totals totals(long clusterId) {
        Totals sums = Sql.query(dataSource, "SELECT COUNT(*), COALESCE(SUM(raw_size), 0), COALESCE(SUM(stored_size), 0), MAX(arrived_at) "
                + "FROM wal_files WHERE cluster_id = ?", rs -> new Totals(rs.getLong(1), rs.getLong(2), rs.getLong(3), Sql.instant(rs, 4), null),
                clusterId).get(0);
        String last = Sql.query(dataSource, "SELECT name FROM wal_files WHERE cluster_id = ? ORDER BY arrived_at DESC, name DESC LIMIT 1",
                rs -> rs.getString(1), clusterId).stream().findFirst().orElse(null);
        return new Totals(sums.files(), sums.rawBytes(), sums.storedBytes(), sums.lastArrivedAt(), last);
    }

    public List<Arrival> arrivalsSince(long clusterId, Instant since) {
        return Sql.query(dataSource, "SELECT arrived_at, raw_size FROM wal_files WHERE cluster_id = ? AND arrived_at >= ? ORDER BY arrived_at",
                rs -> new Arrival(Sql.instant(rs, 1), rs.getLong(2)), clusterId, since);
    }

    public List<TimelineSpan> timelines(long clusterId) {
        return Sql.query(dataSource, "SELECT timeline, MIN(segment_number), MAX(segment_number), MIN(arrived_at), MAX(arrived_at) FROM wal_files "
                + "WHERE cluster_id = ? AND kind = 'SEGMENT' GROUP BY timeline ORDER BY timeline",
                rs -> new TimelineSpan(rs.getLong(1), rs.getLong(2), rs.getLong(3), Sql.instant(rs, 4), Sql.instant(rs, 5)), clusterId);
    }

    /** The lowest-numbered segment on {@code timeline} stored after {@code time}. */
    public Optional<Long> firstSegmentArrivedAfter(long clusterId, long timeline, Instant time) {
        return Sql.query(dataSource, "SELECT MIN(segment_number) FROM wal_files WHERE cluster_id = ? AND kind = 'SEGMENT' AND timeline = ? "
                + "AND arrived_at > ?", rs -> rs.getObject(1, Long.class), clusterId, timeline, time).stream().filter(Objects::nonNull)
                .findFirst();
    }

    /** Holes in each timeline's run of segments, from segment {@code from} on. */
    public List<SegmentGap> gaps(long clusterId, long from) {
        return Sql.query(dataSource, "SELECT timeline, previous, segment_number, previous_at, arrived_at FROM ("
                + "SELECT timeline, segment_number, arrived_at, "
                + "LAG(segment_number) OVER (PARTITION BY timeline ORDER BY segment_number) AS previous, "
                + "LAG(arrived_at) OVER (PARTITION BY timeline ORDER BY segment_number) AS previous_at "
                + "FROM wal_files WHERE cluster_id = ? AND kind = 'SEGMENT' AND segment_number >= ?) runs "
                + "WHERE segment_number - previous > 1 ORDER BY timeline, segment_number",
                rs -> new SegmentGap(rs.getLong(1), rs.getLong(2), rs.getLong(3), Sql.instant(rs, 4), Sql.instant(rs, 5)), clusterId, from);
    }
}

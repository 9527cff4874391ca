package io.pgvault.server.catalog;

import jakarta.inject.Singleton;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The catalog: an index of clusters and archived WAL over JDBC, the same SQL on H2 and
 * PostgreSQL. The repository stays the truth; {@code CatalogRebuilder} refills this from it.
 */
@Singleton
public class Catalog {

    private static final String CLUSTER_COLUMNS =
            "id, name, conninfo, system_identifier, wal_segment_size, pg_major, created_at, backup_schedule, retain_full, retain_days, stream, slot_name, "
            + "incremental_schedule";

    private final DataSource dataSource;

    public Catalog(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    public Optional<ClusterRow> findCluster(String name) {
        return query("SELECT " + CLUSTER_COLUMNS + " FROM clusters WHERE name = ?",
                Catalog::cluster, name).stream().findFirst();
    }

    public List<ClusterRow> listClusters() {
        return query("SELECT " + CLUSTER_COLUMNS + " FROM clusters ORDER BY name",
                Catalog::cluster);
    }

    /** Inserts a cluster; false when the name is taken. */
    public boolean insertCluster(String name, String conninfo, String systemIdentifier, Long segmentSize, Integer major, Instant createdAt) {
        try (Connection c = dataSource.getConnection()) {
            return insertCluster(c, name, conninfo, systemIdentifier, segmentSize, major, createdAt);
        } catch (SQLException e) {
            throw new CatalogException("cannot register cluster " + name + " in the catalog: " + e.getMessage(), e);
        }
    }

    private static boolean insertCluster(Connection c, String name, String conninfo, String systemIdentifier, Long segmentSize, Integer major,
                                         Instant createdAt) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO clusters (name, conninfo, system_identifier, wal_segment_size, pg_major, created_at) "
                     + "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")) {
            ps.setString(1, name);
            ps.setString(2, conninfo);
            ps.setString(3, systemIdentifier);
            setLong(ps, 4, segmentSize);
            if (major == null) {
                ps.setNull(5, Types.INTEGER);
            } else {
                ps.setInt(5, major);
            }
            ps.setTimestamp(6, Timestamp.from(createdAt));
            return ps.executeUpdate() == 1;
        }
    }

    /** Sets a cluster's backup schedules (full and incremental) and retention policy (nulls clear them). */
    public void updatePolicy(long clusterId, String schedule, String incrementalSchedule, Integer retainFull, Integer retainDays) {
        try (Connection c = dataSource.getConnection()) {
            updatePolicy(c, clusterId, schedule, incrementalSchedule, retainFull, retainDays);
        } catch (SQLException e) {
            throw new CatalogException("cannot update the backup policy of cluster " + clusterId + ": " + e.getMessage(), e);
        }
    }

    private static void updatePolicy(Connection c, long clusterId, String schedule, String incrementalSchedule, Integer retainFull,
                                     Integer retainDays) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE clusters SET backup_schedule = ?, incremental_schedule = ?, retain_full = ?, "
                + "retain_days = ? WHERE id = ?")) {
            ps.setString(1, schedule);
            ps.setString(2, incrementalSchedule);
            ps.setObject(3, retainFull, Types.INTEGER);
            ps.setObject(4, retainDays, Types.INTEGER);
            ps.setLong(5, clusterId);
            ps.executeUpdate();
        }
    }

    /** Sets the connection string and whether (and from which slot) the server streams. */
    public void updateConnection(long clusterId, String conninfo, boolean stream, String slot) {
        try (Connection c = dataSource.getConnection()) {
            updateConnection(c, clusterId, conninfo, stream, slot);
        } catch (SQLException e) {
            throw new CatalogException("cannot update the connection of cluster " + clusterId + ": " + e.getMessage(), e);
        }
    }

    private static void updateConnection(Connection c, long clusterId, String conninfo, boolean stream, String slot) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE clusters SET conninfo = ?, stream = ?, slot_name = ? WHERE id = ?")) {
            ps.setString(1, conninfo);
            ps.setBoolean(2, stream);
            ps.setString(3, slot);
            ps.setLong(4, clusterId);
            ps.executeUpdate();
        }
    }

    /** Forgets a cluster and its index rows (the repository keeps its WAL and backups). */
    public void deleteCluster(long clusterId) {
        try (Connection c = dataSource.getConnection()) {
            for (String sql : List.of("DELETE FROM backups WHERE cluster_id = ?", "DELETE FROM wal_files WHERE cluster_id = ?", "DELETE FROM timelines WHERE cluster_id = ?",
                    "DELETE FROM clusters WHERE id = ?")) {
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    ps.setLong(1, clusterId);
                    ps.executeUpdate();
                }
            }
        } catch (SQLException e) {
            throw new CatalogException("cannot remove cluster " + clusterId + " from the catalog: " + e.getMessage(), e);
        }
    }

    /** Records what the first segment fixed; false if another push fixed it first. */
    public boolean fixIdentity(long clusterId, String systemIdentifier, long segmentSize, Integer major) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("UPDATE clusters SET system_identifier = ?, wal_segment_size = ?, pg_major = ? "
                     + "WHERE id = ? AND system_identifier IS NULL")) {
            ps.setString(1, systemIdentifier);
            ps.setLong(2, segmentSize);
            if (major == null) {
                ps.setNull(3, Types.INTEGER);
            } else {
                ps.setInt(3, major);
            }
            ps.setLong(4, clusterId);
            return ps.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new CatalogException("cannot record the identity of cluster " + clusterId + ": " + e.getMessage(), e);
        }
    }

    /** Indexes an archived file; a row that exists already is left as it is. */
    public void recordWal(long clusterId, WalRow row) {
        try (Connection c = dataSource.getConnection()) {
            recordWal(c, clusterId, row);
        } catch (SQLException e) {
            throw new CatalogException("cannot index " + row.name() + " in the catalog: " + e.getMessage(), e);
        }
    }

    private static void recordWal(Connection c, long clusterId, WalRow row) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO wal_files (cluster_id, name, kind, timeline, segment_number, start_lsn, "
                     + "raw_size, stored_size, codec, sha256, object_key, arrived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")) {
            ps.setLong(1, clusterId);
            ps.setString(2, row.name());
            ps.setString(3, row.kind());
            ps.setLong(4, row.timeline());
            setLong(ps, 5, row.segmentNumber());
            setLong(ps, 6, row.startLsn());
            ps.setLong(7, row.rawSize());
            ps.setLong(8, row.storedSize());
            ps.setString(9, row.codec());
            ps.setString(10, row.sha256());
            ps.setString(11, row.objectKey());
            ps.setTimestamp(12, Timestamp.from(row.arrivedAt()));
            ps.executeUpdate();
        }
    }

    /** A segment's place: its timeline and number. */
    public record SegmentPosition(long timeline, long segmentNumber) {
    }

    /** The last segment on the newest timeline that has any, or empty when none is archived. */
    public Optional<SegmentPosition> lastSegment(long clusterId) {
        return query("SELECT timeline, MAX(segment_number) FROM wal_files WHERE cluster_id = ? AND kind = 'SEGMENT' AND segment_number IS NOT NULL "
                + "GROUP BY timeline ORDER BY timeline DESC", rs -> new SegmentPosition(rs.getLong(1), rs.getLong(2)), clusterId).stream().findFirst();
    }

    /** The numbers of the segments the catalog lists on {@code timeline} from {@code first} to {@code last}. */
    public Set<Long> segmentNumbers(long clusterId, long timeline, long first, long last) {
        return new HashSet<>(query("SELECT segment_number FROM wal_files WHERE cluster_id = ? AND kind = 'SEGMENT' AND timeline = ? "
                + "AND segment_number BETWEEN ? AND ?", rs -> rs.getLong(1), clusterId, timeline, first, last));
    }

    /** When the file arrived, if the catalog has it. */
    public Optional<Instant> walArrival(long clusterId, String name) {
        return query("SELECT arrived_at FROM wal_files WHERE cluster_id = ? AND name = ?", rs -> rs.getTimestamp(1).toInstant(), clusterId, name)
                .stream().findFirst();
    }

    public List<WalRow> listWal(long clusterId) {
        return query("SELECT name, kind, timeline, segment_number, start_lsn, raw_size, stored_size, codec, sha256, object_key, arrived_at "
                + "FROM wal_files WHERE cluster_id = ? ORDER BY name", Catalog::wal, clusterId);
    }

    /** A cluster as a rebuild registers it: its descriptor's settings, the connection string to use, its archived files. */
    public record RebuiltCluster(String name, String conninfo, String systemIdentifier, Long segmentSize, Integer major, Instant createdAt,
                                 String schedule, Integer retainFull, Integer retainDays, boolean stream, String slot, List<WalRow> wal,
                                 List<BackupRow> backups, String incrementalSchedule) {
    }

    /**
     * Replaces the whole catalog with {@code clusters} in one transaction (backup history
     * included: what failed before is forgotten, the repository has no record of it): a rebuild that
     * fails midway leaves the catalog as it was, never empty (an empty catalog refuses
     * every push).
     */
    public void replaceAll(List<RebuiltCluster> clusters) {
        Sql.inTransaction(dataSource, "rebuild the catalog (it is unchanged)", c -> {
            for (String table : List.of("backups", "wal_files", "timelines", "clusters")) {
                Sql.update(c, "DELETE FROM " + table);
            }
            for (RebuiltCluster r : clusters) {
                insertCluster(c, r.name(), r.conninfo(), r.systemIdentifier(), r.segmentSize(), r.major(), r.createdAt());
                long id;
                try (PreparedStatement ps = c.prepareStatement("SELECT id FROM clusters WHERE name = ?")) {
                    ps.setString(1, r.name());
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        id = rs.getLong(1);
                    }
                }
                updatePolicy(c, id, r.schedule(), r.incrementalSchedule(), r.retainFull(), r.retainDays());
                updateConnection(c, id, r.conninfo(), r.stream(), r.slot());
                for (WalRow row : r.wal()) {
                    recordWal(c, id, row);
                }
                for (BackupRow backup : r.backups()) {
                    BackupHistory.insert(c, id, backup);
                }
            }
        });
    }

    private <T> List<T> query(String sql, Sql.RowMapper<T> mapper, Object... params) {
        return Sql.query(dataSource, sql, mapper, params);
    }

    private static ClusterRow cluster(ResultSet rs) throws SQLException {
        return new ClusterRow(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4), (Long) rs.getObject(5, Long.class),
                (Integer) rs.getObject(6, Integer.class), rs.getTimestamp(7).toInstant(), rs.getString(8), rs.getObject(9, Integer.class),
                rs.getObject(10, Integer.class), rs.getBoolean(11), rs.getString(12), rs.getString(13));
    }

    private static WalRow wal(ResultSet rs) throws SQLException {
        return new WalRow(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getObject(4, Long.class), rs.getObject(5, Long.class),
                rs.getLong(6), rs.getLong(7), rs.getString(8), rs.getString(9), rs.getString(10), rs.getTimestamp(11).toInstant());
    }

    private static void setLong(PreparedStatement ps, int index, Long value) throws SQLException {
        if (value == null) {
            ps.setNull(index, Types.BIGINT);
        } else {
            ps.setLong(index, value);
        }
    }
}

package io.pgvault.server.catalog;

import jakarta.inject.Singleton;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.pgvault.server.catalog.Sql.orNull;

/**
 * The catalog's record of backups: written as each one starts, ends or fails, so that
 * listings, the dashboard and the metrics need not read every manifest, and running and
 * failed backups survive a restart. The repository stays the truth for stored ones.
 */
@Singleton
public class BackupHistory {

    private static final String COLUMNS = "id, status, reason, started_at, finished_at, start_lsn, end_lsn, timeline, wal_segment_size, "
            + "raw_bytes, stored_bytes, pieces, backup_type, parent_id";

    private final DataSource dataSource;

    public BackupHistory(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** A running backup with no server recorded (as rows written before servers named themselves). */
    public void started(long clusterId, String id, Instant startedAt) {
        Sql.update(dataSource, "record the start of backup " + id, "INSERT INTO backups (cluster_id, id, status, started_at) VALUES (?, ?, ?, ?)",
                clusterId, id, BackupRow.RUNNING, startedAt);
    }

    /** A running backup taken by server {@code serverId}, alive as of its start. */
    public void started(long clusterId, String id, Instant startedAt, String serverId) {
        started(clusterId, id, startedAt, serverId, null);
    }

    /** The same, of a known type ({@code full} or {@code incremental}), which its row keeps however it ends. */
    public void started(long clusterId, String id, Instant startedAt, String serverId, String type) {
        Sql.update(dataSource, "record the start of backup " + id, "INSERT INTO backups (cluster_id, id, status, started_at, server_id, "
                + "heartbeat_at, backup_type) VALUES (?, ?, ?, ?, ?, ?, ?)", clusterId, id, BackupRow.RUNNING, startedAt, serverId, startedAt,
                orNull(type));
    }

    /**
     * A running backup's sign of life from the server taking it.
     *
     * @return whether its row is still running (false: another server failed it, or a rebuild dropped it)
     */
    public boolean heartbeat(String id, String serverId, Instant at) {
        return Sql.update(dataSource, "record the heartbeat of backup " + id, "UPDATE backups SET heartbeat_at = ? WHERE id = ? AND server_id = ? "
                + "AND status = ?", at, id, serverId, BackupRow.RUNNING) > 0;
    }

    /** A backup the catalog records as running, with who runs it and when that server last said so. */
    public record Running(long clusterId, String id, Instant startedAt, String serverId, Instant heartbeatAt) {

        /** The last sign of life: the heartbeat, or the start for rows without one. */
        public Instant aliveAt() {
            return heartbeatAt != null ? heartbeatAt : startedAt;
        }
    }

    /** Every backup recorded as running, of every cluster and server. */
    public List<Running> running() {
        return Sql.query(dataSource, "SELECT cluster_id, id, started_at, server_id, heartbeat_at FROM backups WHERE status = ? ORDER BY id",
                rs -> new Running(rs.getLong(1), rs.getString(2), Sql.instant(rs, 3), rs.getString(4), Sql.instant(rs, 5)), BackupRow.RUNNING);
    }

    /**
     * Fails a backup left running by a server that is gone, unless it ended meanwhile.
     *
     * @return whether it was still running (and is now failed)
     */
    public boolean abandoned(long clusterId, String id, Instant at, String reason) {
        return Sql.update(dataSource, "record backup " + id + " as abandoned", "UPDATE backups SET status = ?, reason = ?, finished_at = ? "
                + "WHERE cluster_id = ? AND id = ? AND status = ?", BackupRow.FAILED, reason, at, clusterId, id, BackupRow.RUNNING) > 0;
    }

    /**
     * Records a backup this server ran as stored, unless another server failed it meanwhile:
     * the catalog row is the one place both sides change, so exactly one of "stored" (here)
     * and "failed" (a server that judged this one gone, and deletes the pieces) wins. A row a
     * catalog rebuild dropped is written anew.
     *
     * @return false when another server failed it: its pieces may be gone, the backup must not stand (true
     *     when another server found it whole and recorded it as stored already)
     */
    public boolean completed(long clusterId, BackupRow row) {
        boolean[] won = {false};
        Sql.inTransaction(dataSource, "record backup " + row.id() + " as stored", c -> {
            int wasRunning = Sql.update(c, "DELETE FROM backups WHERE cluster_id = ? AND id = ? AND status = ?", clusterId, row.id(), BackupRow.RUNNING);
            String status = null;
            try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT status FROM backups WHERE cluster_id = ? AND id = ?")) {
                ps.setLong(1, clusterId);
                ps.setString(2, row.id());
                try (ResultSet rs = ps.executeQuery()) {
                    status = rs.next() ? rs.getString(1) : null;
                }
            }
            if (wasRunning == 1 || status == null) {
                insert(c, clusterId, row);
                won[0] = true;
            } else {
                // Stored already: a server that failed it found its manifest and pieces whole, and listed it.
                won[0] = BackupRow.STORED.equals(status);
            }
        });
        return won[0];
    }

    /** Records a backup as {@code row} says, replacing what was known of it (a running row, or nothing when found in the repository). */
    public void put(long clusterId, BackupRow row) {
        Sql.inTransaction(dataSource, "record backup " + row.id() + " in the catalog", c -> {
            Sql.update(c, "DELETE FROM backups WHERE cluster_id = ? AND id = ?", clusterId, row.id());
            insert(c, clusterId, row);
        });
    }

    static void insert(Connection c, long clusterId, BackupRow r) throws SQLException {
        Sql.update(c, "INSERT INTO backups (cluster_id, " + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", clusterId, r.id(),
                r.status(), orNull(r.reason()), r.startedAt(), orNull(r.finishedAt()), orNull(r.startLsn()), orNull(r.endLsn()),
                orNull(r.timeline()), orNull(r.walSegmentSize()), orNull(r.rawBytes()), orNull(r.storedBytes()), orNull(r.pieces()),
                orNull(r.type()), orNull(r.parentId()));
    }

    /**
     * Records that {@code backup} (as it was when it started, with its type and the parent it
     * had chosen, if any) failed; its row is written again if a rebuild dropped it meanwhile.
     */
    public void failed(long clusterId, BackupRow backup, Instant at, String reason) {
        int updated = Sql.update(dataSource, "record the failure of backup " + backup.id(),
                "UPDATE backups SET status = ?, reason = ?, finished_at = ?, backup_type = COALESCE(?, backup_type), "
                        + "parent_id = COALESCE(?, parent_id) WHERE cluster_id = ? AND id = ?",
                BackupRow.FAILED, reason, at, orNull(backup.type()), orNull(backup.parentId()), clusterId, backup.id());
        if (updated == 0) {
            put(clusterId, new BackupRow(backup.id(), BackupRow.FAILED, reason, backup.startedAt(), at, null, null, null, null, null, null,
                    null, backup.type(), backup.parentId()));
        }
    }

    /**
     * The SHA-256 of the file index this server stored with backup {@code id} (see V9__file_index_checksum.sql). A row
     * written anew (a rebuild, a reconciliation, {@link #put}) has none.
     */
    public void recordFileIndex(long clusterId, String id, String sha256) {
        Sql.update(dataSource, "record the file index of backup " + id, "UPDATE backups SET file_index_sha256 = ? WHERE cluster_id = ? AND id = ?",
                sha256, clusterId, id);
    }

    /** What {@link #recordFileIndex} recorded for backup {@code id}; empty when nothing was. */
    public Optional<String> fileIndex(long clusterId, String id) {
        return Sql.query(dataSource, "SELECT file_index_sha256 FROM backups WHERE cluster_id = ? AND id = ?", rs -> rs.getString(1), clusterId, id)
                .stream().filter(java.util.Objects::nonNull).findFirst();
    }

    public void delete(long clusterId, String id) {
        Sql.update(dataSource, "forget backup " + id, "DELETE FROM backups WHERE cluster_id = ? AND id = ?", clusterId, id);
    }

    /** The cluster's backups, oldest first (ids start with their start time). */
    public List<BackupRow> list(long clusterId) {
        return Sql.query(dataSource, "SELECT " + COLUMNS + " FROM backups WHERE cluster_id = ? ORDER BY id", BackupHistory::row, clusterId);
    }

    /**
     * For each stored backup of the cluster, how many of the segments from its start to its
     * end the WAL index lists, in one query (it is complete when all are), instead of one
     * query per backup.
     */
    public Map<String, Long> archivedSegmentCounts(long clusterId) {
        Map<String, Long> counts = new HashMap<>();
        Sql.query(dataSource, "SELECT b.id, COUNT(w.segment_number) FROM backups b LEFT JOIN wal_files w ON w.cluster_id = b.cluster_id "
                + "AND w.kind = 'SEGMENT' AND w.timeline = b.timeline AND w.segment_number BETWEEN b.start_lsn / b.wal_segment_size "
                + "AND (b.end_lsn - 1) / b.wal_segment_size WHERE b.cluster_id = ? AND b.status = ? GROUP BY b.id",
                rs -> counts.put(rs.getString(1), rs.getLong(2)), clusterId, BackupRow.STORED);
        return counts;
    }

    public Optional<BackupRow> find(long clusterId, String id) {
        return Sql.query(dataSource, "SELECT " + COLUMNS + " FROM backups WHERE cluster_id = ? AND id = ?", BackupHistory::row, clusterId, id)
                .stream().findFirst();
    }

    private static BackupRow row(ResultSet rs) throws SQLException {
        return new BackupRow(rs.getString(1), rs.getString(2), rs.getString(3), Sql.instant(rs, 4), Sql.instant(rs, 5),
                rs.getObject(6, Long.class), rs.getObject(7, Long.class), rs.getObject(8, Long.class), rs.getObject(9, Long.class),
                rs.getObject(10, Long.class), rs.getObject(11, Long.class), rs.getObject(12, Integer.class), rs.getString(13), rs.getString(14));
    }
}

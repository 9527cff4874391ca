package io.pgvault.server.catalog;

import jakarta.inject.Singleton;

import javax.sql.DataSource;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Optional;

/**
 * Scheduled backup slots claimed in the catalog (V8): a slot is a time a cluster's schedule
 * fires, and the server that claims it first runs it. The claim, not the lease, is what keeps
 * a slot from running twice: a server that lost its lease while paused claims nothing when it
 * wakes, because the slot it was about to run is claimed already.
 */
@Singleton
public class BackupSlots {

    private static final String UNIQUE_VIOLATION = "23505";

    private final DataSource dataSource;

    public BackupSlots(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** A claimed slot. */
    public record Claim(Instant slotAt, String type, String serverId, long token, String backupId) {
    }

    /**
     * Claims the slot for this server's lease.
     *
     * @return false when the slot was claimed already (by a holder before, or by this one)
     */
    public boolean claim(long clusterId, Instant slotAt, String type, String serverId, long token) {
        try {
            return Sql.update(dataSource, "claim the backup slot " + slotAt, "INSERT INTO backup_slots (cluster_id, slot_at, backup_type, server_id, "
                    + "token) VALUES (?, ?, ?, ?, ?)", clusterId, slotAt, type, serverId, token) == 1;
        } catch (CatalogException e) {
            if (e.getCause() instanceof SQLException sql && UNIQUE_VIOLATION.equals(sql.getSQLState())) {
                return false;
            }
            throw e;
        }
    }

    /** Records which backup a claimed slot started. */
    public void started(long clusterId, Instant slotAt, String backupId) {
        Sql.update(dataSource, "record the backup of slot " + slotAt, "UPDATE backup_slots SET backup_id = ? WHERE cluster_id = ? AND slot_at = ?",
                backupId, clusterId, slotAt);
    }

    /** The newest claimed slot of the cluster. */
    public Optional<Claim> latest(long clusterId) {
        return Sql.query(dataSource, "SELECT slot_at, backup_type, server_id, token, backup_id FROM backup_slots WHERE cluster_id = ? "
                + "ORDER BY slot_at DESC LIMIT 1", rs -> new Claim(Sql.instant(rs, 1), rs.getString(2), rs.getString(3), rs.getLong(4),
                rs.getString(5)), clusterId).stream().findFirst();
    }

    /** Forgets claims older than {@code before}: a claim matters only while its slot could still be run. */
    public int forgetBefore(Instant before) {
        return Sql.update(dataSource, "forget old backup slots", "DELETE FROM backup_slots WHERE slot_at < ?", before);
    }
}

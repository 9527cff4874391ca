package io.pgvault.server.catalog;

import jakarta.inject.Singleton;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.OptionalLong;

/**
 * The catalog's per-cluster leases (V8): which server runs a cluster's streaming, scheduled
 * backups and retention, until when, under which fencing token.
 *
 * <p>Every time is the catalog database's clock ({@link #NOW_MS}), read and compared inside
 * the statements that act on it, so servers whose clocks disagree still agree on who holds
 * a lease. A lease is taken only when it has expired by that clock, in one transaction that
 * draws a new token: of two servers trying at once, the row lock lets one through and the
 * other finds the lease held. A holder keeps it by renewing before it expires; a holder that
 * cannot renew in time must stop acting on its own (see {@code LeaseKeeper}).
 */
@Singleton
public class ClusterLeases {

    /** The database's current time in epoch milliseconds: the same SQL on PostgreSQL and on H2. */
    static final String NOW_MS = "CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) * 1000 AS BIGINT)";

    private static final String UNIQUE_VIOLATION = "23505";
    private static final String FOREIGN_KEY_VIOLATION = "23503";

    private final DataSource dataSource;

    public ClusterLeases(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** A lease as the catalog has it; {@code expiresMs} by the database's clock. */
    public record LeaseRow(long clusterId, String serverId, long token, long acquiredMs, long expiresMs) {
    }

    /** What a server needs to decide which leases to take: the leases, the database's time, and how many servers are alive. */
    public record Snapshot(long nowMs, List<LeaseRow> leases, int liveServers) {

        public boolean expired(LeaseRow lease) {
            return lease.expiresMs() <= nowMs;
        }
    }

    /**
     * Records that {@code serverId} is alive and reads every lease.
     *
     * @param ttlMs a server not seen for this long counts as gone
     */
    public Snapshot snapshot(String serverId, long ttlMs) {
        if (Sql.update(dataSource, "record that this server is alive", "UPDATE lease_servers SET seen_ms = " + NOW_MS + " WHERE server_id = ?",
                serverId) == 0) {
            try {
                Sql.update(dataSource, "record that this server is alive", "INSERT INTO lease_servers (server_id, seen_ms) VALUES (?, " + NOW_MS + ")",
                        serverId);
            } catch (CatalogException e) {
                if (!isState(e, UNIQUE_VIOLATION)) {
                    throw e;
                }
            }
        }
        long now = Sql.query(dataSource, "SELECT " + NOW_MS, rs -> rs.getLong(1)).get(0);
        List<LeaseRow> leases = Sql.query(dataSource, "SELECT cluster_id, server_id, token, acquired_ms, expires_ms FROM cluster_leases ORDER BY cluster_id",
                rs -> new LeaseRow(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getLong(5)));
        int live = Sql.query(dataSource, "SELECT COUNT(*) FROM lease_servers WHERE seen_ms > ?", rs -> rs.getInt(1), now - ttlMs).get(0);
        return new Snapshot(now, leases, Math.max(1, live));
    }

    /** Extends a lease its holder still has: false when it expired or another server took it (then the holder must stop). */
    public boolean renew(long clusterId, String serverId, long token, long ttlMs) {
        return Sql.update(dataSource, "renew the lease of cluster " + clusterId, "UPDATE cluster_leases SET expires_ms = " + NOW_MS + " + ? "
                + "WHERE cluster_id = ? AND server_id = ? AND token = ? AND expires_ms > " + NOW_MS, ttlMs, clusterId, serverId, token) == 1;
    }

    /** Whether the lease is still this holder's by the database's clock, now. */
    public boolean holds(long clusterId, String serverId, long token) {
        return !Sql.query(dataSource, "SELECT 1 FROM cluster_leases WHERE cluster_id = ? AND server_id = ? AND token = ? AND expires_ms > " + NOW_MS,
                rs -> 1, clusterId, serverId, token).isEmpty();
    }

    /**
     * Takes the cluster's lease if nobody holds it (never taken, expired or released).
     *
     * @return the new fencing token, or empty when another server holds the lease or the cluster is gone
     */
    public OptionalLong acquire(long clusterId, String serverId, long ttlMs) {
        try (Connection c = dataSource.getConnection()) {
            boolean autoCommit = c.getAutoCommit();
            c.setAutoCommit(false);
            try {
                OptionalLong token = acquire(c, clusterId, serverId, ttlMs);
                if (token.isPresent()) {
                    c.commit();
                } else {
                    c.rollback();
                }
                return token;
            } catch (SQLException e) {
                c.rollback();
                if (UNIQUE_VIOLATION.equals(e.getSQLState()) || FOREIGN_KEY_VIOLATION.equals(e.getSQLState())) {
                    return OptionalLong.empty(); // another server inserted the lease first, or the cluster was removed
                }
                throw e;
            } finally {
                c.setAutoCommit(autoCommit);
            }
        } catch (SQLException e) {
            throw new CatalogException("cannot take the lease of cluster " + clusterId + ": " + e.getMessage(), e);
        }
    }

    private static OptionalLong acquire(Connection c, long clusterId, String serverId, long ttlMs) throws SQLException {
        // The single counter row serialises takers: the second waits here, then finds the lease taken.
        Sql.update(c, "UPDATE lease_tokens SET last_token = last_token + 1");
        long token;
        try (PreparedStatement ps = c.prepareStatement("SELECT last_token FROM lease_tokens"); ResultSet rs = ps.executeQuery()) {
            rs.next();
            token = rs.getLong(1);
        }
        int taken = Sql.update(c, "UPDATE cluster_leases SET server_id = ?, token = ?, acquired_ms = " + NOW_MS + ", expires_ms = " + NOW_MS
                + " + ? WHERE cluster_id = ? AND expires_ms <= " + NOW_MS, serverId, token, ttlMs, clusterId);
        if (taken == 1) {
            return OptionalLong.of(token);
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM cluster_leases WHERE cluster_id = ?")) {
            ps.setLong(1, clusterId);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    return OptionalLong.empty();
                }
            }
        }
        Sql.update(c, "INSERT INTO cluster_leases (cluster_id, server_id, token, acquired_ms, expires_ms) VALUES (?, ?, ?, " + NOW_MS + ", "
                + NOW_MS + " + ?)", clusterId, serverId, token, ttlMs);
        return OptionalLong.of(token);
    }

    /** Gives a lease up at once (shutdown, or handing a share to another server), if this holder still has it. */
    public void release(long clusterId, String serverId, long token) {
        Sql.update(dataSource, "release the lease of cluster " + clusterId, "UPDATE cluster_leases SET expires_ms = " + NOW_MS
                + " WHERE cluster_id = ? AND server_id = ? AND token = ?", clusterId, serverId, token);
    }

    /** Forgets a server that stops, so the others count it gone at once. */
    public void forgetServer(String serverId) {
        Sql.update(dataSource, "forget this server", "DELETE FROM lease_servers WHERE server_id = ?", serverId);
    }

    private static boolean isState(CatalogException e, String state) {
        return e.getCause() instanceof SQLException sql && state.equals(sql.getSQLState());
    }
}

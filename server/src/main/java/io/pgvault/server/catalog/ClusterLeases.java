package io.pgvault.server.catalog;

import jakarta.inject.Singleton;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The catalog's per-cluster leases (V8): which server runs a cluster's streaming, scheduled
 * backups and retention, until when, under which fencing token.
 *
 * <p>Every time is the catalog database's clock ({@link #NOW_MS}), read and compared inside
 * the statements that act on it, so servers whose clocks disagree still agree on who holds
 * a lease. A lease is taken only when it has expired by that clock, by one conditional UPDATE
 * (or an INSERT for a cluster never leased) that draws a new token from a sequence: of two
 * servers trying at once, PostgreSQL's row lock lets one through and re-checks the condition
 * for the other, which then changes nothing. Every statement is a single one in auto-commit
 * with a timeout, so a server paused in the middle of one holds no lock for long that another
 * server's renewals could wait on. A holder keeps a lease by renewing it before it expires; a
 * holder that cannot renew in time must stop acting on its own (see {@code LeaseKeeper}).
 */
@Singleton
public class ClusterLeases {

    /**
     * The database's current time in epoch milliseconds: the same SQL on PostgreSQL and on H2.
     * (The statement's, or on PostgreSQL the transaction's, start: every statement here runs
     * on its own in auto-commit.)
     */
    static final String NOW_MS = "CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) * 1000 AS BIGINT)";

    /** The next fencing token: {@code nextval} is PostgreSQL's spelling, and H2 accepts it in its PostgreSQL mode. */
    private static final String NEXT_TOKEN = "nextval('lease_tokens')";

    private static final String UNIQUE_VIOLATION = "23505";
    private static final long FORGET_SERVERS_AFTER_MS = 24L * 3600 * 1000;
    /** Tokens per renewal statement (an IN list; well under any driver's parameter limit). */
    private static final int RENEW_BATCH = 500;
    /** A missing parent row: PostgreSQL says 23503, H2 23506 (the cluster was removed meanwhile). */
    private static final Set<String> NO_SUCH_CLUSTER = Set.of("23503", "23506");

    private final DataSource dataSource;
    private final int timeoutSeconds;

    /** Statements time out after 5 s. */
    public ClusterLeases(DataSource dataSource) {
        this(dataSource, 5);
    }

    /** @param timeoutSeconds how long a lease statement may take before it fails (and the round goes on) */
    public ClusterLeases(DataSource dataSource, int timeoutSeconds) {
        this.dataSource = dataSource;
        this.timeoutSeconds = timeoutSeconds;
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
        try {
            if (update("UPDATE lease_servers SET seen_ms = " + NOW_MS + " WHERE server_id = ?", serverId) == 0) {
                update("INSERT INTO lease_servers (server_id, seen_ms) VALUES (?, " + NOW_MS + ")", serverId);
            }
        } catch (SQLException e) {
            if (!UNIQUE_VIOLATION.equals(e.getSQLState())) {
                throw new CatalogException("cannot record that this server is alive: " + e.getMessage(), e);
            }
        }
        long now = query("SELECT " + NOW_MS, rs -> rs.getLong(1)).get(0);
        List<LeaseRow> leases = query("SELECT cluster_id, server_id, token, acquired_ms, expires_ms FROM cluster_leases ORDER BY cluster_id",
                rs -> new LeaseRow(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getLong(5)));
        int live = query("SELECT COUNT(*) FROM lease_servers WHERE seen_ms > ?", rs -> rs.getInt(1), now - ttlMs).get(0);
        run("forget servers gone for a day", "DELETE FROM lease_servers WHERE seen_ms < ?", now - FORGET_SERVERS_AFTER_MS);
        return new Snapshot(now, leases, Math.max(1, live));
    }

    /** Extends a lease its holder still has: false when it expired or another server took it (then the holder must stop). */
    public boolean renew(long clusterId, String serverId, long token, long ttlMs) {
        return run("renew the lease of cluster " + clusterId, "UPDATE cluster_leases SET expires_ms = " + NOW_MS + " + ? "
                + "WHERE cluster_id = ? AND server_id = ? AND token = ? AND expires_ms > " + NOW_MS, ttlMs, clusterId, serverId, token) == 1;
    }

    /**
     * Renews every lease this server holds in two statements, whatever their number (a server
     * with hundreds of clusters must not send hundreds of updates a round). Tokens are drawn
     * from one sequence, so a token names one holding of one lease.
     *
     * @return the tokens renewed; a token missing lost its lease (expired, or taken)
     */
    public Set<Long> renewAll(String serverId, Collection<Long> tokens, long ttlMs) {
        Set<Long> renewed = new HashSet<>();
        List<Long> all = List.copyOf(tokens);
        for (int from = 0; from < all.size(); from += RENEW_BATCH) {
            List<Long> batch = all.subList(from, Math.min(all.size(), from + RENEW_BATCH));
            String in = String.join(", ", java.util.Collections.nCopies(batch.size(), "?"));
            Object[] params = new Object[batch.size() + 2];
            params[0] = ttlMs;
            params[1] = serverId;
            for (int i = 0; i < batch.size(); i++) {
                params[i + 2] = batch.get(i);
            }
            run("renew this server's leases", "UPDATE cluster_leases SET expires_ms = " + NOW_MS + " + ? WHERE server_id = ? AND token IN (" + in
                    + ") AND expires_ms > " + NOW_MS, params);
            // Those just renewed expire a ttl from now; any other was not renewed (a lease expires only once, never within a ttl).
            Object[] check = new Object[batch.size() + 2];
            check[0] = serverId;
            check[1] = ttlMs / 2;
            System.arraycopy(params, 2, check, 2, batch.size());
            renewed.addAll(query("SELECT token FROM cluster_leases WHERE server_id = ? AND expires_ms > " + NOW_MS + " + ? AND token IN (" + in
                    + ")", rs -> rs.getLong(1), check));
        }
        return renewed;
    }

    /** Whether the lease is still this holder's by the database's clock, now. */
    public boolean holds(long clusterId, String serverId, long token) {
        return !query("SELECT 1 FROM cluster_leases WHERE cluster_id = ? AND server_id = ? AND token = ? AND expires_ms > " + NOW_MS,
                rs -> 1, clusterId, serverId, token).isEmpty();
    }

    /**
     * Takes the cluster's lease if nobody holds it (never taken, expired or released).
     *
     * @return the new fencing token, or empty when another server holds the lease or the cluster is gone
     */
    public OptionalLong acquire(long clusterId, String serverId, long ttlMs) {
        try {
            if (update("UPDATE cluster_leases SET server_id = ?, token = " + NEXT_TOKEN + ", acquired_ms = " + NOW_MS + ", expires_ms = "
                    + NOW_MS + " + ? WHERE cluster_id = ? AND expires_ms <= " + NOW_MS, serverId, ttlMs, clusterId) == 0
                    && update("INSERT INTO cluster_leases (cluster_id, server_id, token, acquired_ms, expires_ms) SELECT ?, ?, " + NEXT_TOKEN
                    + ", " + NOW_MS + ", " + NOW_MS + " + ? WHERE NOT EXISTS (SELECT 1 FROM cluster_leases WHERE cluster_id = ?)",
                    clusterId, serverId, ttlMs, clusterId) == 0) {
                return OptionalLong.empty(); // held by another server
            }
        } catch (SQLException e) {
            if (UNIQUE_VIOLATION.equals(e.getSQLState()) || NO_SUCH_CLUSTER.contains(e.getSQLState())) {
                return OptionalLong.empty(); // another server inserted the lease first, or the cluster was removed
            }
            throw new CatalogException("cannot take the lease of cluster " + clusterId + ": " + e.getMessage(), e);
        }
        // Read back by holder: between the write and this read another server can only take it if it expired already.
        List<Long> token = query("SELECT token FROM cluster_leases WHERE cluster_id = ? AND server_id = ?", rs -> rs.getLong(1), clusterId, serverId);
        return token.isEmpty() ? OptionalLong.empty() : OptionalLong.of(token.get(0));
    }

    /** Gives a lease up at once (shutdown, or handing a share to another server), if this holder still has it. */
    public void release(long clusterId, String serverId, long token) {
        run("release the lease of cluster " + clusterId, "UPDATE cluster_leases SET expires_ms = " + NOW_MS
                + " WHERE cluster_id = ? AND server_id = ? AND token = ?", clusterId, serverId, token);
    }

    /** Forgets a server that stops, so the others count it gone at once. */
    public void forgetServer(String serverId) {
        run("forget this server", "DELETE FROM lease_servers WHERE server_id = ?", serverId);
    }

    private int update(String sql, Object... params) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return Sql.update(c, timeoutSeconds, sql, params);
        }
    }

    /** {@link #update}, failing with what it was for. */
    private int run(String what, String sql, Object... params) {
        try {
            return update(sql, params);
        } catch (SQLException e) {
            throw new CatalogException("cannot " + what + " in the catalog: " + e.getMessage(), e);
        }
    }

    private <T> List<T> query(String sql, Sql.RowMapper<T> mapper, Object... params) {
        return Sql.query(dataSource, timeoutSeconds, sql, mapper, params);
    }
}

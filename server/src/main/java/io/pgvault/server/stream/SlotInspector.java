package io.pgvault.server.stream;

import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.wal.Lsn;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Properties;

/**
 * Reads a slot's health from the cluster over an ordinary SQL connection (pgjdbc): a
 * replication connection cannot query {@code pg_replication_slots}. Works on a primary
 * and on a standby pgvault streams from.
 */
final class SlotInspector {

    private static final String QUERY = """
            SELECT s.active, s.wal_status, s.restart_lsn::text, p.pos::text,
                   pg_wal_lsn_diff(p.pos, s.restart_lsn)::bigint
            FROM (SELECT CASE WHEN pg_is_in_recovery()
                              THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                              ELSE pg_current_wal_lsn() END AS pos) p
            LEFT JOIN pg_replication_slots s ON s.slot_name = ?""";

    private SlotInspector() {
    }

    /**
     * @param flushed the end of what the repository holds, for the lag
     * @param warnAbove retained bytes above which the slot is reported as a risk to the cluster's disk
     */
    static SlotHealth inspect(Conninfo conninfo, String slot, Lsn flushed, long warnAbove) {
        Instant now = Instant.now();
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://" + host(conninfo) + ":" + conninfo.port() + "/" + conninfo.dbname(),
                properties(conninfo)); PreparedStatement ps = c.prepareStatement(QUERY)) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                Lsn position = Lsn.parse(rs.getString(4));
                Long lag = flushed.isValid() ? Math.max(0, position.value() - flushed.value()) : null;
                String status = rs.getString(2);
                if (status == null) {
                    return new SlotHealth(false, false, null, null, null, lag, now, null,
                            "slot " + slot + " does not exist on the cluster: WAL is not held for pgvault (the receiver creates it when it connects)");
                }
                long retained = rs.getLong(5);
                String warning = null;
                if ("lost".equals(status)) {
                    warning = "slot " + slot + " lost WAL pgvault had not stored (max_slot_wal_keep_size): the archive has a gap; "
                            + "take a new base backup";
                } else if (retained > warnAbove) {
                    warning = "slot " + slot + " holds " + (retained >> 20) + " MiB of WAL on the cluster (warning above " + (warnAbove >> 20)
                            + " MiB): pgvault is not keeping up or not connected; the cluster's disk fills until it does";
                }
                return new SlotHealth(true, rs.getBoolean(1), status, rs.getString(3), retained, lag, now, null, warning);
            }
        } catch (SQLException | RuntimeException e) {
            return new SlotHealth(false, false, null, null, null, null, now,
                    "cannot read pg_replication_slots over " + conninfo.host() + ":" + conninfo.port() + "/" + conninfo.dbname() + ": "
                            + e.getMessage() + " (the role needs a pg_hba.conf line for that database too)", null);
        }
    }

    private static String host(Conninfo conninfo) {
        return conninfo.host().contains(":") ? "[" + conninfo.host() + "]" : conninfo.host();
    }

    private static Properties properties(Conninfo conninfo) {
        Properties p = new Properties();
        p.setProperty("user", conninfo.user());
        conninfo.password().ifPresent(pw -> p.setProperty("password", pw));
        conninfo.get("sslmode").ifPresent(mode -> p.setProperty("sslmode", mode));
        p.setProperty("connectTimeout", Integer.toString(Math.max(1, conninfo.connectTimeoutSeconds())));
        p.setProperty("socketTimeout", "30");
        p.setProperty("ApplicationName", "pgvault slot check");
        return p;
    }
}

package io.pgvault.server.stream;

import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.wal.Lsn;

import io.pgvault.core.pgproto.SqlConnection;

import java.io.IOException;
import java.time.Instant;
import java.util.List;

/**
 * Reads a slot's health from the cluster over an ordinary SQL connection, made exactly as
 * the replication connection is (TLS, password file): a replication connection cannot
 * query {@code pg_replication_slots}. Works on a primary
 * and on a standby pgvault streams from.
 */
final class SlotInspector {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SlotInspector.class);

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
        try (SqlConnection c = SqlConnection.open(conninfo, "pgvault slot check")) {
            List<String> row = c.query(QUERY.replace("?", SqlConnection.literal(slot))).get(0).rows().get(0);
            Lsn position = Lsn.parse(row.get(3));
            Long lag = flushed.isValid() ? Math.max(0, position.value() - flushed.value()) : null;
            String status = row.get(1);
            if (status == null) {
                return new SlotHealth(false, false, null, null, null, lag, now, null,
                        "slot " + slot + " does not exist on the cluster: WAL is not held for pgvault (the receiver creates it when it connects)");
            }
            long retained = Long.parseLong(row.get(4));
            String warning = null;
            if ("lost".equals(status)) {
                warning = "slot " + slot + " lost WAL pgvault had not stored (max_slot_wal_keep_size): the archive has a gap; "
                        + "take a new base backup";
            } else if (retained > warnAbove) {
                warning = "slot " + slot + " holds " + (retained >> 20) + " MiB of WAL on the cluster (warning above " + (warnAbove >> 20)
                        + " MiB): pgvault is not keeping up or not connected; the cluster's disk fills until it does";
            }
            return new SlotHealth(true, "t".equals(row.get(0)), status, row.get(2), retained, lag, now, null, warning);
        } catch (IOException | RuntimeException e) {
            return new SlotHealth(false, false, null, null, null, null, now,
                    "cannot read pg_replication_slots over " + conninfo.host() + ":" + conninfo.port() + "/" + conninfo.dbname() + ": "
                            + e.getMessage() + " (the role needs a pg_hba.conf line for that database too)", null);
        }
    }

    /**
     * Ends the walsender that holds {@code slot} for another receiver (one whose server lost the
     * cluster's lease but still has its connection: paused, or cut off from the catalog),
     * as PostgreSQL itself would after {@code wal_sender_timeout}. Needs the same role as that
     * receiver, or {@code pg_signal_backend}.
     *
     * @return whether a walsender was ended
     */
    static boolean endOtherReceiver(Conninfo conninfo, String slot) {
        try (SqlConnection c = SqlConnection.open(conninfo, "pgvault lease takeover")) {
            List<List<String>> rows = c.query("SELECT active_pid, pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = "
                    + SqlConnection.literal(slot) + " AND active_pid IS NOT NULL").get(0).rows();
            boolean ended = !rows.isEmpty() && "t".equals(rows.get(0).get(1));
            if (ended) {
                LOG.warn("Slot {} was held by walsender {} of a receiver that no longer holds the lease: ended it", slot, rows.get(0).get(0));
            }
            return ended;
        } catch (IOException | RuntimeException e) {
            LOG.warn("Slot {} is held by another receiver and it could not be ended ({}): waiting for PostgreSQL's wal_sender_timeout", slot,
                    e.getMessage());
            return false;
        }
    }
}

package io.pgvault.core.pgproto;

import java.io.IOException;
import java.util.Map;

/**
 * PostgreSQL refused something: its ErrorResponse fields (SQLSTATE, message, detail,
 * hint), plus, where pgvault knows the usual cause, what the DBA should do.
 */
public class PgServerException extends IOException {

    private final String sqlState;
    private final String serverMessage;

    public PgServerException(String context, Map<Character, String> fields) {
        super(compose(context, fields));
        this.sqlState = fields.getOrDefault('C', "");
        this.serverMessage = fields.getOrDefault('M', "");
    }

    public String sqlState() {
        return sqlState;
    }

    public String serverMessage() {
        return serverMessage;
    }

    /** Authentication and authorization problems: retrying will not help. */
    public boolean isPermanent() {
        return sqlState.startsWith("28") || sqlState.equals("42501") || sqlState.startsWith("3D");
    }

    private static String compose(String context, Map<Character, String> fields) {
        StringBuilder sb = new StringBuilder(context).append(": ").append(fields.getOrDefault('M', "(no message)"));
        if (fields.containsKey('C')) {
            sb.append(" (SQLSTATE ").append(fields.get('C')).append(')');
        }
        if (fields.containsKey('D')) {
            sb.append(". ").append(fields.get('D'));
        }
        if (fields.containsKey('H')) {
            sb.append(". Hint: ").append(fields.get('H'));
        }
        String advice = advice(fields.getOrDefault('C', ""), fields.getOrDefault('M', ""));
        if (!advice.isEmpty()) {
            sb.append(". ").append(advice);
        }
        return sb.toString();
    }

    private static String advice(String state, String message) {
        if (message.contains("no pg_hba.conf entry for replication connection")) {
            return "Add a line like 'host replication <user> <pgvault-host>/32 scram-sha-256' to pg_hba.conf on the cluster and reload it (SELECT pg_reload_conf())";
        }
        if (state.equals("28P01")) {
            return "The password was refused: check the conninfo's password or the .pgpass entry";
        }
        if (message.contains("replication role") || message.contains("REPLICATION attribute") || message.contains("permission denied to start WAL sender")) {
            return "Give the role the REPLICATION attribute: ALTER ROLE <user> REPLICATION";
        }
        if (state.equals("53300") || message.contains("number of requested standby connections exceeds max_wal_senders")
                || message.contains("max_wal_senders")) {
            return "All WAL sender slots are in use: raise max_wal_senders on the cluster (restart needed) or stop an idle replication client";
        }
        if (state.equals("55006") && message.contains("replication slot")) {
            return "Another client streams from this slot: stop it, or give pgvault a slot of its own (pgvault cluster update <name> --slot <other>)";
        }
        if (state.equals("58P01") && message.contains("has already been removed")) {
            return "The cluster no longer has this WAL (no slot held it): the archive has a gap there; a new base backup starts a recoverable history again";
        }
        return "";
    }
}

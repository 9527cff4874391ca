package io.pgvault.core.pgproto;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An ordinary (non-replication) session to one database, for the few catalog queries a
 * replication connection cannot run (a slot's health in {@code pg_replication_slots}).
 * It connects exactly as {@link ReplicationConnection} does (same conninfo, TLS, password
 * file and authentication checks), so one connection string means one thing.
 */
public final class SqlConnection implements AutoCloseable {

    /** A server that stops answering must not hang the caller (a status page, a health check). */
    private static final int READ_TIMEOUT_MILLIS = 30_000;

    private final WireConnection wire;

    private SqlConnection(WireConnection wire) {
        this.wire = wire;
    }

    public static SqlConnection open(Conninfo conninfo, String applicationName) throws IOException {
        return open(conninfo, applicationName, ClientEnvironment.system());
    }

    public static SqlConnection open(Conninfo conninfo, String applicationName, ClientEnvironment env) throws IOException {
        Map<String, String> startup = new LinkedHashMap<>();
        startup.put("user", conninfo.user());
        startup.put("database", conninfo.dbname());
        startup.put("application_name", applicationName);
        WireConnection wire = WireConnection.open(conninfo, startup, env);
        wire.readTimeout(READ_TIMEOUT_MILLIS);
        return new SqlConnection(wire);
    }

    /** Runs SQL as one simple query; values come back as text. Quote literals with {@link #literal}. */
    public List<QueryResult> query(String sql) throws IOException {
        return SimpleQuery.run(wire, sql);
    }

    /** A string literal for SQL text (standard_conforming_strings is on from PostgreSQL 9.1). */
    public static String literal(String value) {
        if (value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("a NUL byte cannot be sent in SQL text");
        }
        return "'" + value.replace("'", "''") + "'";
    }

    @Override
    public void close() {
        wire.close();
    }
}

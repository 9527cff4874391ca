package io.pgvault.core.pgproto;

import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalSegmentSize;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A physical replication connection ({@code replication=true}) to a PostgreSQL server:
 * replication commands as simple queries, and {@code BASE_BACKUP} with its tar streams.
 */
public final class ReplicationConnection implements AutoCloseable {

    /** What {@code IDENTIFY_SYSTEM} says. */
    public record SystemIdentity(String systemIdentifier, TimelineId timeline, Lsn position) {
    }

    /** Where a base backup started and ended, and what it sent. */
    public record BaseBackupResult(Lsn start, Lsn end, TimelineId startTimeline, TimelineId endTimeline, List<String> archives,
                                   boolean manifestReceived) {
    }

    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(kB|MB|GB)?");

    private final WireConnection wire;
    private final int serverMajor;

    private ReplicationConnection(WireConnection wire) {
        this.wire = wire;
        String version = wire.parameters().getOrDefault("server_version", "0");
        this.serverMajor = Integer.parseInt(version.replaceAll("^(\\d+).*$", "$1"));
    }

    /**
     * Opens a physical replication connection.
     *
     * @throws PgServerException when the server refuses (with what to change in pg_hba.conf or the role)
     * @throws IOException when it cannot be reached
     */
    public static ReplicationConnection open(Conninfo conninfo, String applicationName) throws IOException {
        return open(conninfo, applicationName, ClientEnvironment.system());
    }

    /** As {@link #open(Conninfo, String)}, with libpq's environment and home directory given. */
    public static ReplicationConnection open(Conninfo conninfo, String applicationName, ClientEnvironment env) throws IOException {
        Map<String, String> startup = new LinkedHashMap<>();
        startup.put("user", conninfo.user());
        startup.put("database", "replication");
        startup.put("replication", "true");
        startup.put("application_name", applicationName);
        ReplicationConnection connection = new ReplicationConnection(WireConnection.open(conninfo, startup, env));
        if (connection.serverMajor < 14) {
            connection.close();
            throw new IOException(conninfo.host() + ":" + conninfo.port() + " runs PostgreSQL " + connection.serverMajor
                    + "; pgvault supports 14 to 18");
        }
        return connection;
    }

    /** Whether the connection is encrypted, and how the server authenticated it (e.g. "TLS, SCRAM-SHA-256-PLUS"). */
    public String security() {
        return (wire.isTls() ? "TLS" : "plain") + ", " + wire.authentication();
    }

    public int serverMajor() {
        return serverMajor;
    }

    public SystemIdentity identifySystem() throws IOException {
        QueryResult r = simpleQuery("IDENTIFY_SYSTEM").get(0);
        return new SystemIdentity(r.value(0, "systemid"), new TimelineId(Long.parseLong(r.value(0, "timeline"))), Lsn.parse(r.value(0, "xlogpos")));
    }

    /** The server's {@code wal_segment_size} ({@code SHOW} answers e.g. "16MB"). */
    public WalSegmentSize walSegmentSize() throws IOException {
        String text = simpleQuery("SHOW wal_segment_size").get(0).rows().get(0).get(0).trim();
        Matcher m = SIZE.matcher(text);
        if (!m.matches()) {
            throw new IOException("the server answered '" + text + "' for wal_segment_size: expected a size like 16MB");
        }
        long unit = m.group(2) == null ? 1 : switch (m.group(2)) {
            case "kB" -> 1L << 10;
            case "MB" -> 1L << 20;
            default -> 1L << 30;
        };
        return new WalSegmentSize(Long.parseLong(m.group(1)) * unit);
    }

    /**
     * Creates a physical slot that holds WAL from now on ({@code RESERVE_WAL}).
     *
     * @return false when a slot of that name exists already (it is used as it is)
     */
    public boolean createPhysicalSlot(String name) throws IOException {
        try {
            simpleQuery("CREATE_REPLICATION_SLOT " + name + " PHYSICAL RESERVE_WAL");
            return true;
        } catch (PgServerException e) {
            if ("42710".equals(e.sqlState())) {
                return false;
            }
            throw e;
        }
    }

    /**
     * Where a physical slot holds WAL from ({@code READ_REPLICATION_SLOT}, PostgreSQL 15+).
     *
     * @return empty when the slot does not exist, has not reserved WAL, or the server is 14
     */
    public Optional<Lsn> slotRestartLsn(String name) throws IOException {
        if (serverMajor < 15) {
            return Optional.empty();
        }
        QueryResult r = simpleQuery("READ_REPLICATION_SLOT " + name).get(0);
        String restart = r.rows().isEmpty() ? null : r.value(0, "restart_lsn");
        return restart == null ? Optional.empty() : Optional.of(Lsn.parse(restart)).filter(Lsn::isValid);
    }

    /**
     * Drops a slot so PostgreSQL stops keeping WAL for it.
     *
     * @return false when there is no slot of that name
     * @throws PgServerException when it is in use (by a receiver still connected)
     */
    public boolean dropSlot(String name) throws IOException {
        try {
            simpleQuery("DROP_REPLICATION_SLOT " + name);
            return true;
        } catch (PgServerException e) {
            if ("42704".equals(e.sqlState())) {
                return false;
            }
            throw e;
        }
    }

    /** The content of a timeline's history file, from the server ({@code TIMELINE_HISTORY}). */
    public byte[] timelineHistory(TimelineId timeline) throws IOException {
        return simpleQuery("TIMELINE_HISTORY " + timeline.value()).get(0).value(0, "content").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * Streams WAL from {@code start} on {@code timeline} into {@code handler} until the
     * server ends the timeline or the handler asks to stop; reports the handler's write and
     * flush positions at least every {@code statusIntervalMillis}.
     *
     * @param slot the physical slot to stream from, or null for none
     */
    public PhysicalStream.End streamPhysical(String slot, Lsn start, TimelineId timeline, PhysicalStream.Handler handler,
                                             int statusIntervalMillis) throws IOException {
        return new PhysicalStream(wire, statusIntervalMillis).run(slot, start, timeline, handler);
    }

    /**
     * The server's clock now, read from the walsender ({@link PhysicalStream#clock}); empty
     * when the timeline ended at the end of WAL twice (promotions); an IOException when the
     * server did not answer within {@code timeoutMillis}. Commit times in its WAL come from the
     * same clock, so this is what a recovery target's time is compared with, whatever the
     * clock of the machine asking.
     */
    public Optional<java.time.Instant> serverClock(int timeoutMillis) throws IOException {
        // Twice at most: the first try finds the timeline ended when the server was promoted in between.
        for (int attempt = 0; attempt < 2; attempt++) {
            wire.readTimeout(timeoutMillis);
            SystemIdentity now;
            try {
                now = identifySystem();
            } finally {
                wire.readTimeout(0);
            }
            Optional<java.time.Instant> clock = new PhysicalStream(wire, timeoutMillis).clock(now.position(), now.timeline(), timeoutMillis);
            if (clock.isPresent()) {
                return clock;
            }
        }
        return Optional.empty();
    }

    /** Runs a command and returns its result sets. */
    public List<QueryResult> simpleQuery(String sql) throws IOException {
        return SimpleQuery.run(wire, sql);
    }

    /**
     * Sends a previous backup's {@code backup_manifest} ({@code UPLOAD_MANIFEST}, PostgreSQL 17+)
     * so that the next {@code BASE_BACKUP ... INCREMENTAL} on this connection sends only what
     * changed since it. PostgreSQL checks the manifest (its system identifier, its timeline and
     * that WAL summaries cover the range) when the backup starts, not here.
     */
    public void uploadManifest(InputStream manifest) throws IOException {
        if (serverMajor < 17) {
            throw new IOException(wire.where() + ": PostgreSQL " + serverMajor + " has no incremental backups (they come with 17)");
        }
        wire.sendQuery("UPLOAD_MANIFEST");
        WireConnection.Message m = wire.read();
        if (m.type() != 'G') {
            throw wire.unexpected(m, "UPLOAD_MANIFEST");
        }
        byte[] chunk = new byte[MANIFEST_CHUNK];
        for (int n = manifest.readNBytes(chunk, 0, chunk.length); n > 0; n = manifest.readNBytes(chunk, 0, chunk.length)) {
            wire.send('d', n == chunk.length ? chunk : java.util.Arrays.copyOf(chunk, n));
        }
        wire.send('c', new byte[0]);
        PgServerException error = null;
        while (true) {
            m = wire.readRaw();
            switch (m.type()) {
                case 'E' -> error = new PgServerException(wire.where() + ": UPLOAD_MANIFEST", WireConnection.errorFields(m));
                case 'Z' -> {
                    if (error != null) {
                        throw error;
                    }
                    return;
                }
                case 'C', 'T', 'D', 'N', 'S' -> {
                    // the command's completion, notices
                }
                default -> throw wire.unexpected(m, "UPLOAD_MANIFEST");
            }
        }
    }

    /** CopyData messages of a manifest upload: pg_basebackup sends 128 kB at a time. */
    private static final int MANIFEST_CHUNK = 128 * 1024;

    /**
     * Runs {@code BASE_BACKUP} and streams its archives and manifest into {@code sink}.
     * The connection is unusable for anything else meanwhile.
     */
    public BaseBackupResult baseBackup(BaseBackupOptions options, BaseBackupSink sink) throws IOException {
        String command = options.command(serverMajor);
        wire.sendQuery(command);
        List<QueryResult> results = new ArrayList<>();
        List<BaseBackupSink.Tablespace> tablespaces = Collections.emptyList();
        List<String> archives = new ArrayList<>();
        SimpleQuery.ResultBuilder current = null;
        OutputStream target = null;
        int copies = 0;
        boolean manifest = false;
        // PostgreSQL sends the tar streams in CopyData messages of 32 kB (plus a type byte from 15 on).
        byte[] copyBuffer = new byte[1 << 18];
        try {
            while (true) {
                WireConnection.Message m = wire.readRaw(copyBuffer);
                switch (m.type()) {
                    case 'T' -> current = SimpleQuery.ResultBuilder.describe(m);
                    case 'D' -> current.row(m);
                    case 'C' -> {
                        if (current != null) {
                            results.add(current.build());
                            current = null;
                        }
                    }
                    case 'H' -> {
                        if (current != null) {
                            results.add(current.build());
                            current = null;
                        }
                        if (results.size() == 2 && copies == 0) {
                            QueryResult start = results.get(0);
                            sink.started(Lsn.parse(start.rows().get(0).get(0)), new TimelineId(Long.parseLong(start.rows().get(0).get(1))));
                            tablespaces = tablespaces(results.get(1));
                            sink.tablespaces(tablespaces);
                        }
                        if (serverMajor < 15) {
                            // Before 15: one plain CopyOut per tablespace (main directory last), then one for the manifest.
                            if (copies < tablespaces.size()) {
                                BaseBackupSink.Tablespace ts = tablespaces.get(copies);
                                String name = ts.oid().map(oid -> oid + ".tar").orElse("base.tar");
                                archives.add(name);
                                target = sink.archive(name, ts.location());
                            } else {
                                manifest = true;
                                target = sink.manifest();
                            }
                        }
                        copies++;
                    }
                    case 'd' -> {
                        if (serverMajor < 15) {
                            target.write(m.payload(), 0, m.length());
                        } else {
                            target = copyData15(m, sink, target, archives);
                            if (target == null) {
                                // progress message: nothing to write
                                continue;
                            }
                            if (m.payload()[0] == 'm') {
                                manifest = true;
                            }
                        }
                    }
                    case 'c' -> {
                        closeIfOpen(target);
                        target = null;
                    }
                    case 'E' -> throw new PgServerException(wire.where() + ": BASE_BACKUP", WireConnection.errorFields(m));
                    case 'Z' -> {
                        if (current != null) {
                            results.add(current.build());
                        }
                        QueryResult start = results.get(0);
                        QueryResult end = results.get(results.size() - 1);
                        return new BaseBackupResult(Lsn.parse(start.rows().get(0).get(0)), Lsn.parse(end.rows().get(0).get(0)),
                                new TimelineId(Long.parseLong(start.rows().get(0).get(1))), new TimelineId(Long.parseLong(end.rows().get(0).get(1))),
                                archives, manifest);
                    }
                    case 'N', 'S' -> {
                        // notices (e.g. WAL archiving warnings), parameter changes
                    }
                    default -> throw wire.unexpected(m, "BASE_BACKUP");
                }
            }
        } catch (IOException | RuntimeException e) {
            // Closing a cut archive fails too ("ended inside an entry"): keep the cause first.
            if (target != null) {
                try {
                    target.close();
                } catch (IOException | RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
                target = null;
            }
            throw e;
        } finally {
            closeIfOpen(target);
        }
    }

    /** PostgreSQL 15+: CopyData messages carry a type byte. Returns the stream to keep writing to. */
    private static OutputStream copyData15(WireConnection.Message m, BaseBackupSink sink, OutputStream target, List<String> archives)
            throws IOException {
        byte[] p = m.payload();
        if (m.length() == 0) {
            throw new IOException("protocol error: an empty BASE_BACKUP CopyData message");
        }
        switch (p[0]) {
            case 'n' -> {
                closeIfOpen(target);
                WireConnection.Reader r = m.reader();
                r.byte8();
                String name = r.cstring();
                String location = r.cstring();
                archives.add(name);
                return sink.archive(name, location.isEmpty() ? Optional.empty() : Optional.of(location));
            }
            case 'm' -> {
                closeIfOpen(target);
                return sink.manifest();
            }
            case 'd' -> {
                target.write(p, 1, m.length() - 1);
                return target;
            }
            case 'p' -> {
                return target;
            }
            default -> throw new IOException("protocol error: unknown BASE_BACKUP CopyData type '" + (char) p[0] + "'");
        }
    }

    private static List<BaseBackupSink.Tablespace> tablespaces(QueryResult r) {
        List<BaseBackupSink.Tablespace> list = new ArrayList<>();
        for (List<String> row : r.rows()) {
            list.add(new BaseBackupSink.Tablespace(Optional.ofNullable(row.get(0)).map(Long::valueOf), Optional.ofNullable(row.get(1)),
                    row.size() > 2 ? Optional.ofNullable(row.get(2)).map(Long::valueOf) : Optional.empty()));
        }
        return list;
    }

    private static void closeIfOpen(OutputStream out) throws IOException {
        if (out != null) {
            out.close();
        }
    }

    @Override
    public void close() {
        wire.close();
    }
}

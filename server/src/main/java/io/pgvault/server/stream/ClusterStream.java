package io.pgvault.server.stream;

import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.PgServerException;
import io.pgvault.core.stream.WalReceiver;
import io.pgvault.core.stream.WalSink;
import io.pgvault.core.util.Backoff;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.server.catalog.ClusterRow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Follows one cluster for as long as it is registered for streaming: connects, streams
 * from where the repository ends, reconnects with backoff after any failure (primary
 * restarted, network, repository unavailable), and keeps a status for the API and the
 * metrics. Nothing here acknowledges WAL: {@link WalReceiver} reports to PostgreSQL only
 * what the sink stored.
 *
 * <p>It runs while this server holds the cluster's lease: before each connection it asks
 * {@code wanted} (the lease is still valid, the catalog still streams the cluster with these
 * settings) and ends when not. When the slot is still in use by a receiver that lost the
 * lease (its server paused, or cut off from the catalog) it ends that receiver's walsender, as
 * PostgreSQL would once {@code wal_sender_timeout} passed, instead of waiting for it.
 */
final class ClusterStream implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterStream.class);

    /**
     * Where the repository's WAL of this cluster ends: on its newest timeline, the segment to
     * stream from next (the one after the last complete segment, or the one whose head was
     * being streamed).
     */
    record RepositoryEnd(TimelineId timeline, long nextSegment) implements Comparable<RepositoryEnd> {
        @Override
        public int compareTo(RepositoryEnd o) {
            int byTimeline = timeline.compareTo(o.timeline);
            return byTimeline != 0 ? byTimeline : Long.compare(nextSegment, o.nextSegment);
        }
    }

    private final ClusterRow cluster;
    private final WalSink sink;
    private final StreamingConfig config;
    private final Supplier<Optional<RepositoryEnd>> repositoryEnd;
    private final Supplier<ClusterRow> current;
    private final java.util.function.BooleanSupplier wanted;
    private final String server;
    private final Thread thread;
    private final Object sleeper = new Object();

    private volatile boolean stopped;
    private volatile WalReceiver receiver;
    private volatile String state = "connecting";
    private volatile Instant connectedSince;
    private volatile String lastError;
    private volatile Instant lastErrorAt;
    private volatile long reconnects;
    private volatile SlotHealth slotHealth;
    private final RecoveryPointClock recoveryPoint = new RecoveryPointClock();
    private volatile boolean startAtServer;
    private volatile Lsn lastFlushed = Lsn.INVALID;
    private volatile Long lastTimeline;
    private volatile Instant lastFlushAt;

    /**
     * @param repositoryEnd reads where the repository's WAL ends, at each connection
     * @param current the cluster's row as the catalog has it now (its identity is fixed by the first segment)
     * @param wanted whether this stream should still run (checked before each connection)
     * @param server this server's id, for the status
     */
    ClusterStream(ClusterRow cluster, WalSink sink, StreamingConfig config, Supplier<Optional<RepositoryEnd>> repositoryEnd,
                  Supplier<ClusterRow> current, java.util.function.BooleanSupplier wanted, String server) {
        this.cluster = cluster;
        this.sink = sink;
        this.config = config;
        this.repositoryEnd = repositoryEnd;
        this.current = current;
        this.wanted = wanted;
        this.server = server;
        this.thread = new Thread(this, "stream-" + cluster.name());
        this.thread.setDaemon(true);
    }

    ClusterRow cluster() {
        return cluster;
    }

    void start() {
        thread.start();
    }

    /** Stops streaming after storing what was received, and waits for it. */
    void stop() throws InterruptedException {
        stopped = true;
        WalReceiver r = receiver;
        if (r != null) {
            r.stop();
        }
        synchronized (sleeper) {
            sleeper.notifyAll();
        }
        thread.join(Duration.ofSeconds(30).toMillis());
        state = "stopped";
    }

    @Override
    public void run() {
        Conninfo conninfo = Conninfo.parse(cluster.conninfo());
        WalReceiver.Settings settings = new WalReceiver.Settings(cluster.slot(), "pgvault", config.getFlushInterval(), config.flushBytes(),
                Math.toIntExact(config.getStatusInterval().toMillis()));
        int failures = 0;
        int takeovers = 0;
        LOG.info("Streaming {} from {}:{} with slot {}", cluster.name(), conninfo.host(), conninfo.port(), cluster.slot());
        while (!stopped) {
            if (!stillWanted()) {
                LOG.info("Streaming {} ends: this server no longer holds its lease, or the cluster's streaming settings changed", cluster.name());
                break;
            }
            WalReceiver r = new WalReceiver(conninfo, sink, settings);
            receiver = r;
            if (stopped) {
                break; // stop() ran between the loop's check and the assignment: it could not stop this receiver
            }
            state = "connecting";
            try {
                r.run(this::startPoint);
                if (!stopped) {
                    throw new IOException("the cluster ended the replication stream");
                }
            } catch (IOException | RuntimeException e) {
                if (stopped) {
                    break;
                }
                boolean progressed = r.flushed().compareTo(lastFlushed) > 0;
                failures = progressed ? 1 : failures + 1;
                takeovers = progressed ? 0 : takeovers;
                reconnects++;
                lastError = describe(e);
                lastErrorAt = Instant.now();
                state = "retrying";
                connectedSince = null;
                if (e instanceof PgServerException pg && "58P01".equals(pg.sqlState())) {
                    startAtServer = true;
                }
                LOG.warn("Streaming {} stopped: {}; reconnecting", cluster.name(), lastError);
                if (e instanceof PgServerException pg && OBJECT_IN_USE.equals(pg.sqlState()) && cluster.slot() != null && stillWanted()
                        && SlotInspector.endOtherReceiver(conninfo, cluster.slot())) {
                    // The walsender of a receiver that lost the lease held the slot: ended, so connect again at once; but
                    // not over and over (two servers that both believe they hold the lease, for a moment): then back off.
                    if (++takeovers <= 3) {
                        failures = 0;
                    }
                }
            } finally {
                if (r.flushed().isValid()) {
                    lastFlushed = r.flushed();
                }
                if (r.lastFlushAt() != null) {
                    lastFlushAt = r.lastFlushAt();
                }
            }
            sleep(backoff(failures));
        }
        state = "stopped";
        LOG.info("Streaming {} stopped", cluster.name());
    }

    /** Where a connection starts: where the repository ends, unless the cluster no longer has that WAL. */
    private WalReceiver.Position startPoint(WalReceiver.Server server) throws IOException {
        ClusterRow row = current.get();
        if (row.systemIdentifier() != null && !row.systemIdentifier().equals(server.systemIdentifier())) {
            throw new IOException("the conninfo reaches PostgreSQL system " + server.systemIdentifier() + ", but cluster '" + row.name()
                    + "' archives system " + row.systemIdentifier() + ": point it at the right server with pgvault cluster update "
                    + row.name() + " --conninfo '...'");
        }
        if (row.walSegmentSize() != null && row.walSegmentSize() != server.segmentSize().bytes()) {
            throw new IOException("the server's wal_segment_size is " + server.segmentSize() + ", but cluster '" + row.name()
                    + "' archives segments of " + new WalSegmentSize(row.walSegmentSize()));
        }
        // Where the repository ends; else where the slot holds WAL from (it was never confirmed stored);
        // else, for a new slot and an empty repository, here and now.
        WalReceiver.Position start = new WalReceiver.Position(server.position(), server.timeline());
        Optional<RepositoryEnd> end = repositoryEnd.get();
        if (startAtServer) {
            startAtServer = false;
            LOG.warn("Streaming {} starts at the cluster's current position {}: the WAL after the repository's end is no longer on the cluster",
                    row.name(), server.position());
        } else if (end.isPresent()) {
            start = resumeAt(server, end.get());
        } else if (server.slotRestart().isPresent()) {
            start = new WalReceiver.Position(server.slotRestart().get(), server.timeline());
        } else if (!server.slotCreated() && cluster.slot() != null) {
            LOG.warn("Streaming {}: slot {} exists but its position cannot be read (PostgreSQL {}); starting at the current position {}",
                    row.name(), cluster.slot(), server.major(), server.position());
        }
        if (server.slotCreated()) {
            LOG.info("Created replication slot {} on {}: the cluster keeps WAL until pgvault has stored it", cluster.slot(), row.name());
        }
        state = "streaming";
        connectedSince = Instant.now();
        lastTimeline = start.timeline().value();
        LOG.info("Streaming {} (PostgreSQL {}, system {}) from {} on timeline {}", row.name(), server.major(), server.systemIdentifier(),
                start.lsn(), start.timeline().value());
        return start;
    }

    /**
     * Where the repository ends, on its timeline; or, when the cluster has moved to a newer
     * timeline that forked before that point (a standby promoted that had not received all
     * the old primary sent), at the fork on the timeline that followed. The WAL the
     * repository holds past the fork is the old primary's and stays where it is.
     */
    private WalReceiver.Position resumeAt(WalReceiver.Server server, RepositoryEnd end) throws IOException {
        Lsn resume = server.segmentSize().startOf(end.nextSegment());
        if (server.timeline().value() <= end.timeline().value()) {
            return new WalReceiver.Position(resume, end.timeline());
        }
        TimelineHistory history = TimelineHistory.parse(server.timeline(), server.histories().read(server.timeline()));
        Optional<Lsn> fork = history.switchPointOf(end.timeline());
        if (fork.isEmpty() || !fork.get().isBefore(resume)) {
            return new WalReceiver.Position(resume, end.timeline());
        }
        TimelineId next = history.timelineAt(fork.get());
        for (long t = end.timeline().value() + 1; t <= next.value(); t++) {
            TimelineId tli = new TimelineId(t);
            sink.history(tli, server.histories().read(tli));
        }
        LOG.warn("Cluster {} forked from timeline {} at {}, before the repository's end {}: streaming timeline {} from the fork",
                current.get().name(), end.timeline().value(), fork.get(), resume, next.value());
        return new WalReceiver.Position(fork.get(), next);
    }

    /** PostgreSQL's answer to START_REPLICATION on a slot another walsender uses. */
    private static final String OBJECT_IN_USE = "55006";

    private boolean stillWanted() {
        return wanted.getAsBoolean();
    }

    private Duration backoff(int failures) {
        if (failures == 0) {
            return Duration.ofMillis(100);
        }
        return new Backoff(config.getRetryMin(), config.getRetryMax()).delay(failures);
    }

    private void sleep(Duration duration) {
        synchronized (sleeper) {
            if (stopped) {
                return;
            }
            try {
                sleeper.wait(duration.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopped = true;
            }
        }
    }

    private static String describe(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return e.getCause() != null && e.getCause().getMessage() != null && !message.contains(e.getCause().getMessage())
                ? message + ": " + e.getCause().getMessage() : message;
    }

    /** Reads the slot's health from the cluster (called by the service's timer). */
    void checkSlot() {
        if (cluster.slot() == null) {
            return;
        }
        Lsn stored = flushed();
        SlotHealth health = SlotInspector.inspect(Conninfo.parse(cluster.conninfo()), cluster.slot(), stored,
                config.retainedWalWarningBytes());
        SlotHealth previous = slotHealth;
        if (health.warning() != null && (previous == null || previous.warning() == null)) {
            LOG.warn("Cluster {}: {}", cluster.name(), health.warning());
        }
        slotHealth = health;
        if (health.lagBytes() != null) {
            recoveryPoint.observed(health.checkedAt(), stored.plus(health.lagBytes()), stored);
        }
    }

    Lsn flushed() {
        WalReceiver r = receiver;
        Lsn now = r == null ? Lsn.INVALID : r.flushed();
        return now.isValid() ? now : lastFlushed;
    }

    boolean streaming() {
        return "streaming".equals(state);
    }

    StreamStatus status() {
        WalReceiver r = receiver;
        Lsn flushed = flushed();
        TimelineId timeline = r == null ? null : r.timeline();
        return new StreamStatus(cluster.name(), cluster.slot(), state, timeline != null ? Long.valueOf(timeline.value()) : lastTimeline,
                flushed.isValid() ? flushed.toString() : null, r != null && r.lastFlushAt() != null ? r.lastFlushAt() : lastFlushAt, connectedSince, reconnects, lastError,
                lastErrorAt, slotHealth, recoveryPoint.caughtUpAt(), server);
    }
}

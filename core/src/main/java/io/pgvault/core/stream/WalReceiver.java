package io.pgvault.core.stream;

import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.PhysicalStream;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalPageHeader;
import io.pgvault.core.wal.WalSegmentSize;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Follows a cluster over physical streaming replication and hands what arrives to a
 * {@link WalSink}: each completed segment through the archive's ingest path, and the
 * unfinished one as a durable partial at a bounded interval (time or bytes, whichever
 * first), so a lost primary costs at most that interval of commits. PostgreSQL is told a
 * position is flushed only once the sink stored it, so the slot never lets go of WAL the
 * repository does not hold. Streaming starts at a segment boundary (as pg_receivewal
 * does) and follows timeline switches, storing each new timeline's history file.
 *
 * <p>One {@link #run} is one connection; the caller decides where each one starts and
 * reconnects after errors (the server's {@code ClusterStream} does, with backoff).
 */
public final class WalReceiver {

    /** @param slot physical slot to create (if missing) and stream from; null for none */
    public record Settings(String slot, String applicationName, Duration flushInterval, long flushBytes, int statusIntervalMillis) {
        public static Settings defaults(String slot) {
            return new Settings(slot, "pgvault", Duration.ofSeconds(1), 4L << 20, 1000);
        }
    }

    /**
     * What the server said about itself when the connection opened.
     *
     * @param slotRestart where the slot already held WAL from (PostgreSQL 15+), empty when it was just created
     * @param histories reads a timeline's history file from the server ({@code TIMELINE_HISTORY})
     */
    public record Server(String systemIdentifier, TimelineId timeline, Lsn position, WalSegmentSize segmentSize, int major,
                         boolean slotCreated, Optional<Lsn> slotRestart, Histories histories) {
    }

    /** Timeline history files, as the server has them. */
    @FunctionalInterface
    public interface Histories {
        byte[] read(TimelineId timeline) throws IOException;
    }

    /** Decides where streaming starts once connected, or refuses (a foreign system identifier) by throwing. */
    @FunctionalInterface
    public interface StartPoint {
        Position choose(Server server) throws IOException;
    }

    private final Conninfo conninfo;
    private final WalSink sink;
    private final Settings settings;
    private volatile boolean stopRequested;
    private volatile Lsn flushed = Lsn.INVALID;
    private volatile TimelineId timeline;
    private volatile Instant lastFlushAt;

    public WalReceiver(Conninfo conninfo, WalSink sink, Settings settings) {
        this.conninfo = conninfo;
        this.sink = sink;
        this.settings = settings;
    }

    /** Ends {@link #run} after its current message; what was received is flushed first. */
    public void stop() {
        stopRequested = true;
    }

    /** The end of what the sink has stored durably. */
    public Lsn flushed() {
        return flushed;
    }

    /** The timeline being streamed, null before the first connection. */
    public TimelineId timeline() {
        return timeline;
    }

    /** When the sink last stored something, null before that. */
    public Instant lastFlushAt() {
        return lastFlushAt;
    }

    /**
     * Connects, creates the slot if missing, streams from the segment holding the position
     * {@code start} chooses until {@link #stop()} or an error (the caller reconnects:
     * streaming resumes at a segment boundary, and the sink treats a segment it already
     * holds as a duplicate).
     *
     * @return where streaming ended: the next position and timeline to resume from
     */
    public Position run(StartPoint start) throws IOException {
        try (ReplicationConnection connection = ReplicationConnection.open(conninfo, settings.applicationName())) {
            ReplicationConnection.SystemIdentity identity = connection.identifySystem();
            WalSegmentSize segmentSize = connection.walSegmentSize();
            boolean created = settings.slot() != null && connection.createPhysicalSlot(settings.slot());
            Optional<Lsn> slotRestart = settings.slot() == null || created ? Optional.empty() : connection.slotRestartLsn(settings.slot());
            Position chosen = start.choose(new Server(identity.systemIdentifier(), identity.timeline(), identity.position(), segmentSize,
                    connection.serverMajor(), created, slotRestart, connection::timelineHistory));
            Position position = new Position(segmentSize.startOf(chosen.lsn().segmentNumber(segmentSize)), chosen.timeline());
            while (!stopRequested) {
                timeline = position.timeline();
                SegmentHandler handler = new SegmentHandler(position, segmentSize);
                PhysicalStream.End end = connection.streamPhysical(settings.slot(), position.lsn(), position.timeline(), handler,
                        settings.statusIntervalMillis());
                handler.flushPartial();
                if (end.nextTimeline().isEmpty()) {
                    return new Position(handler.written, position.timeline());
                }
                TimelineId next = end.nextTimeline().get();
                sink.history(next, connection.timelineHistory(next));
                Lsn switchPoint = end.nextTimelineStart().orElse(handler.written);
                position = new Position(segmentSize.startOf(switchPoint.segmentNumber(segmentSize)), next);
            }
            return position;
        }
    }

    /** A place in the WAL: where to stream from next. */
    public record Position(Lsn lsn, TimelineId timeline) {
    }

    /** Collects one segment at a time; all calls come from the streaming thread. */
    private final class SegmentHandler implements PhysicalStream.Handler {
        private final TimelineId timeline;
        private final WalSegmentSize segmentSize;
        private final byte[] segment;
        private Lsn segmentStart;
        private int filled;
        private int flushedUpTo;
        private long lastFlushNanos = System.nanoTime();
        private Lsn written;

        SegmentHandler(Position position, WalSegmentSize segmentSize) {
            this.timeline = position.timeline();
            this.segmentSize = segmentSize;
            this.segment = new byte[Math.toIntExact(segmentSize.bytes())];
            this.segmentStart = position.lsn();
            this.written = position.lsn();
            flushed = position.lsn();
        }

        @Override
        public void wal(Lsn start, byte[] data, int offset, int length) throws IOException {
            if (!start.equals(written)) {
                throw new IOException("the server sent WAL from " + start + " but the stream was at " + written + ": a gap");
            }
            while (length > 0) {
                int take = Math.min(length, segment.length - filled);
                System.arraycopy(data, offset, segment, filled, take);
                filled += take;
                offset += take;
                length -= take;
                written = written.plus(take);
                if (filled == segment.length) {
                    sink.segment(currentName(), segment);
                    flushed = segmentStart.plus(segment.length);
                    segmentStart = flushed;
                    filled = 0;
                    flushedUpTo = 0;
                    lastFlushNanos = System.nanoTime();
                    lastFlushAt = Instant.now();
                }
            }
            if (filled - flushedUpTo >= settings.flushBytes()) {
                flushPartial();
            }
        }

        @Override
        public void tick() throws IOException {
            if (System.nanoTime() - lastFlushNanos >= settings.flushInterval().toNanos()) {
                flushPartial();
            }
        }

        void flushPartial() throws IOException {
            lastFlushNanos = System.nanoTime();
            // Below a page header there is no record to keep, and the head could not describe itself.
            if (filled > flushedUpTo && filled >= WalPageHeader.LONG_HEADER_BYTES) {
                sink.partial(currentName(), segment, filled);
                flushedUpTo = filled;
                flushed = segmentStart.plus(filled);
                lastFlushAt = Instant.now();
            }
        }

        private WalFileName currentName() {
            return WalFileName.segmentOf(timeline, segmentStart, segmentSize);
        }

        @Override
        public Lsn written() {
            return written;
        }

        @Override
        public Lsn flushed() {
            return flushed;
        }

        @Override
        public boolean stopRequested() {
            return stopRequested;
        }
    }
}

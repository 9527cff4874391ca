package io.pgvault.core.stream;

import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.PhysicalStream;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;

import java.io.IOException;
import java.time.Duration;

/**
 * Follows a cluster over physical streaming replication and hands what arrives to a
 * {@link WalSink}: each completed segment through the archive's ingest path, and the
 * unfinished one as a durable partial at a bounded interval (time or bytes, whichever
 * first), so a lost primary costs at most that interval of commits. PostgreSQL is told a
 * position is flushed only once the sink stored it, so the slot never lets go of WAL the
 * repository does not hold. Streaming starts at a segment boundary (as pg_receivewal
 * does) and follows timeline switches, storing each new timeline's history file.
 *
 * <p>Not yet wired into the server (issue #7): the server will run one per streamed
 * cluster with reconnects, slot health and metrics.
 */
public final class WalReceiver {

    /** @param slot physical slot to create (if missing) and stream from; null for none */
    public record Settings(String slot, Duration flushInterval, long flushBytes, int statusIntervalMillis) {
        public static Settings defaults(String slot) {
            return new Settings(slot, Duration.ofSeconds(1), 4L << 20, 1000);
        }
    }

    private final Conninfo conninfo;
    private final WalSink sink;
    private final WalSegmentSize segmentSize;
    private final Settings settings;
    private volatile boolean stopRequested;
    private volatile Lsn flushed = Lsn.INVALID;

    public WalReceiver(Conninfo conninfo, WalSink sink, WalSegmentSize segmentSize, Settings settings) {
        this.conninfo = conninfo;
        this.sink = sink;
        this.segmentSize = segmentSize;
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

    /**
     * Streams from the segment holding {@code from} on {@code timeline} until {@link #stop()}
     * or an error (the caller reconnects: streaming resumes at a segment boundary, and the
     * sink treats a segment it already holds as a duplicate).
     *
     * @return where streaming ended: the next position and timeline to resume from
     */
    public Position run(Lsn from, TimelineId timeline) throws IOException {
        try (ReplicationConnection connection = ReplicationConnection.open(conninfo, "pgvault")) {
            if (settings.slot() != null) {
                connection.createPhysicalSlot(settings.slot());
            }
            Position position = new Position(segmentStart(from), timeline);
            while (!stopRequested) {
                SegmentHandler handler = new SegmentHandler(position);
                PhysicalStream.End end = connection.streamPhysical(settings.slot(), position.lsn(), position.timeline(), handler,
                        settings.statusIntervalMillis());
                handler.flushPartial();
                if (end.nextTimeline().isEmpty()) {
                    return new Position(handler.written, position.timeline());
                }
                TimelineId next = end.nextTimeline().get();
                sink.history(next, connection.timelineHistory(next));
                position = new Position(segmentStart(end.nextTimelineStart().orElse(handler.written)), next);
            }
            return position;
        }
    }

    /** A place in the WAL: where to stream from next. */
    public record Position(Lsn lsn, TimelineId timeline) {
    }

    private Lsn segmentStart(Lsn lsn) {
        return segmentSize.startOf(lsn.segmentNumber(segmentSize));
    }

    /** Collects one segment at a time; all calls come from the streaming thread. */
    private final class SegmentHandler implements PhysicalStream.Handler {
        private final TimelineId timeline;
        private final byte[] segment = new byte[Math.toIntExact(segmentSize.bytes())];
        private Lsn segmentStart;
        private int filled;
        private int flushedUpTo;
        private long lastFlushNanos = System.nanoTime();
        private Lsn written;

        SegmentHandler(Position position) {
            this.timeline = position.timeline();
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
            if (filled > flushedUpTo) {
                sink.partial(currentName(), segment, filled);
                flushedUpTo = filled;
                flushed = segmentStart.plus(filled);
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

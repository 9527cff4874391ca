package io.pgvault.core.pgproto;

import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.time.Instant;
import java.util.Optional;

/**
 * Physical streaming replication ({@code START_REPLICATION ... PHYSICAL}), the client
 * side of walsender.c: WAL arrives as XLogData messages in CopyBoth mode, and the client
 * reports how far it has written and flushed with standby status updates. A slot only
 * lets go of WAL up to the flush position reported, so a receiver reports there only
 * what it has stored durably.
 */
public final class PhysicalStream {

    /** What the receiver does with the stream. Called on the streaming thread. */
    public interface Handler {

        /** WAL bytes starting at {@code start}, in order and without gaps. */
        void wal(Lsn start, byte[] data, int offset, int length) throws IOException;

        /** Called at least every poll interval, idle or not: time to flush on a timer. */
        void tick() throws IOException;

        /** End of WAL received so far (the write position to report). */
        Lsn written();

        /** End of WAL stored durably (the flush position to report; the slot keeps what is after it). */
        Lsn flushed();

        /** True to end streaming cleanly (CopyDone). */
        boolean stopRequested();
    }

    /**
     * How streaming ended: the server finished the timeline (a promotion happened) and
     * says where the next one starts, or the client asked to stop.
     */
    public record End(Optional<TimelineId> nextTimeline, Optional<Lsn> nextTimelineStart) {
    }

    private static final long POSTGRES_EPOCH_MICROS = 946_684_800_000_000L;

    private final WireConnection wire;
    private final int statusIntervalMillis;

    PhysicalStream(WireConnection wire, int statusIntervalMillis) {
        this.wire = wire;
        this.statusIntervalMillis = statusIntervalMillis;
    }

    End run(String slot, Lsn start, TimelineId timeline, Handler handler) throws IOException {
        String command = "START_REPLICATION " + (slot == null ? "" : "SLOT " + slot + " ") + "PHYSICAL " + start + " TIMELINE " + timeline.value();
        wire.sendQuery(command);
        WireConnection.Message first = wire.read();
        if (first.type() != 'W') {
            throw wire.unexpected(first, command);
        }
        long lastStatus = 0;
        boolean stopping = false;
        while (true) {
            Optional<WireConnection.Message> next = wire.poll(statusIntervalMillis);
            handler.tick();
            if (next.isPresent()) {
                WireConnection.Message m = next.get();
                if (m.type() == 'd') {
                    byte[] payload = m.payload();
                    if (payload[0] == 'w') {
                        WireConnection.Reader r = m.reader();
                        r.byte8();
                        long dataStart = r.int64();
                        r.int64();
                        r.int64();
                        int header = r.position();
                        handler.wal(Lsn.of(dataStart), payload, header, payload.length - header);
                    } else if (payload[0] == 'k') {
                        WireConnection.Reader r = m.reader();
                        r.byte8();
                        r.int64();
                        r.int64();
                        if (r.byte8() == 1) {
                            lastStatus = 0;
                        }
                    }
                } else if (m.type() == 'c') {
                    // The server ended the timeline (or confirms our CopyDone).
                    if (!stopping) {
                        wire.send('c', new byte[0]);
                    }
                    return finish(command);
                } else if (m.type() != 'N' && m.type() != 'S') {
                    throw wire.unexpected(m, command);
                }
            }
            long now = System.currentTimeMillis();
            if (!stopping && now - lastStatus >= statusIntervalMillis) {
                sendStatus(handler.written(), handler.flushed());
                lastStatus = now;
            }
            if (!stopping && handler.stopRequested()) {
                sendStatus(handler.written(), handler.flushed());
                wire.send('c', new byte[0]);
                stopping = true;
            }
        }
    }

    /** After CopyDone both ways: a result set naming the next timeline (when the server ended it), CommandComplete, ReadyForQuery. */
    private End finish(String command) throws IOException {
        Optional<TimelineId> nextTimeline = Optional.empty();
        Optional<Lsn> nextStart = Optional.empty();
        while (true) {
            WireConnection.Message m = wire.read();
            switch (m.type()) {
                case 'D' -> {
                    WireConnection.Reader r = m.reader();
                    int columns = r.int16();
                    String[] values = new String[columns];
                    for (int i = 0; i < columns; i++) {
                        int length = r.int32();
                        values[i] = length < 0 ? null : new String(r.bytes(length), java.nio.charset.StandardCharsets.UTF_8);
                    }
                    nextTimeline = Optional.of(new TimelineId(Long.parseLong(values[0])));
                    nextStart = Optional.of(Lsn.parse(values[1]));
                }
                case 'Z' -> {
                    return new End(nextTimeline, nextStart);
                }
                case 'd' -> {
                    // WAL still in flight when we asked to stop: the caller did not want it
                }
                case 'T', 'C', 'N', 'S', 'c' -> {
                    // row description, completion, notices
                }
                default -> throw wire.unexpected(m, command);
            }
        }
    }

    /**
     * Reads the server's clock: streaming starts at {@code at} (the end of its WAL), a status
     * update asks for a reply, and the first keepalive or XLogData message carries the
     * walsender's clock (its {@code sendTime}); then CopyDone. Without a slot nothing is kept on
     * the server, and the update reports no position at all (0/0), so that even a
     * {@code synchronous_standby_names} of {@code *} never counts this connection as a standby
     * that has WAL it never received. Every wait is bounded by {@code timeoutMillis}; after a
     * timeout (an IOException) the connection is unusable.
     *
     * @return empty when the timeline ended at {@code at} (the server was promoted meanwhile)
     */
    Optional<Instant> clock(Lsn at, TimelineId timeline, int timeoutMillis) throws IOException {
        String command = "START_REPLICATION PHYSICAL " + at + " TIMELINE " + timeline.value();
        wire.readTimeout(timeoutMillis);
        try {
            wire.sendQuery(command);
            WireConnection.Message first = wire.read();
            if (first.type() == 'T' || first.type() == 'D' || first.type() == 'C') {
                // No CopyBoth: the timeline ends at that point, and the server names the next one, then ReadyForQuery.
                while (wire.read().type() != 'Z') {
                    // the next timeline's result set
                }
                return Optional.empty();
            }
            if (first.type() != 'W') {
                throw wire.unexpected(first, command);
            }
            sendStatus(Lsn.of(0), Lsn.of(0), true);
            Optional<Instant> clock = Optional.empty();
            while (clock.isEmpty()) {
                WireConnection.Message m = wire.read();
                char kind = m.type() == 'd' && m.length() > 0 ? (char) m.payload()[0] : 0;
                if (kind == 'k' || kind == 'w') {
                    // 'k': byte, walEnd, sendTime; 'w': byte, dataStart, walEnd, sendTime.
                    WireConnection.Reader r = m.reader();
                    r.byte8();
                    r.int64();
                    if (kind == 'w') {
                        r.int64();
                    }
                    clock = Optional.of(fromPostgresMicros(r.int64()));
                } else if (m.type() == 'c') {
                    // The server ended the timeline before sending anything else.
                    wire.send('c', new byte[0]);
                    finish(command);
                    return clock;
                } else if (m.type() != 'd' && m.type() != 'N' && m.type() != 'S') {
                    throw wire.unexpected(m, command);
                }
            }
            wire.send('c', new byte[0]);
            // The server answers with CopyDone, after WAL it had already sent.
            WireConnection.Message m;
            while ((m = wire.read()).type() != 'c') {
                if (m.type() != 'd' && m.type() != 'N' && m.type() != 'S') {
                    throw wire.unexpected(m, command);
                }
            }
            finish(command);
            return clock;
        } finally {
            wire.readTimeout(0);
        }
    }

    private static Instant fromPostgresMicros(long micros) {
        long unixMicros = micros + POSTGRES_EPOCH_MICROS;
        return Instant.ofEpochSecond(Math.floorDiv(unixMicros, 1_000_000L), Math.floorMod(unixMicros, 1_000_000L) * 1000);
    }

    private void sendStatus(Lsn written, Lsn flushed) throws IOException {
        sendStatus(written, flushed, false);
    }

    private void sendStatus(Lsn written, Lsn flushed, boolean replyRequested) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(34);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeByte('r');
        out.writeLong(written.value());
        out.writeLong(flushed.value());
        // Apply: a receiver does not replay; report the flush position, as pg_receivewal does.
        out.writeLong(flushed.value());
        out.writeLong(System.currentTimeMillis() * 1000 - POSTGRES_EPOCH_MICROS);
        out.writeByte(replyRequested ? 1 : 0);
        wire.send('d', bytes.toByteArray());
    }
}

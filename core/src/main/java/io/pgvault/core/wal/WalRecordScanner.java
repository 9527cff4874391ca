package io.pgvault.core.wal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * Walks the records of consecutive WAL segments and reports the ones a recovery target
 * can name: transaction commits and aborts (xid, commit time) and named restore points.
 * This is what lets {@code recover} check a target against the archive before copying a
 * byte, and {@code info} say how far each timeline can be recovered.
 *
 * <p>Only the framing is decoded (page headers, record headers, continuation across
 * pages and segments, CRC-32C, XLOG_SWITCH padding), as in PostgreSQL's xlogreader.c;
 * the payload is read only for the three record kinds above. A record whose CRC does
 * not match, or a page that was never written, ends the valid WAL, as it ends replay.
 * WAL is little-endian on every platform pgvault runs on.
 */
public final class WalRecordScanner {

    /** What a recovery target can stop at. */
    public enum Kind { COMMIT, ABORT, RESTORE_POINT }

    /**
     * @param start where the record begins (what {@code recovery_target_lsn} compares)
     * @param end where the next record may begin (MAXALIGNed, as PostgreSQL reports it)
     * @param xid the transaction, for commits and aborts
     * @param name the restore point's name, else null
     */
    public record Event(Kind kind, Lsn start, Lsn end, long xid, Instant time, String name) {
    }

    private static final int BLCKSZ = 8192;
    private static final int SHORT_PAGE_HEADER = 24;
    private static final int XLP_FIRST_IS_CONTRECORD = 0x0001;
    private static final int RECORD_HEADER = 24;
    private static final int CRC_OFFSET = 20;
    private static final int RM_XLOG_ID = 0;
    private static final int RM_XACT_ID = 1;
    private static final int XLOG_SWITCH = 0x40;
    private static final int XLOG_RESTORE_POINT = 0x70;
    private static final int XLOG_XACT_OPMASK = 0x70;
    private static final int XLOG_XACT_COMMIT = 0x00;
    private static final int XLOG_XACT_ABORT = 0x20;
    private static final int XLR_MAX_BLOCK_ID = 32;
    private static final int XLR_BLOCK_ID_DATA_SHORT = 255;
    private static final int XLR_BLOCK_ID_DATA_LONG = 254;
    private static final int XLR_BLOCK_ID_ORIGIN = 253;
    private static final int XLR_BLOCK_ID_TOPLEVEL_XID = 252;
    private static final int BKPBLOCK_HAS_IMAGE = 0x10;
    private static final int BKPBLOCK_SAME_REL = 0x80;
    private static final int BKPIMAGE_HAS_HOLE = 0x01;
    private static final long POSTGRES_EPOCH_SECONDS = 946_684_800L;

    private final Consumer<Event> sink;

    private long expectedNext = -1;
    private byte[] pending;
    private int pendingFilled;
    private long pendingStart;
    private PgMajor major = PgMajor.PG15;
    private Lsn endOfValidWal = Lsn.INVALID;
    private boolean ended;

    public WalRecordScanner(Consumer<Event> sink) {
        this.sink = sink;
    }

    /**
     * Where replay of this one segment would stop: the end of its last complete, valid
     * record that begins in it ({@link Lsn#INVALID} when none does).
     */
    public static Lsn endOfValidWal(Lsn segmentStart, byte[] segment) {
        WalRecordScanner scanner = new WalRecordScanner(event -> { });
        scanner.accept(segmentStart, segment);
        return scanner.endOfValidWal();
    }

    /** End of the last complete, valid record seen; where replay of what was fed would stop. */
    public Lsn endOfValidWal() {
        return endOfValidWal;
    }

    /** True once a record or page showed that WAL ends inside the segments fed so far. */
    public boolean reachedEnd() {
        return ended;
    }

    /**
     * Feeds one whole segment. Segments must come in order; after a gap the scanner
     * starts again at the first record that begins in the new segment.
     */
    public void accept(Lsn segmentStart, byte[] segment) {
        long base = segmentStart.value();
        if (base != expectedNext) {
            pending = null;
            ended = false;
        }
        if (ended) {
            return;
        }
        expectedNext = base + segment.length;
        ByteBuffer buf = ByteBuffer.wrap(segment).order(ByteOrder.LITTLE_ENDIAN);
        for (int page = 0; page < segment.length; page += BLCKSZ) {
            int magic = buf.getShort(page) & 0xffff;
            int info = buf.getShort(page + 2) & 0xffff;
            long pageAddress = buf.getLong(page + 8);
            if (pageAddress != base + page) {
                end();
                return;
            }
            PgMajor.byPageMagic(magic).ifPresent(m -> major = m);
            int remaining = buf.getInt(page + 16);
            int pos = page + ((info & WalPageHeader.XLP_LONG_HEADER) != 0 ? WalPageHeader.LONG_HEADER_BYTES : SHORT_PAGE_HEADER);
            int pageEnd = page + BLCKSZ;
            if ((info & XLP_FIRST_IS_CONTRECORD) != 0) {
                int take = Math.min(remaining, pageEnd - pos);
                if (pending != null) {
                    if (remaining != pending.length - pendingFilled) {
                        end();
                        return;
                    }
                    System.arraycopy(segment, pos, pending, pendingFilled, take);
                    pendingFilled += take;
                    if (pendingFilled == pending.length) {
                        byte[] record = pending;
                        pending = null;
                        if (!complete(record, pendingStart, base + pos + take)) {
                            return;
                        }
                    }
                }
                pos = align(pos + take);
            } else if (pending != null) {
                end();
                return;
            }
            while (pos < pageEnd) {
                int total = buf.getInt(pos);
                if (total == 0) {
                    end();
                    return;
                }
                if (total < RECORD_HEADER) {
                    end();
                    return;
                }
                int available = pageEnd - pos;
                if (total <= available) {
                    byte[] record = new byte[total];
                    System.arraycopy(segment, pos, record, 0, total);
                    if (!complete(record, base + pos, base + pos + total)) {
                        return;
                    }
                    if (switched(record)) {
                        return;
                    }
                    pos = align(pos + total);
                } else {
                    pending = new byte[total];
                    pendingStart = base + pos;
                    System.arraycopy(segment, pos, pending, 0, available);
                    pendingFilled = available;
                    pos = pageEnd;
                }
            }
        }
    }

    private void end() {
        pending = null;
        ended = true;
    }

    private static int align(int pos) {
        return (pos + 7) & ~7;
    }

    private static boolean switched(byte[] record) {
        return (record[17] & 0xff) == RM_XLOG_ID && (record[16] & 0xf0) == XLOG_SWITCH;
    }

    /** @return false when the record is damaged, which ends the valid WAL */
    private boolean complete(byte[] record, long start, long end) {
        ByteBuffer rec = ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        crc.update(record, RECORD_HEADER, record.length - RECORD_HEADER);
        crc.update(record, 0, CRC_OFFSET);
        if ((int) crc.getValue() != rec.getInt(CRC_OFFSET)) {
            end();
            return false;
        }
        // Records start MAXALIGNed: the next one (and the LSN PostgreSQL reports for this one's end) is aligned.
        end = (end + 7) & ~7L;
        endOfValidWal = Lsn.of(end);
        int info = record[16] & 0xff;
        int rmid = record[17] & 0xff;
        if (rmid == RM_XACT_ID) {
            int op = info & XLOG_XACT_OPMASK;
            if (op == XLOG_XACT_COMMIT || op == XLOG_XACT_ABORT) {
                int main = mainDataOffset(rec);
                if (main >= 0 && main + 8 <= record.length) {
                    long xid = Integer.toUnsignedLong(rec.getInt(4));
                    sink.accept(new Event(op == XLOG_XACT_COMMIT ? Kind.COMMIT : Kind.ABORT, Lsn.of(start), Lsn.of(end), xid,
                            timestamp(rec.getLong(main)), null));
                }
            }
        } else if (rmid == RM_XLOG_ID && (info & 0xf0) == XLOG_RESTORE_POINT) {
            int main = mainDataOffset(rec);
            if (main >= 0 && main + 8 < record.length) {
                int nameEnd = main + 8;
                while (nameEnd < record.length && record[nameEnd] != 0) {
                    nameEnd++;
                }
                String name = new String(record, main + 8, nameEnd - main - 8, StandardCharsets.UTF_8);
                sink.accept(new Event(Kind.RESTORE_POINT, Lsn.of(start), Lsn.of(end), 0, timestamp(rec.getLong(main)), name));
            }
        }
        return true;
    }

    /**
     * Where the record's main data starts: it is the last part of the record, after the
     * block headers and block data (xlogrecord.h). Returns -1 when the headers do not add up.
     */
    private int mainDataOffset(ByteBuffer rec) {
        int length = rec.capacity();
        int pos = RECORD_HEADER;
        int compressedMask = major == PgMajor.PG14 ? 0x02 : 0x1c;
        while (pos < length) {
            int id = rec.get(pos++) & 0xff;
            if (id == XLR_BLOCK_ID_DATA_SHORT) {
                return length - (rec.get(pos) & 0xff);
            } else if (id == XLR_BLOCK_ID_DATA_LONG) {
                return length - rec.getInt(pos);
            } else if (id == XLR_BLOCK_ID_ORIGIN) {
                pos += 2;
            } else if (id == XLR_BLOCK_ID_TOPLEVEL_XID) {
                pos += 4;
            } else if (id <= XLR_MAX_BLOCK_ID) {
                int forkFlags = rec.get(pos) & 0xff;
                pos += 3;
                if ((forkFlags & BKPBLOCK_HAS_IMAGE) != 0) {
                    int imageInfo = rec.get(pos + 4) & 0xff;
                    pos += 5;
                    if ((imageInfo & BKPIMAGE_HAS_HOLE) != 0 && (imageInfo & compressedMask) != 0) {
                        pos += 2;
                    }
                }
                if ((forkFlags & BKPBLOCK_SAME_REL) == 0) {
                    pos += 12;
                }
                pos += 4;
            } else {
                return -1;
            }
        }
        return -1;
    }

    private static Instant timestamp(long microsSince2000) {
        return Instant.ofEpochSecond(POSTGRES_EPOCH_SECONDS + Math.floorDiv(microsSince2000, 1_000_000L),
                Math.floorMod(microsSince2000, 1_000_000L) * 1000L);
    }
}

package io.pgvault.core.wal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * Walks the records of consecutive WAL segments and reports the ones a recovery target
 * can name: transaction commits and aborts (xid, commit time), those of prepared
 * transactions ({@code COMMIT PREPARED}, {@code ROLLBACK PREPARED}) among them, and named
 * restore points.
 * This is what lets {@code recover} check a target against the archive before copying a
 * byte, {@code info} say how far each timeline can be recovered, and the server index
 * each segment as it arrives ({@link WalSegmentIndexer}).
 *
 * <p>Only the framing is decoded (page headers, record headers, continuation across
 * pages and segments, CRC-32C, XLOG_SWITCH padding), as in PostgreSQL's xlogreader.c;
 * the payload is read only for the three record kinds above. A record whose CRC does
 * not match, or a page that was never written, ends the valid WAL, as it ends replay.
 * WAL is little-endian on every platform pgvault runs on.
 *
 * <p>Pages are fed one at a time ({@link #startSegment}, {@link #page}), so a segment can be
 * scanned while it streams past; {@link #accept} feeds a whole segment. Records are checked
 * in place: only a record the scanner reports is copied, and a copy is bounded, so a crafted
 * length cannot make it allocate a gigabyte.
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

    /** The transaction id of an {@link Event} whose record holds it past what the scanner reads ({@link #MAX_KEPT_PREPARED}). */
    public static final long UNKNOWN_XID = -1;

    /**
     * A record that began in what was fed and did not end there: it continues in the next
     * segment. What its header says, when the header itself was fed whole.
     *
     * @param kind the record's kind when it is one a target can name, empty for any other record
     * @param headerKnown false when even the 24-byte header continues in the next segment
     * @param xid the transaction the header names: its first 8 bytes, which hold it, are always
     *     fed (records start 8-byte aligned), even when the rest of the header is cut
     * @param prepared the record ends a prepared transaction: the transaction it ends is in its
     *     body, not its header (whose xid is 0)
     */
    public record Unfinished(Lsn start, long length, boolean headerKnown, Optional<Kind> kind, long xid, boolean prepared) {

        /**
         * Whether the record, once read whole, could be what a target names: a commit or abort
         * of {@code targetXid} (when {@code targetXid >= 0}) or a restore point (when {@code restorePoint}).
         */
        public boolean mayBe(long targetXid, boolean restorePoint) {
            if (!headerKnown) {
                return cutRecordMayBe(length, xid, targetXid, restorePoint);
            }
            return kind.map(k -> k == Kind.RESTORE_POINT ? restorePoint : targetXid >= 0 && (prepared || xid == targetXid)).orElse(false);
        }
    }

    public static final int BLCKSZ = 8192;
    private static final int SHORT_PAGE_HEADER = 24;
    private static final int XLP_FIRST_IS_CONTRECORD = 0x0001;
    /** PostgreSQL 14+: the record the previous page began was never finished; this page starts afresh (xlogreader's overwrittenRecPtr). */
    private static final int XLP_FIRST_IS_OVERWRITE_CONTRECORD = 0x0008;
    /** SizeOfXLogRecord: a record's fixed header. */
    public static final int RECORD_HEADER = 24;
    private static final int CRC_OFFSET = 20;
    /** PostgreSQL's XLogRecordMaxSize: no valid record is longer. */
    public static final int MAX_RECORD = 1020 * 1024 * 1024;
    /**
     * How much of a reported record is copied: its header and the start of its main data,
     * where the time and a restore point's name are. A commit's subtransactions and
     * invalidations follow them and may run to megabytes; they are checked, not copied.
     */
    private static final int MAX_KEPT = 64 << 10;
    /**
     * The end of a prepared transaction names it after its subtransactions, dropped relations
     * and statistics and invalidation messages (xl_xact_twophase): up to this much of such a
     * record is copied, growing as its bytes arrive (a quarter of a million subtransactions fit).
     * The CRC is checked only at the record's end, so this is what crafted bytes can make a
     * scanner hold (each push the server indexes has one). The xid of a longer one is {@link #UNKNOWN_XID}.
     */
    static final int MAX_KEPT_PREPARED = 1 << 20;
    private static final int RM_XLOG_ID = 0;
    private static final int RM_XACT_ID = 1;
    private static final int XLOG_SWITCH = 0x40;
    private static final int XLOG_RESTORE_POINT = 0x70;
    private static final int XLOG_XACT_OPMASK = 0x70;
    private static final int XLOG_XACT_COMMIT = 0x00;
    private static final int XLOG_XACT_ABORT = 0x20;
    private static final int XLOG_XACT_COMMIT_PREPARED = 0x30;
    private static final int XLOG_XACT_ABORT_PREPARED = 0x40;
    /** The record has an xl_xact_xinfo saying which optional parts follow the time (xact.h). */
    private static final int XLOG_XACT_HAS_INFO = 0x80;
    private static final int XACT_XINFO_HAS_DBINFO = 1;
    private static final int XACT_XINFO_HAS_SUBXACTS = 1 << 1;
    private static final int XACT_XINFO_HAS_RELFILENODES = 1 << 2;
    private static final int XACT_XINFO_HAS_INVALS = 1 << 3;
    private static final int XACT_XINFO_HAS_TWOPHASE = 1 << 4;
    /** PostgreSQL 15+. */
    private static final int XACT_XINFO_HAS_DROPPED_STATS = 1 << 8;
    /** RelFileNode (14, 15), RelFileLocator (16+): three 4-byte ids. */
    private static final int RELFILE_BYTES = 12;
    private static final int SHARED_INVALIDATION_MESSAGE_BYTES = 16;
    private static final int XLR_MAX_BLOCK_ID = 32;
    private static final int XLR_BLOCK_ID_DATA_SHORT = 255;
    private static final int XLR_BLOCK_ID_DATA_LONG = 254;
    private static final int XLR_BLOCK_ID_ORIGIN = 253;
    private static final int XLR_BLOCK_ID_TOPLEVEL_XID = 252;
    /** The shortest commit or abort: the header, a short main data header, and the time (xl_xact_commit, xl_xact_abort). */
    private static final int MIN_TRANSACTION_RECORD = RECORD_HEADER + 2 + 8;
    /** The shortest restore point: the header, a short main data header, and xl_restore_point (a time and a 64-byte name). */
    private static final int MIN_RESTORE_POINT_RECORD = RECORD_HEADER + 2 + 8 + 64;
    private static final int BKPBLOCK_HAS_IMAGE = 0x10;
    private static final int BKPBLOCK_SAME_REL = 0x80;
    private static final int BKPIMAGE_HAS_HOLE = 0x01;
    private static final long POSTGRES_EPOCH_SECONDS = 946_684_800L;

    private final Consumer<Event> sink;

    /** Address of the next page expected; a segment that does not start there starts afresh. */
    private long expectedNext = -1;
    private PgMajor major = PgMajor.PG15;
    private Lsn endOfValidWal = Lsn.INVALID;
    private boolean ended;
    /** The rest of the segment after an XLOG_SWITCH record is padding. */
    private boolean switched;

    // The record being read, possibly across pages and segments.
    private boolean inRecord;
    private long recordStart;
    private int recordLength;
    private int recordFilled;
    private final byte[] header = new byte[RECORD_HEADER];
    private final CRC32C crc = new CRC32C();
    /** The whole record, for the kinds reported; null for any other record. */
    private byte[] kept;

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

    /** The record that began in what was fed and continues beyond it, if any. */
    public Optional<Unfinished> unfinished() {
        if (!inRecord || ended) {
            return Optional.empty();
        }
        boolean known = recordFilled >= RECORD_HEADER;
        return Optional.of(new Unfinished(Lsn.of(recordStart), recordLength, known, known ? reportedKind() : Optional.empty(),
                Integer.toUnsignedLong(ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getInt(4)), known && endsPreparedTransaction()));
    }

    /**
     * Whether a record whose header the end of a segment cut could be a commit or abort of
     * {@code xid} (when {@code xid >= 0}) or a restore point (when {@code restorePoint}). Its
     * kind is in the cut part; its length and transaction are not: too short for either kind,
     * or another transaction's, it is neither. Saves reading two segments to find out.
     *
     * @param headerXid the transaction its header names; null when not known (an index written before it was recorded)
     */
    public static boolean cutRecordMayBe(long length, Long headerXid, long xid, boolean restorePoint) {
        // COMMIT PREPARED and ROLLBACK PREPARED are written by a session with no transaction id of its own: their
        // header names transaction 0, the one they end is in their body.
        return restorePoint && length >= MIN_RESTORE_POINT_RECORD
                || xid >= 0 && length >= MIN_TRANSACTION_RECORD && (headerXid == null || headerXid == xid || headerXid == 0);
    }

    /**
     * Feeds one whole segment. Segments must come in order; after a gap the scanner
     * starts again at the first record that begins in the new segment.
     */
    public void accept(Lsn segmentStart, byte[] segment) {
        startSegment(segmentStart);
        for (int off = 0; off + BLCKSZ <= segment.length; off += BLCKSZ) {
            page(segment, off);
        }
    }

    /** Starts a segment whose pages {@link #page} then feeds in order. */
    public void startSegment(Lsn segmentStart) {
        if (segmentStart.value() != expectedNext) {
            inRecord = false;
            ended = false;
        }
        switched = false;
        expectedNext = segmentStart.value();
    }

    /** Feeds the next page of the current segment: {@link #BLCKSZ} bytes of {@code buf} from {@code off}. */
    public void page(byte[] buf, int off) {
        long address = expectedNext;
        expectedNext += BLCKSZ;
        if (ended || switched) {
            return;
        }
        ByteBuffer page = ByteBuffer.wrap(buf, off, BLCKSZ).order(ByteOrder.LITTLE_ENDIAN);
        int magic = page.getShort(off) & 0xffff;
        int info = page.getShort(off + 2) & 0xffff;
        if (page.getLong(off + 8) != address) {
            end();
            return;
        }
        PgMajor.byPageMagic(magic).ifPresent(m -> major = m);
        int remaining = page.getInt(off + 16);
        int pos = off + ((info & WalPageHeader.XLP_LONG_HEADER) != 0 ? WalPageHeader.LONG_HEADER_BYTES : SHORT_PAGE_HEADER);
        int pageEnd = off + BLCKSZ;
        if ((info & XLP_FIRST_IS_CONTRECORD) != 0 && (remaining < 0 || remaining > MAX_RECORD)) {
            end();
            return;
        }
        if (inRecord && (info & XLP_FIRST_IS_OVERWRITE_CONTRECORD) != 0) {
            // The record in progress was abandoned (a crash mid-record); WAL goes on with this page's first record.
            inRecord = false;
            kept = null;
        }
        if ((info & XLP_FIRST_IS_CONTRECORD) != 0) {
            int take = Math.min(remaining, pageEnd - pos);
            if (inRecord) {
                if (remaining != recordLength - recordFilled) {
                    end();
                    return;
                }
                consume(buf, pos, take);
                if (recordFilled == recordLength && !complete(address + (pos + take - off))) {
                    return;
                }
            }
            pos = off + align(pos + take - off);
        } else if (inRecord) {
            end();
            return;
        }
        while (pos < pageEnd && !switched) {
            int total = page.getInt(pos);
            if (total < RECORD_HEADER || total > MAX_RECORD) {
                // Zeros where the next record would be: WAL ends here (or it is damaged, which ends it as well).
                end();
                return;
            }
            inRecord = true;
            recordStart = address + (pos - off);
            recordLength = total;
            recordFilled = 0;
            kept = null;
            crc.reset();
            int take = Math.min(total, pageEnd - pos);
            consume(buf, pos, take);
            if (take < total) {
                return;
            }
            if (!complete(address + (pos + total - off))) {
                return;
            }
            pos = off + align(pos + total - off);
        }
    }

    /** Takes the next {@code len} bytes of the current record: its header first, the rest into the CRC (and the copy). */
    private void consume(byte[] buf, int off, int len) {
        int used = 0;
        if (recordFilled < RECORD_HEADER) {
            used = Math.min(RECORD_HEADER - recordFilled, len);
            System.arraycopy(buf, off, header, recordFilled, used);
            recordFilled += used;
            if (recordFilled == RECORD_HEADER && reportedKind().isPresent()) {
                kept = new byte[Math.min(recordLength, MAX_KEPT)];
                System.arraycopy(header, 0, kept, 0, RECORD_HEADER);
            }
        }
        int rest = len - used;
        if (rest > 0) {
            crc.update(buf, off + used, rest);
            if (kept != null) {
                int limit = Math.min(recordLength, endsPreparedTransaction() ? MAX_KEPT_PREPARED : MAX_KEPT);
                if (recordFilled + rest > kept.length && kept.length < limit) {
                    // Grown only as the record's bytes arrive: a header claiming a huge length allocates nothing by itself.
                    kept = Arrays.copyOf(kept, (int) Math.min(limit, Math.max(2L * kept.length, (long) recordFilled + rest)));
                }
                if (recordFilled < kept.length) {
                    System.arraycopy(buf, off + used, kept, recordFilled, Math.min(rest, kept.length - recordFilled));
                }
            }
            recordFilled += rest;
        }
    }

    /** The kind of the current record, from its header, when it is one the scanner reports. */
    private Optional<Kind> reportedKind() {
        int info = header[16] & 0xff;
        int rmid = header[17] & 0xff;
        if (rmid == RM_XACT_ID) {
            int op = info & XLOG_XACT_OPMASK;
            if (op == XLOG_XACT_COMMIT || op == XLOG_XACT_COMMIT_PREPARED) {
                return Optional.of(Kind.COMMIT);
            }
            if (op == XLOG_XACT_ABORT || op == XLOG_XACT_ABORT_PREPARED) {
                return Optional.of(Kind.ABORT);
            }
        } else if (rmid == RM_XLOG_ID && (info & 0xf0) == XLOG_RESTORE_POINT) {
            return Optional.of(Kind.RESTORE_POINT);
        }
        return Optional.empty();
    }

    /** Whether the current record, from its header, is a COMMIT PREPARED or ROLLBACK PREPARED. */
    private boolean endsPreparedTransaction() {
        int op = header[16] & XLOG_XACT_OPMASK;
        return (header[17] & 0xff) == RM_XACT_ID && (op == XLOG_XACT_COMMIT_PREPARED || op == XLOG_XACT_ABORT_PREPARED);
    }

    private void end() {
        inRecord = false;
        kept = null;
        ended = true;
    }

    /** Records start MAXALIGNed within their page. */
    private static int align(int offsetInPage) {
        return (offsetInPage + 7) & ~7;
    }

    /**
     * The current record is all read; {@code end} is the address just after its last byte.
     *
     * @return false when the record is damaged, which ends the valid WAL
     */
    private boolean complete(long end) {
        inRecord = false;
        ByteBuffer head = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        crc.update(header, 0, CRC_OFFSET);
        if ((int) crc.getValue() != head.getInt(CRC_OFFSET)) {
            end();
            return false;
        }
        // Records start MAXALIGNed: the next one (and the LSN PostgreSQL reports for this one's end) is aligned.
        long alignedEnd = (end + 7) & ~7L;
        endOfValidWal = Lsn.of(alignedEnd);
        int info = header[16] & 0xff;
        int rmid = header[17] & 0xff;
        if (rmid == RM_XLOG_ID && (info & 0xf0) == XLOG_SWITCH) {
            switched = true;
        }
        byte[] record = kept;
        kept = null;
        if (record != null) {
            report(record, recordLength, reportedKind().orElseThrow(), Lsn.of(recordStart), Lsn.of(alignedEnd));
        }
        return true;
    }

    /** @param record the record's first bytes (all of it, unless it is longer than {@link #MAX_KEPT}); {@code length} its length */
    private void report(byte[] record, int length, Kind kind, Lsn start, Lsn end) {
        ByteBuffer rec = ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN);
        int main = mainDataOffset(rec, length);
        if (kind == Kind.RESTORE_POINT) {
            if (main >= 0 && main + 8 < record.length) {
                int nameEnd = main + 8;
                while (nameEnd < record.length && record[nameEnd] != 0) {
                    nameEnd++;
                }
                String name = new String(record, main + 8, nameEnd - main - 8, StandardCharsets.UTF_8);
                sink.accept(new Event(Kind.RESTORE_POINT, start, end, 0, timestamp(rec.getLong(main)), name));
            }
        } else if (main >= 0 && main + 8 <= record.length) {
            long xid = endsPreparedTransaction() ? preparedXid(rec, main, length) : Integer.toUnsignedLong(rec.getInt(4));
            sink.accept(new Event(kind, start, end, xid, timestamp(rec.getLong(main)), null));
        }
    }

    /**
     * The transaction a COMMIT PREPARED or ROLLBACK PREPARED ends: its xl_xact_twophase, after
     * the optional parts its xinfo announces, in the order ParseCommitRecord and
     * ParseAbortRecord (xactdesc.c) read them. An abort has no invalidation messages; dropped
     * statistics exist from PostgreSQL 15, 16 bytes an item from 18 (a 64-bit object id).
     *
     * @return the xid, or {@link #UNKNOWN_XID} when it lies past what was kept or the parts do not add up
     */
    private long preparedXid(ByteBuffer rec, int main, int length) {
        int info = rec.get(16) & 0xff;
        boolean commit = (info & XLOG_XACT_OPMASK) == XLOG_XACT_COMMIT_PREPARED;
        int kept = rec.capacity();
        long pos = main + 8L;
        int xinfo = 0;
        if ((info & XLOG_XACT_HAS_INFO) != 0) {
            if (pos + 4 > kept) {
                return UNKNOWN_XID;
            }
            xinfo = rec.getInt((int) pos);
            pos += 4;
        }
        if ((xinfo & XACT_XINFO_HAS_DBINFO) != 0) {
            pos += 8;
        }
        pos = skipArray(rec, pos, (xinfo & XACT_XINFO_HAS_SUBXACTS) != 0, 4);
        pos = skipArray(rec, pos, (xinfo & XACT_XINFO_HAS_RELFILENODES) != 0, RELFILE_BYTES);
        pos = skipArray(rec, pos, major != PgMajor.PG14 && (xinfo & XACT_XINFO_HAS_DROPPED_STATS) != 0,
                major.number() >= 18 ? 16 : 12);
        pos = skipArray(rec, pos, commit && (xinfo & XACT_XINFO_HAS_INVALS) != 0, SHARED_INVALIDATION_MESSAGE_BYTES);
        if ((xinfo & XACT_XINFO_HAS_TWOPHASE) == 0 || pos < 0 || pos + 4 > Math.min(kept, length)) {
            return UNKNOWN_XID;
        }
        return Integer.toUnsignedLong(rec.getInt((int) pos));
    }

    /** Past an optional count-prefixed array of {@code itemBytes} items at {@code pos}; -1 once it cannot be read. */
    private static long skipArray(ByteBuffer rec, long pos, boolean present, int itemBytes) {
        if (pos < 0 || !present) {
            return pos;
        }
        if (pos + 4 > rec.capacity()) {
            return -1;
        }
        int count = rec.getInt((int) pos);
        return count < 0 ? -1 : pos + 4 + (long) count * itemBytes;
    }

    /**
     * Where the record's main data starts: it is the last part of the record, after the
     * block headers and block data (xlogrecord.h). Returns -1 when the headers do not add up.
     */
    private int mainDataOffset(ByteBuffer rec, int length) {
        int kept = rec.capacity();
        int pos = RECORD_HEADER;
        int compressedMask = major == PgMajor.PG14 ? 0x02 : 0x1c;
        while (pos < kept) {
            int id = rec.get(pos++) & 0xff;
            if (id == XLR_BLOCK_ID_DATA_SHORT) {
                return pos < kept ? length - (rec.get(pos) & 0xff) : -1;
            } else if (id == XLR_BLOCK_ID_DATA_LONG) {
                return pos + 4 <= kept ? length - rec.getInt(pos) : -1;
            } else if (id == XLR_BLOCK_ID_ORIGIN) {
                pos += 2;
            } else if (id == XLR_BLOCK_ID_TOPLEVEL_XID) {
                pos += 4;
            } else if (id <= XLR_MAX_BLOCK_ID) {
                if (pos + 3 > kept) {
                    return -1;
                }
                int forkFlags = rec.get(pos) & 0xff;
                pos += 3;
                if ((forkFlags & BKPBLOCK_HAS_IMAGE) != 0) {
                    if (pos + 5 > kept) {
                        return -1;
                    }
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

package io.pgvault.core.archive;

import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalRecordScanner;
import io.pgvault.core.wal.WalSegmentSize;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Builds a segment's {@link WalSegmentIndex} from its bytes as they stream past (the server
 * feeds it what it receives, in chunks of any size), so indexing costs no second read.
 * The segment's start is taken from its first page's address; {@link #index} then checks it
 * against the segment's name.
 */
public final class WalSegmentIndexer {

    private static final int BLCKSZ = WalRecordScanner.BLCKSZ;
    /** Where a page header holds the page's own address (xlp_pageaddr). */
    private static final int PAGE_ADDRESS_OFFSET = 8;

    private final WalRecordScanner scanner = new WalRecordScanner(this::event);
    private final byte[] page = new byte[BLCKSZ];
    private int filled;
    private Lsn start;
    private boolean failed;

    private long transactions;
    private long minXid = Long.MAX_VALUE;
    private long maxXid = Long.MIN_VALUE;
    private WalRecordScanner.Event last;
    private Instant earliest;
    private Instant latest;
    private final List<WalSegmentIndex.RestorePoint> restorePoints = new ArrayList<>();

    /** {@code in}, whose bytes this indexer sees as they are read. */
    public InputStream observing(InputStream in) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                if (b >= 0) {
                    update(new byte[] {(byte) b}, 0, 1);
                }
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    update(b, off, n);
                }
                return n;
            }

            @Override
            public long skip(long n) throws IOException {
                // Skipped bytes are still bytes of the segment: read them, so the index sees every page.
                byte[] buffer = new byte[(int) Math.min(Math.max(n, 0), 8192)];
                long skipped = 0;
                while (skipped < n) {
                    int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
                    if (r < 0) {
                        break;
                    }
                    skipped += r;
                }
                return skipped;
            }
        };
    }

    /** Takes the next bytes of the segment. */
    public void update(byte[] b, int off, int len) {
        while (len > 0) {
            if (filled == 0 && len >= BLCKSZ) {
                // A whole page in the caller's buffer: scanned in place.
                feed(b, off);
                off += BLCKSZ;
                len -= BLCKSZ;
                continue;
            }
            int n = Math.min(len, BLCKSZ - filled);
            System.arraycopy(b, off, page, filled, n);
            filled += n;
            off += n;
            len -= n;
            if (filled == BLCKSZ) {
                feed(page, 0);
                filled = 0;
            }
        }
    }

    private void feed(byte[] buf, int off) {
        if (failed) {
            return;
        }
        try {
            if (start == null) {
                start = Lsn.of(ByteBuffer.wrap(buf, off, BLCKSZ).order(ByteOrder.LITTLE_ENDIAN).getLong(off + PAGE_ADDRESS_OFFSET));
                scanner.startSegment(start);
            }
            scanner.page(buf, off);
        } catch (RuntimeException e) {
            // Bytes no PostgreSQL wrote: no index, and never a failed push (the index is an aid, the segment's own checks decide).
            failed = true;
        }
    }

    private void event(WalRecordScanner.Event e) {
        if (e.kind() == WalRecordScanner.Kind.RESTORE_POINT) {
            restorePoints.add(new WalSegmentIndex.RestorePoint(e.name(), e.time().toString(), e.start().toString(), e.end().toString()));
            return;
        }
        transactions++;
        if (e.xid() == WalRecordScanner.UNKNOWN_XID) {
            // A prepared transaction's end whose xid pgvault could not read: the segment may hold any transaction.
            minXid = 0;
            maxXid = 0xFFFF_FFFFL;
        } else {
            minXid = Math.min(minXid, e.xid());
            maxXid = Math.max(maxXid, e.xid());
        }
        last = e;
        earliest = earliest == null || e.time().isBefore(earliest) ? e.time() : earliest;
        latest = latest == null || e.time().isAfter(latest) ? e.time() : latest;
    }

    /**
     * The index of what was fed, when it was the whole segment {@code name} names: its first
     * page at the segment's start and nothing left over.
     */
    public Optional<WalSegmentIndex> index(WalFileName name, WalSegmentSize size) {
        if (failed || start == null || filled != 0 || !start.equals(name.startLsn(size))) {
            return Optional.empty();
        }
        WalSegmentIndex.Transaction lastTransaction = last == null ? null : new WalSegmentIndex.Transaction(
                last.kind() == WalRecordScanner.Kind.ABORT ? "abort" : "commit", last.xid(), last.time().toString(), last.start().toString(),
                last.end().toString());
        WalSegmentIndex.Unfinished unfinished = scanner.unfinished().map(u -> new WalSegmentIndex.Unfinished(u.start().toString(), u.length(),
                !u.headerKnown() ? "unknown" : u.kind().map(k -> kindName(k, u.prepared())).orElse("other"),
                !u.headerKnown() || !u.prepared() && u.kind().filter(k -> k != WalRecordScanner.Kind.RESTORE_POINT).isPresent() ? u.xid() : null))
                .orElse(null);
        Lsn end = scanner.endOfValidWal();
        return Optional.of(new WalSegmentIndex(WalSegmentIndex.FORMAT, name.toString(), end.isValid() ? end.toString() : null,
                scanner.reachedEnd(), transactions, transactions > 0 ? minXid : null, transactions > 0 ? maxXid : null, lastTransaction,
                earliest == null ? null : earliest.toString(), latest == null ? null : latest.toString(), restorePoints, unfinished));
    }

    private static String kindName(WalRecordScanner.Kind kind, boolean prepared) {
        return switch (kind) {
            case COMMIT -> prepared ? "commit-prepared" : "commit";
            case ABORT -> prepared ? "abort-prepared" : "abort";
            case RESTORE_POINT -> "restore-point";
        };
    }

    /** The index of a whole segment held in memory (a rebuild, a check). */
    public static Optional<WalSegmentIndex> of(WalFileName name, WalSegmentSize size, byte[] segment) {
        WalSegmentIndexer indexer = new WalSegmentIndexer();
        indexer.update(segment, 0, segment.length);
        return indexer.index(name, size);
    }
}

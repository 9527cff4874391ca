package io.pgvault.core.wal;

/**
 * A cluster's {@code wal_segment_size}: a power of two from 1 MiB to 1 GiB, fixed at
 * {@code initdb}. Never assume 16 MiB; every segment computation takes one of these.
 */
public record WalSegmentSize(long bytes) {

    public static final long MIN_BYTES = 1L << 20;
    public static final long MAX_BYTES = 1L << 30;
    public static final WalSegmentSize DEFAULT = new WalSegmentSize(16L << 20);

    private static final long XLOG_ID_SPAN = 0x1_0000_0000L;

    public WalSegmentSize {
        if (bytes < MIN_BYTES || bytes > MAX_BYTES || Long.bitCount(bytes) != 1) {
            throw new IllegalArgumentException("WAL segment size " + bytes
                    + " bytes is not valid: expected a power of two from 1 MiB (1048576) to 1 GiB (1073741824), as initdb --wal-segsize allows");
        }
    }

    public static WalSegmentSize ofMegabytes(int megabytes) {
        return new WalSegmentSize((long) megabytes << 20);
    }

    /** How many segments share one "xlogid" (the middle 8 hex digits of a file name). */
    public long segmentsPerXLogId() {
        return XLOG_ID_SPAN / bytes;
    }

    /** First WAL position of a segment. */
    public Lsn startOf(long segmentNumber) {
        return Lsn.of(segmentNumber * bytes);
    }

    @Override
    public String toString() {
        return bytes % (1L << 20) == 0 ? (bytes >> 20) + "MB" : bytes + "B";
    }
}

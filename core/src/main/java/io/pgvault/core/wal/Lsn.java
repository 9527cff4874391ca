package io.pgvault.core.wal;

import java.util.Locale;

/**
 * A WAL position (PostgreSQL's {@code XLogRecPtr}): an unsigned 64-bit byte offset into
 * the endless WAL stream, written {@code X/Y} with both halves in hex.
 *
 * <p>Immutable; ordering is unsigned. {@link #INVALID} (0/0) is the "no position" value
 * PostgreSQL uses.
 */
public final class Lsn implements Comparable<Lsn> {

    public static final Lsn INVALID = new Lsn(0);

    private final long value;

    private Lsn(long value) {
        this.value = value;
    }

    public static Lsn of(long value) {
        return value == 0 ? INVALID : new Lsn(value);
    }

    /**
     * Parses the {@code X/Y} text form ({@code 16/B374D848}).
     *
     * @throws IllegalArgumentException naming the text and the expected form
     */
    public static Lsn parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("LSN is missing: expected the form X/Y in hex, e.g. 16/B374D848");
        }
        String trimmed = text.trim();
        int slash = trimmed.indexOf('/');
        if (slash <= 0 || slash == trimmed.length() - 1 || slash > 8 || trimmed.length() - slash - 1 > 8) {
            throw new IllegalArgumentException("'" + text + "' is not an LSN: expected the form X/Y with up to 8 hex digits each side, e.g. 16/B374D848");
        }
        String hiText = trimmed.substring(0, slash);
        String loText = trimmed.substring(slash + 1);
        if (!isHexDigits(hiText) || !isHexDigits(loText)) {
            throw new IllegalArgumentException("'" + text + "' is not an LSN: expected the form X/Y with hex digits on both sides, e.g. 16/B374D848");
        }
        return of((Long.parseLong(hiText, 16) << 32) | Long.parseLong(loText, 16));
    }

    private static boolean isHexDigits(String s) {
        return !s.isEmpty() && s.chars().allMatch(c -> Character.digit(c, 16) >= 0 && c < 128);
    }

    public long value() {
        return value;
    }

    public boolean isValid() {
        return value != 0;
    }

    /** The number of the segment this position falls in, for a cluster's segment size. */
    public long segmentNumber(WalSegmentSize segmentSize) {
        return Long.divideUnsigned(value, segmentSize.bytes());
    }

    /** Byte offset of this position inside its segment. */
    public long segmentOffset(WalSegmentSize segmentSize) {
        return Long.remainderUnsigned(value, segmentSize.bytes());
    }

    public Lsn plus(long bytes) {
        return of(value + bytes);
    }

    /** Bytes from {@code other} to this position; negative when {@code other} is later. */
    public long minus(Lsn other) {
        return value - other.value;
    }

    public boolean isBefore(Lsn other) {
        return compareTo(other) < 0;
    }

    public boolean isAfter(Lsn other) {
        return compareTo(other) > 0;
    }

    @Override
    public int compareTo(Lsn other) {
        return Long.compareUnsigned(value, other.value);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Lsn other && other.value == value;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(value);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%X/%X", value >>> 32, value & 0xFFFFFFFFL);
    }
}

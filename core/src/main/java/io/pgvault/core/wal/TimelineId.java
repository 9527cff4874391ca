package io.pgvault.core.wal;

import java.util.Locale;

/** A PostgreSQL timeline: an unsigned 32-bit number starting at 1. */
public record TimelineId(long value) implements Comparable<TimelineId> {

    public static final TimelineId FIRST = new TimelineId(1);

    public TimelineId {
        if (value < 1 || value > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("timeline " + value + " is not valid: expected 1 to 4294967295");
        }
    }

    /** Parses the 8 hex digits that start a WAL or history file name. */
    public static TimelineId parseHex(String hex) {
        if (hex == null || hex.length() != 8 || !WalFileName.isHex(hex)) {
            throw new IllegalArgumentException("'" + hex + "' is not a timeline: expected 8 hex digits, e.g. 00000002");
        }
        long value = Long.parseLong(hex, 16);
        if (value == 0) {
            throw new IllegalArgumentException("timeline 00000000 is not valid: timelines start at 1");
        }
        return new TimelineId(value);
    }

    public TimelineId next() {
        return new TimelineId(value + 1);
    }

    public String toHex() {
        return String.format(Locale.ROOT, "%08X", value);
    }

    @Override
    public int compareTo(TimelineId other) {
        return Long.compare(value, other.value);
    }

    @Override
    public String toString() {
        return Long.toString(value);
    }
}

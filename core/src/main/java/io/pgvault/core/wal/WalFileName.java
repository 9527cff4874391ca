package io.pgvault.core.wal;

import java.util.Locale;
import java.util.Optional;

/**
 * The name of a file PostgreSQL hands to {@code archive_command}: a segment
 * ({@code 000000010000000A000000FE}), a partial segment ({@code ....partial}), a backup
 * label ({@code <segment>.00000028.backup}) or a timeline history ({@code 00000002.history}).
 *
 * <p>Names follow PostgreSQL exactly: upper-case hex, fixed widths. A segment name alone
 * does not fix its WAL position; that needs the cluster's {@link WalSegmentSize}.
 */
public final class WalFileName implements Comparable<WalFileName> {

    public enum Kind {
        SEGMENT, PARTIAL, BACKUP, HISTORY
    }

    private static final String EXPECTED = "expected a WAL segment (24 upper-case hex digits, e.g. 000000010000000000000001),"
            + " optionally with .partial, a backup label (<segment>.00000028.backup) or a timeline history (00000002.history)";

    private final Kind kind;
    private final TimelineId timeline;
    private final long logId;
    private final long segmentInLog;
    private final long backupOffset;
    private final String text;

    private WalFileName(Kind kind, TimelineId timeline, long logId, long segmentInLog, long backupOffset, String text) {
        this.kind = kind;
        this.timeline = timeline;
        this.logId = logId;
        this.segmentInLog = segmentInLog;
        this.backupOffset = backupOffset;
        this.text = text;
    }

    /**
     * Parses a file name.
     *
     * @throws IllegalArgumentException naming the text and the accepted forms
     */
    public static WalFileName parse(String name) {
        return tryParse(name).orElseThrow(() -> new IllegalArgumentException(
                "'" + name + "' is not a WAL file name: " + EXPECTED));
    }

    public static Optional<WalFileName> tryParse(String name) {
        if (name == null) {
            return Optional.empty();
        }
        if (name.length() == 16 && name.endsWith(".history") && isHex(name.substring(0, 8))) {
            long tli = Long.parseLong(name.substring(0, 8), 16);
            return tli == 0 ? Optional.empty()
                    : Optional.of(new WalFileName(Kind.HISTORY, new TimelineId(tli), 0, 0, 0, name));
        }
        if (name.length() < 24 || !isHex(name.substring(0, 24))) {
            return Optional.empty();
        }
        long tli = Long.parseLong(name.substring(0, 8), 16);
        if (tli == 0) {
            return Optional.empty();
        }
        long log = Long.parseLong(name.substring(8, 16), 16);
        long seg = Long.parseLong(name.substring(16, 24), 16);
        String rest = name.substring(24);
        TimelineId timeline = new TimelineId(tli);
        if (rest.isEmpty()) {
            return Optional.of(new WalFileName(Kind.SEGMENT, timeline, log, seg, 0, name));
        }
        if (rest.equals(".partial")) {
            return Optional.of(new WalFileName(Kind.PARTIAL, timeline, log, seg, 0, name));
        }
        if (rest.length() == 16 && rest.startsWith(".") && rest.endsWith(".backup") && isHex(rest.substring(1, 9))) {
            return Optional.of(new WalFileName(Kind.BACKUP, timeline, log, seg, Long.parseLong(rest.substring(1, 9), 16), name));
        }
        return Optional.empty();
    }

    /** The name of the segment that holds {@code segmentNumber} on {@code timeline}. */
    public static WalFileName segment(TimelineId timeline, long segmentNumber, WalSegmentSize size) {
        long perId = size.segmentsPerXLogId();
        long log = segmentNumber / perId;
        long seg = segmentNumber % perId;
        return new WalFileName(Kind.SEGMENT, timeline, log, seg, 0, format(timeline, log, seg));
    }

    /** The name of the segment that holds {@code lsn}; derived here, never from {@code pg_walfile_name()}. */
    public static WalFileName segmentOf(TimelineId timeline, Lsn lsn, WalSegmentSize size) {
        return segment(timeline, lsn.segmentNumber(size), size);
    }

    public static WalFileName history(TimelineId timeline) {
        return new WalFileName(Kind.HISTORY, timeline, 0, 0, 0, timeline.toHex() + ".history");
    }

    public Kind kind() {
        return kind;
    }

    public TimelineId timeline() {
        return timeline;
    }

    public boolean isHistory() {
        return kind == Kind.HISTORY;
    }

    /**
     * True for {@code 00000001.history}: the first timeline has no parent, so PostgreSQL never
     * writes its history file, yet asks restore_command for it when it promotes from timeline 1
     * ({@code writeTimeLineHistory} copies the parent's history first). bin/pgvault answers that
     * call without a JVM by the same rule.
     */
    public boolean neverArchived() {
        return kind == Kind.HISTORY && timeline.equals(TimelineId.FIRST);
    }

    /** True for names that carry a segment position (segment, partial, backup label). */
    public boolean hasSegment() {
        return kind != Kind.HISTORY;
    }

    /** For a backup label: the byte offset of the backup start inside its segment. */
    public long backupOffset() {
        requireKind(Kind.BACKUP);
        return backupOffset;
    }

    /**
     * The segment number this name denotes under a given segment size.
     *
     * @throws IllegalArgumentException if the name is a history file, or its low part is
     *     out of range for that segment size (PostgreSQL never writes such a name)
     */
    public long segmentNumber(WalSegmentSize size) {
        if (!hasSegment()) {
            throw new IllegalArgumentException("'" + text + "' is a timeline history file and has no segment number");
        }
        long perId = size.segmentsPerXLogId();
        if (segmentInLog >= perId) {
            throw new IllegalArgumentException("'" + text + "' cannot be a segment of a cluster with wal_segment_size " + size
                    + ": its last 8 digits must be below " + String.format(Locale.ROOT, "%08X", perId)
                    + " (check that the cluster's segment size is the one registered)");
        }
        return logId * perId + segmentInLog;
    }

    /** First WAL position of the segment this name denotes (for a backup label: of its segment). */
    public Lsn startLsn(WalSegmentSize size) {
        return size.startOf(segmentNumber(size));
    }

    /** The plain 24-digit segment name behind a segment, partial or backup-label name. */
    public WalFileName segmentName() {
        requireSegment();
        return kind == Kind.SEGMENT ? this : new WalFileName(Kind.SEGMENT, timeline, logId, segmentInLog, 0, text.substring(0, 24));
    }

    public WalFileName partial() {
        requireSegment();
        return new WalFileName(Kind.PARTIAL, timeline, logId, segmentInLog, 0, text.substring(0, 24) + ".partial");
    }

    private void requireSegment() {
        if (!hasSegment()) {
            throw new IllegalStateException("'" + text + "' is a timeline history file, not a segment");
        }
    }

    private void requireKind(Kind wanted) {
        if (kind != wanted) {
            throw new IllegalStateException("'" + text + "' is a " + kind + " file, not a " + wanted + " file");
        }
    }

    private static String format(TimelineId timeline, long log, long seg) {
        return String.format(Locale.ROOT, "%08X%08X%08X", timeline.value(), log, seg);
    }

    static boolean isHex(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
                return false;
            }
        }
        return !s.isEmpty();
    }

    @Override
    public int compareTo(WalFileName other) {
        return text.compareTo(other.text);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WalFileName other && other.text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }

    @Override
    public String toString() {
        return text;
    }
}

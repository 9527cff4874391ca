package io.pgvault.core.wal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A timeline history file ({@code 00000003.history}): for each ancestor timeline, the
 * position where the cluster left it. PostgreSQL writes one line per ancestor,
 * {@code parentTLI<TAB>switchpoint<TAB>reason}; blank lines and {@code #} comments are
 * allowed. The file of timeline T lists every ancestor of T, oldest first.
 */
public final class TimelineHistory {

    /** One ancestor: {@code timeline} ran until {@code switchPoint} (exclusive). */
    public record Entry(TimelineId timeline, Lsn switchPoint, String reason) {
    }

    private final TimelineId timeline;
    private final List<Entry> ancestors;

    private TimelineHistory(TimelineId timeline, List<Entry> ancestors) {
        this.timeline = timeline;
        this.ancestors = List.copyOf(ancestors);
    }

    /** The implicit history of timeline 1 (which has no file). */
    public static TimelineHistory first() {
        return new TimelineHistory(TimelineId.FIRST, List.of());
    }

    /**
     * Parses the content of the history file of {@code timeline}.
     *
     * @throws InvalidWalException ({@link WalProblem#BAD_HISTORY}) naming the line and what was expected
     */
    public static TimelineHistory parse(TimelineId timeline, byte[] content) {
        String file = WalFileName.history(timeline).toString();
        String text = new String(content, StandardCharsets.UTF_8);
        List<Entry> entries = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] fields = line.split("\\s+", 3);
            String where = file + " line " + (i + 1) + " ('" + abbreviate(line) + "')";
            if (fields.length < 2) {
                throw bad(where + " has " + fields.length + " field; expected parent timeline, switch point and reason");
            }
            TimelineId parent;
            Lsn switchPoint;
            try {
                parent = new TimelineId(Long.parseLong(fields[0]));
                switchPoint = Lsn.parse(fields[1]);
            } catch (IllegalArgumentException e) {
                throw bad(where + " is not 'timeline<TAB>X/Y<TAB>reason': " + e.getMessage());
            }
            if (!entries.isEmpty()) {
                Entry previous = entries.get(entries.size() - 1);
                if (parent.compareTo(previous.timeline()) <= 0) {
                    throw bad(where + ": timelines must increase, but " + parent + " follows " + previous.timeline());
                }
                if (switchPoint.isBefore(previous.switchPoint())) {
                    throw bad(where + ": switch point " + switchPoint + " is before the previous one " + previous.switchPoint());
                }
            }
            if (parent.compareTo(timeline) >= 0) {
                throw bad(where + ": ancestor timeline " + parent + " is not below the file's own timeline " + timeline);
            }
            entries.add(new Entry(parent, switchPoint, fields.length > 2 ? fields[2] : ""));
        }
        if (entries.isEmpty() && timeline.value() > 1) {
            throw bad(file + " lists no ancestor; the history of timeline " + timeline + " must name at least its parent");
        }
        return new TimelineHistory(timeline, entries);
    }

    private static InvalidWalException bad(String message) {
        return new InvalidWalException(WalProblem.BAD_HISTORY, message);
    }

    private static String abbreviate(String line) {
        return line.length() > 80 ? line.substring(0, 77) + "..." : line;
    }

    public TimelineId timeline() {
        return timeline;
    }

    /** Ancestors oldest first; empty for timeline 1. */
    public List<Entry> ancestors() {
        return ancestors;
    }

    public Optional<TimelineId> parent() {
        return ancestors.isEmpty() ? Optional.empty() : Optional.of(ancestors.get(ancestors.size() - 1).timeline());
    }

    /** Whether {@code tli} is this timeline or one of its ancestors. */
    public boolean includes(TimelineId tli) {
        return tli.equals(timeline) || ancestors.stream().anyMatch(e -> e.timeline().equals(tli));
    }

    /**
     * Which timeline of this history holds the WAL at {@code lsn}: the first ancestor whose
     * switch point lies after it, else this timeline.
     */
    public TimelineId timelineAt(Lsn lsn) {
        for (Entry e : ancestors) {
            if (lsn.isBefore(e.switchPoint())) {
                return e.timeline();
            }
        }
        return timeline;
    }

    /**
     * The timelines whose WAL file for segment {@code segment} recovery would try, newest
     * first: every timeline of this history that began at or before that segment. This is
     * the order of PostgreSQL's XLogFileReadAnyTLI; the first whose file exists is used.
     */
    public List<TimelineId> timelinesForSegment(long segment, WalSegmentSize size) {
        List<TimelineId> result = new ArrayList<>();
        for (int i = ancestors.size(); i >= 0; i--) {
            TimelineId tli = i == ancestors.size() ? timeline : ancestors.get(i).timeline();
            long begin = i == 0 ? 0 : ancestors.get(i - 1).switchPoint().segmentNumber(size);
            if (begin <= segment) {
                result.add(tli);
            }
        }
        return result;
    }

    /** Where {@code tli} ends on this history; empty for this (open-ended) timeline. */
    public Optional<Lsn> switchPointOf(TimelineId tli) {
        return ancestors.stream().filter(e -> e.timeline().equals(tli)).map(Entry::switchPoint).findFirst();
    }

    /**
     * Where {@code tli} begins on this history: 0 for the oldest timeline, else the switch
     * point at which its predecessor ended; empty when the history does not hold it.
     */
    public Optional<Lsn> beginOf(TimelineId tli) {
        Lsn begin = Lsn.of(0);
        for (Entry e : ancestors) {
            if (e.timeline().equals(tli)) {
                return Optional.of(begin);
            }
            begin = e.switchPoint();
        }
        return tli.equals(timeline) ? Optional.of(begin) : Optional.empty();
    }

    /** The file content PostgreSQL would write for this history. */
    public byte[] render() {
        StringBuilder sb = new StringBuilder();
        for (Entry e : ancestors) {
            sb.append(e.timeline().value()).append('\t').append(e.switchPoint()).append('\t').append(e.reason()).append('\n');
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The history of a new child timeline that branches off this one at {@code switchPoint}. */
    public TimelineHistory branch(Lsn switchPoint, String reason) {
        List<Entry> next = new ArrayList<>(ancestors);
        next.add(new Entry(timeline, switchPoint, reason));
        return new TimelineHistory(timeline.next(), next);
    }
}

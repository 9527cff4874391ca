package io.pgvault.core.archive;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalRecordScanner;
import io.pgvault.core.wal.WalSegmentSize;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What one archived WAL segment holds that a recovery target can name, written by the
 * server when the segment arrives ({@code clusters/{c}/wal-index/...}, see
 * docs/repository-format.md), so that planning a recovery reads a few hundred bytes per
 * segment instead of the segment. Only records that begin and end in the segment count;
 * one that begins here and ends in the next is described in {@link #unfinished}.
 *
 * <p>An index is a filter, never the last word: a transaction id inside
 * [{@link #minXid}, {@link #maxXid}] may or may not be in the segment (the planner reads
 * the segment to find it), one outside it is not; restore points and the last
 * transaction are listed exactly. It can always be built again from the segment.
 *
 * @param format {@link #FORMAT}; a reader reads the segment instead of an index of another format (a
 *     newer one it does not know; an older one may leave out prepared transactions or the time range)
 * @param segment the segment's file name
 * @param end where replay of this segment alone stops: the end of its last valid record, or null
 * @param walEnds the valid WAL ends inside this segment (zeros or a damaged record follow)
 * @param transactions commits and aborts in the segment
 * @param minXid smallest of their transaction ids (unsigned), null when there are none
 * @param maxXid largest of them
 * @param last the last commit or abort
 * @param earliest the earliest time a commit or abort in the segment carries, null when there are none
 * @param latest the latest; not always the last one's, since a backend stamps its commit before it
 *     inserts the record, and clocks step back
 * @param restorePoints every restore point, in order
 * @param unfinished the record that begins here and ends in the next segment, if any
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record WalSegmentIndex(int format, String segment, String end, boolean walEnds, long transactions, Long minXid, Long maxXid,
                              Transaction last, String earliest, String latest, List<RestorePoint> restorePoints, Unfinished unfinished) {

    /** 3 since the commit time range is indexed; 2 since prepared transactions' ends are; format 1 left them out. */
    public static final int FORMAT = 3;

    /** A commit or an abort: {@code kind} is {@code commit} or {@code abort}. */
    public record Transaction(String kind, long xid, String time, String start, String end) {
    }

    public record RestorePoint(String name, String time, String start, String end) {
    }

    /**
     * @param kind {@code commit}, {@code abort}, {@code commit-prepared}, {@code abort-prepared},
     *     {@code restore-point}, {@code other}, or {@code unknown} when its header is cut by the segment's end
     * @param xid the transaction its header names, for commits, aborts and {@code unknown} (whose
     *     header's first 8 bytes, with the xid, are always in the segment); a prepared transaction's
     *     end names it in its body, which may lie in the next segment: none
     */
    public record Unfinished(String start, long length, String kind, Long xid) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    /** A segment's restore points are the only list in an index; a megabyte is far more than any holds. */
    private static final int MAX_BYTES = 1 << 20;

    public WalSegmentIndex {
        restorePoints = restorePoints == null ? List.of() : List.copyOf(restorePoints);
    }

    /** The last commit or abort as the scanner reports it. */
    public Optional<WalRecordScanner.Event> lastTransaction() {
        if (last == null) {
            return Optional.empty();
        }
        return Optional.of(new WalRecordScanner.Event("abort".equals(last.kind) ? WalRecordScanner.Kind.ABORT : WalRecordScanner.Kind.COMMIT,
                Lsn.parse(last.start), Lsn.parse(last.end), last.xid, Instant.parse(last.time), null));
    }

    /** The latest time a commit or abort of this segment carries: PostgreSQL stops at a time target only before one later than it. */
    public Optional<Instant> latestTransactionTime() {
        return Optional.ofNullable(latest).map(Instant::parse);
    }

    /** The first restore point of this name that starts at or after {@code notBefore}, as the scanner reports it. */
    public Optional<WalRecordScanner.Event> restorePoint(String name, Lsn notBefore) {
        return restorePoints.stream().filter(p -> p.name.equals(name) && !Lsn.parse(p.start).isBefore(notBefore)).findFirst()
                .map(p -> new WalRecordScanner.Event(WalRecordScanner.Kind.RESTORE_POINT, Lsn.parse(p.start), Lsn.parse(p.end), 0,
                        Instant.parse(p.time), p.name));
    }

    /** False only when no commit or abort of {@code xid} ends in this segment. */
    public boolean mayHoldTransaction(long xid) {
        return transactions > 0 && minXid != null && maxXid != null && xid >= minXid && xid <= maxXid;
    }

    /**
     * Whether the record continuing into the next segment could be what a target names:
     * a commit or abort of {@code xid} (when {@code xid} >= 0) or a restore point (when
     * {@code restorePoint}). A record whose header was cut is judged by its length and
     * transaction ({@link WalRecordScanner#cutRecordMayBe}).
     */
    public boolean unfinishedMayBe(long xid, boolean restorePoint) {
        if (unfinished == null) {
            return false;
        }
        return switch (unfinished.kind) {
            case "unknown" -> WalRecordScanner.cutRecordMayBe(unfinished.length, unfinished.xid, xid, restorePoint);
            case "commit", "abort" -> xid >= 0 && unfinished.xid != null && unfinished.xid == xid;
            case "commit-prepared", "abort-prepared" -> xid >= 0;
            case "restore-point" -> restorePoint;
            default -> false;
        };
    }

    /** Whether the record continuing into the next segment may be a commit or an abort (of any transaction). */
    public boolean unfinishedMayBeTransaction() {
        return unfinished != null && switch (unfinished.kind) {
            case "commit", "abort", "commit-prepared", "abort-prepared", "unknown" -> true;
            default -> false;
        };
    }

    public Optional<Lsn> endOfValidWal() {
        return Optional.ofNullable(end).map(Lsn::parse);
    }

    /** Stores the index; an index of the same segment written before is replaced (it says the same). */
    public void write(ObjectStore store, String cluster) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(this);
        WalFileName name = WalFileName.parse(segment);
        store.put(RepositoryLayout.walIndexKey(cluster, name), () -> new ByteArrayInputStream(bytes), bytes.length);
    }

    /**
     * The index of {@code segment}, checked against it: an index from the repository is
     * untrusted input, and one that does not fit its segment is refused, never believed.
     *
     * @return empty when there is none, or it has a newer format than {@link #FORMAT}
     * @throws OutdatedException when it has an older format: the segment must be read instead
     * @throws CorruptObjectException naming the object and what is wrong
     */
    public static Optional<WalSegmentIndex> read(ObjectStore store, String cluster, WalFileName segment, WalSegmentSize size)
            throws IOException {
        String key = RepositoryLayout.walIndexKey(cluster, segment);
        Optional<InputStream> in = store.get(key);
        if (in.isEmpty()) {
            return Optional.empty();
        }
        WalSegmentIndex index;
        try (InputStream stream = in.get()) {
            byte[] bytes = stream.readNBytes(MAX_BYTES + 1);
            if (bytes.length > MAX_BYTES) {
                throw new CorruptObjectException(key + " is larger than " + MAX_BYTES + " bytes, which no WAL index is; it is not read");
            }
            index = JSON.readValue(bytes, WalSegmentIndex.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new CorruptObjectException(key + " is not a readable WAL index: " + e.getOriginalMessage()
                    + "; delete it, and 'pgvault catalog rebuild' writes it again from the segment", e);
        }
        if (index.format > FORMAT) {
            return Optional.empty();
        }
        if (index.format < FORMAT) {
            throw new OutdatedException(key, index.format);
        }
        try {
            index.check(key, segment, size);
        } catch (RuntimeException e) {
            throw new CorruptObjectException(key + " is not a valid WAL index: " + e, e);
        }
        return Optional.of(index);
    }

    /**
     * An index written by an older pgvault: format 1 left out the ends of prepared
     * transactions, so it cannot rule a segment out. Not damage: the segment is read instead,
     * and {@code catalog rebuild} writes the index again.
     */
    public static final class OutdatedException extends IOException {
        public OutdatedException(String key, int format) {
            super(key + " is a WAL index of format " + format + ", written by an older pgvault (format " + FORMAT
                    + " indexes prepared transactions and the commit time range too); its segment is read instead, and 'pgvault catalog "
                    + "rebuild' writes it again");
        }

        /** What recover and verify say of the {@code count} outdated indexes they met. */
        public static String summary(int count) {
            return count + " segment indexes were written by an older pgvault (they leave out prepared transactions or commit times); recovery reads"
                    + " those segments instead, and 'pgvault catalog rebuild' on the server writes them again";
        }
    }

    /**
     * Whether the index stored for {@code segment} should be written again from the segment:
     * it is of an older format, or unreadable. A newer one is left alone.
     */
    public static boolean outdated(ObjectStore store, String cluster, WalFileName segment) throws IOException {
        Optional<InputStream> in = store.get(RepositoryLayout.walIndexKey(cluster, segment));
        if (in.isEmpty()) {
            return true;
        }
        try (InputStream stream = in.get()) {
            return JSON.readTree(stream.readNBytes(MAX_BYTES)).path("format").asInt(0) < FORMAT;
        } catch (com.fasterxml.jackson.core.JacksonException | CorruptObjectException e) {
            return true;
        }
    }

    /** Refuses an index whose positions are not inside its segment or that does not add up. */
    void check(String key, WalFileName expected, WalSegmentSize size) throws CorruptObjectException {
        if (segment == null || !expected.toString().equals(segment)) {
            throw new CorruptObjectException(key + " indexes segment '" + segment + "', not " + expected);
        }
        long from = expected.startLsn(size).value();
        long to = from + size.bytes();
        try {
            within(key, "end", end, from, to, true);
            if (last != null) {
                required(key, "the last transaction", last.kind, last.time, last.start, last.end);
                within(key, "last transaction start", last.start, from, to, false);
                within(key, "last transaction end", last.end, from, to, true);
                Instant.parse(last.time);
            }
            for (RestorePoint p : restorePoints) {
                required(key, "a restore point", p.name, p.time, p.start, p.end);
                within(key, "restore point start", p.start, from, to, false);
                within(key, "restore point end", p.end, from, to, true);
                Instant.parse(p.time);
            }
            if (unfinished != null) {
                required(key, "the unfinished record", unfinished.start, unfinished.kind);
                within(key, "unfinished record start", unfinished.start, from, to, false);
                // Its length and position rule a cut record in or out of a target, so they must be ones a record can have.
                if (unfinished.length < WalRecordScanner.RECORD_HEADER || unfinished.length > WalRecordScanner.MAX_RECORD) {
                    throw new CorruptObjectException(key + " describes an unfinished record of " + unfinished.length + " bytes at "
                            + unfinished.start + ", shorter than a record header or longer than any record, which no WAL holds");
                }
                if ("unknown".equals(unfinished.kind) && Lsn.parse(unfinished.start).value() <= to - WalRecordScanner.RECORD_HEADER) {
                    throw new CorruptObjectException(key + " says the segment's end cuts the header of the record at " + unfinished.start
                            + ", which starts more than " + WalRecordScanner.RECORD_HEADER + " bytes before that end: no WAL holds that");
                }
            }
        } catch (IllegalArgumentException | java.time.format.DateTimeParseException e) {
            throw new CorruptObjectException(key + " is not a valid WAL index: " + e.getMessage(), e);
        }
        if (transactions < 0 || (transactions > 0 && (minXid == null || maxXid == null || minXid > maxXid || last == null))) {
            throw new CorruptObjectException(key + " counts " + transactions + " transactions but its xid range or last transaction does not fit");
        }
        checkTimeRange(key);
    }

    /** Both ends when there are transactions (none without), in order, and the last one's time between them. */
    private void checkTimeRange(String key) throws CorruptObjectException {
        if (transactions == 0) {
            if (earliest != null || latest != null) {
                throw new CorruptObjectException(key + " holds no transactions but gives a time range for them");
            }
            return;
        }
        try {
            required(key, "the time range of its transactions", earliest, latest);
            Instant from = Instant.parse(earliest);
            Instant to = Instant.parse(latest);
            Instant lastTime = Instant.parse(last.time);
            if (from.isAfter(to) || lastTime.isBefore(from) || lastTime.isAfter(to)) {
                throw new CorruptObjectException(key + " gives its transactions the time range " + earliest + " to " + latest
                        + ", which does not hold its last one's time " + last.time);
            }
        } catch (java.time.format.DateTimeParseException e) {
            throw new CorruptObjectException(key + " is not a valid WAL index: " + e.getMessage(), e);
        }
    }

    private static void required(String key, String what, String... fields) throws CorruptObjectException {
        for (String field : fields) {
            if (field == null) {
                throw new CorruptObjectException(key + " describes " + what + " with a field missing");
            }
        }
    }

    private static void within(String key, String what, String lsn, long from, long to, boolean endInclusive) throws CorruptObjectException {
        if (lsn == null) {
            return;
        }
        long value = Lsn.parse(lsn).value();
        if (value < from || value > to || (!endInclusive && value == to)) {
            throw new CorruptObjectException(key + ": " + what + " " + lsn + " is outside its segment (" + Lsn.of(from) + " to " + Lsn.of(to) + ")");
        }
    }
}

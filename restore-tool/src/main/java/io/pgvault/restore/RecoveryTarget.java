package io.pgvault.restore;

import io.pgvault.core.wal.Lsn;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.Locale;

/**
 * Where recovery should stop, as PostgreSQL's {@code recovery_target_*} settings say it.
 * Times must carry a zone: PostgreSQL would read a bare time in the restored server's
 * {@code timezone}, which is how people recover to the wrong hour.
 */
public record RecoveryTarget(Kind kind, String value, boolean inclusive) {

    public enum Kind { LATEST, IMMEDIATE, TIME, LSN, XID, NAME }

    private static final DateTimeFormatter INPUT = new DateTimeFormatterBuilder()
            .parseCaseInsensitive()
            .append(DateTimeFormatter.ISO_LOCAL_DATE)
            .optionalStart().appendLiteral('T').optionalEnd()
            .optionalStart().appendLiteral(' ').optionalEnd()
            .appendValue(ChronoField.HOUR_OF_DAY, 2).appendLiteral(':').appendValue(ChronoField.MINUTE_OF_HOUR, 2)
            .optionalStart().appendLiteral(':').appendValue(ChronoField.SECOND_OF_MINUTE, 2)
            .optionalStart().appendFraction(ChronoField.NANO_OF_SECOND, 1, 9, true).optionalEnd().optionalEnd()
            .optionalStart().appendLiteral(' ').optionalEnd()
            .appendOffset("+HH:mm", "Z")
            .toFormatter(Locale.ROOT);
    private static final DateTimeFormatter INPUT_SHORT_OFFSET = new DateTimeFormatterBuilder()
            .append(DateTimeFormatter.ISO_LOCAL_DATE)
            .optionalStart().appendLiteral('T').optionalEnd()
            .optionalStart().appendLiteral(' ').optionalEnd()
            .appendValue(ChronoField.HOUR_OF_DAY, 2).appendLiteral(':').appendValue(ChronoField.MINUTE_OF_HOUR, 2)
            .optionalStart().appendLiteral(':').appendValue(ChronoField.SECOND_OF_MINUTE, 2)
            .optionalStart().appendFraction(ChronoField.NANO_OF_SECOND, 1, 9, true).optionalEnd().optionalEnd()
            .optionalStart().appendLiteral(' ').optionalEnd()
            .appendOffset("+HHmm", "Z")
            .toFormatter(Locale.ROOT);

    public static RecoveryTarget latest() {
        return new RecoveryTarget(Kind.LATEST, null, true);
    }

    public static RecoveryTarget immediate() {
        return new RecoveryTarget(Kind.IMMEDIATE, null, true);
    }

    /** @throws IllegalArgumentException naming the accepted forms */
    public static RecoveryTarget time(String text, boolean inclusive) {
        return new RecoveryTarget(Kind.TIME, parseTime(text).toString(), inclusive);
    }

    public static RecoveryTarget lsn(String text, boolean inclusive) {
        return new RecoveryTarget(Kind.LSN, Lsn.parse(text).toString(), inclusive);
    }

    public static RecoveryTarget xid(String text, boolean inclusive) {
        try {
            long xid = Long.parseUnsignedLong(text.strip());
            return new RecoveryTarget(Kind.XID, Long.toString(xid), inclusive);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a transaction id: expected a number such as txid_current() returns");
        }
    }

    public static RecoveryTarget name(String name, boolean inclusive) {
        // PostgreSQL counts bytes (MAXFNAMELEN - 1); a control character is no name anyone typed, and could hide in a pasted command.
        if (name.isEmpty() || name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= 64) {
            throw new IllegalArgumentException("a restore point name has 1 to 63 bytes, as pg_create_restore_point() takes");
        }
        if (name.codePoints().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("a restore point name has no control characters");
        }
        return new RecoveryTarget(Kind.NAME, name, inclusive);
    }

    static Instant parseTime(String text) {
        String t = text.strip();
        for (DateTimeFormatter f : new DateTimeFormatter[] {INPUT, INPUT_SHORT_OFFSET}) {
            try {
                return OffsetDateTime.parse(t.endsWith("+00") || t.matches(".*[+-]\\d\\d$") ? t + ":00" : t, f).toInstant();
            } catch (DateTimeParseException e) {
                // try the next form
            }
        }
        throw new IllegalArgumentException("'" + text + "' is not a time with a zone: expected e.g. '2026-11-25 10:00:00+00' or "
                + "'2026-11-25T10:00:00.123456Z' (a time without a zone would be read in the restored server's timezone)");
    }

    public Instant time() {
        return Instant.parse(value);
    }

    public Lsn lsn() {
        return Lsn.parse(value);
    }

    /** The 32-bit xid PostgreSQL compares (recovery_target_xid drops the epoch of a txid_current() value). */
    public long xid32() {
        return Long.parseUnsignedLong(value) & 0xffffffffL;
    }

    /** The time as PostgreSQL reads it, in UTC with microseconds. */
    public String postgresTime() {
        return DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS'+00'", Locale.ROOT).withZone(java.time.ZoneOffset.UTC).format(time());
    }

    @Override
    public String toString() {
        return switch (kind) {
            case LATEST -> "the end of the archived WAL";
            case IMMEDIATE -> "the end of the backup (immediate)";
            case TIME -> "time " + value + (inclusive ? "" : " (exclusive)");
            case LSN -> "LSN " + value + (inclusive ? "" : " (exclusive)");
            case XID -> "transaction " + value + (inclusive ? "" : " (exclusive)");
            case NAME -> "restore point '" + value + "'";
        };
    }
}

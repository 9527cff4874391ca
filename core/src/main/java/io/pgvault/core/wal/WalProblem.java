package io.pgvault.core.wal;

/** Why a byte stream is not the WAL file its name claims. Callers map these to answers (HTTP status, exit code). */
public enum WalProblem {
    /** The name is not a PostgreSQL WAL file name. */
    BAD_NAME,
    /** Fewer bytes than a header, or than the segment size. */
    TRUNCATED,
    /** More bytes than the segment size. */
    TOO_LONG,
    /** No known page magic or no long header: not WAL at all, or a major pgvault does not know. */
    NOT_WAL,
    /** WAL of a format pgvault cannot read (e.g. big-endian). */
    UNSUPPORTED_FORMAT,
    /** Segment or block size in the header is impossible or differs from the cluster's. */
    WRONG_SEGMENT_SIZE,
    /** The header's page address is not where the name says the segment starts. */
    WRONG_PAGE_ADDRESS,
    /** The header's timeline is later than the name's. */
    WRONG_TIMELINE,
    /** The header's system identifier is another cluster's. */
    FOREIGN_SYSTEM,
    /** A timeline history file that does not parse. */
    BAD_HISTORY,
    /** A compressed body (wal-push sends zstd) that does not decode, or decodes to more than it may hold. */
    BAD_ENCODING
}

package io.pgvault.core.wal;

import java.util.OptionalLong;

/**
 * Decides whether a byte stream is the segment its name claims, from its long page
 * header and its length. What a cluster already fixed (segment size, system identifier)
 * is checked when known; a cluster's first segment leaves both open.
 *
 * <p>Pure: no I/O. The caller reads the first {@link WalPageHeader#LONG_HEADER_BYTES}
 * bytes and counts the rest (see {@link WalStreamInspector}).
 */
public final class WalSegmentCheck {

    private static final long MIN_BLOCK = 1024;
    private static final long MAX_BLOCK = 65536;

    private final WalSegmentSize segmentSize;
    private final OptionalLong systemIdentifier;

    private WalSegmentCheck(WalSegmentSize segmentSize, OptionalLong systemIdentifier) {
        this.segmentSize = segmentSize;
        this.systemIdentifier = systemIdentifier;
    }

    /** Checks against a cluster whose segment size and system identifier are known. */
    public static WalSegmentCheck forCluster(WalSegmentSize segmentSize, long systemIdentifier) {
        return new WalSegmentCheck(segmentSize, OptionalLong.of(systemIdentifier));
    }

    /** Checks a cluster's first segment: its header then fixes size and identifier. */
    public static WalSegmentCheck firstOfCluster() {
        return new WalSegmentCheck(null, OptionalLong.empty());
    }

    /**
     * @param name the name the file arrived under (segment or partial)
     * @param head the file's first bytes (at least 40 unless the file is shorter)
     * @param length the file's total length in bytes
     * @return the header, once every check passed
     * @throws InvalidWalException with the first problem found, naming file, found and expected values
     */
    public WalPageHeader check(WalFileName name, byte[] head, long length) {
        return check(name, head, OptionalLong.of(length));
    }

    /**
     * The same checks from the first bytes alone, for a body whose length is not known yet (a
     * chunked upload): all but the length, which the caller checks once the body has ended.
     */
    public WalPageHeader checkHead(WalFileName name, byte[] head) {
        return check(name, head, OptionalLong.empty());
    }

    private WalPageHeader check(WalFileName name, byte[] head, OptionalLong knownLength) {
        if (name.kind() != WalFileName.Kind.SEGMENT && name.kind() != WalFileName.Kind.PARTIAL) {
            throw new IllegalArgumentException(name + " is a " + name.kind() + " file; only segments and partial segments have a page header");
        }
        long length = knownLength.orElse(head.length);
        if (length < WalPageHeader.LONG_HEADER_BYTES || head.length < WalPageHeader.LONG_HEADER_BYTES) {
            throw new InvalidWalException(WalProblem.TRUNCATED, name + " is " + length
                    + " bytes long: a WAL segment starts with a 40-byte page header; the upload was probably cut off, send it again");
        }
        WalPageHeader header = WalPageHeader.parse(head, name.toString());
        if (header.major().isEmpty()) {
            throw new InvalidWalException(WalProblem.NOT_WAL, name + " does not start with a WAL page header: page magic is "
                    + String.format("0x%04X", header.magic()) + (header.magic() == 0 ? " (an unwritten, zero-filled page)" : "")
                    + ", expected one of PostgreSQL " + PgMajor.supportedList());
        }
        if (!header.isLongHeader()) {
            throw new InvalidWalException(WalProblem.NOT_WAL, name
                    + " starts with a short page header: the first page of a segment has XLP_LONG_HEADER set; this is not the start of a segment");
        }
        WalSegmentSize headerSize = headerSegmentSize(name, header);
        if (segmentSize != null && !segmentSize.equals(headerSize)) {
            throw new InvalidWalException(WalProblem.WRONG_SEGMENT_SIZE, name + " comes from a cluster with wal_segment_size "
                    + headerSize + ", but this cluster's segments are " + segmentSize + ": is archive_command pointing at the right cluster?");
        }
        if (knownLength.isPresent()) {
            checkLength(name, length, headerSize);
        }
        Lsn expectedAddress = name.startLsn(headerSize);
        if (!header.pageAddress().equals(expectedAddress)) {
            throw new InvalidWalException(WalProblem.WRONG_PAGE_ADDRESS, name + " holds WAL from " + header.pageAddress()
                    + ", but its name says the segment starts at " + expectedAddress + ": the file was renamed or its content belongs elsewhere");
        }
        // A new timeline's first segment starts with the parent's bytes up to the switch
        // point, so its header may carry an ancestor timeline; a later one is impossible.
        if (header.timeline() == 0 || header.timeline() > name.timeline().value()) {
            throw new InvalidWalException(WalProblem.WRONG_TIMELINE, name + " carries timeline " + header.timeline()
                    + " in its page header, but its name says timeline " + name.timeline().value()
                    + " (a segment's header may name that timeline or an ancestor, never a later one)");
        }
        if (systemIdentifier.isPresent() && header.systemIdentifier() != systemIdentifier.getAsLong()) {
            throw new InvalidWalException(WalProblem.FOREIGN_SYSTEM, name + " belongs to the cluster with system identifier "
                    + header.systemIdentifierText() + ", but this cluster's system identifier is "
                    + Long.toUnsignedString(systemIdentifier.getAsLong())
                    + ": two clusters archive to one name, or the cluster was re-initialised (register it under a new name)");
        }
        return header;
    }

    private static WalSegmentSize headerSegmentSize(WalFileName name, WalPageHeader header) {
        long block = header.blockSize();
        if (block < MIN_BLOCK || block > MAX_BLOCK || Long.bitCount(block) != 1) {
            throw new InvalidWalException(WalProblem.WRONG_SEGMENT_SIZE, name + " declares a WAL block size of " + block
                    + " bytes; expected a power of two from 1024 to 65536 (the header is damaged)");
        }
        try {
            WalSegmentSize size = new WalSegmentSize(header.segmentSize());
            if (size.bytes() % block != 0) {
                throw new InvalidWalException(WalProblem.WRONG_SEGMENT_SIZE, name + " declares segment size " + size
                        + " that is not a multiple of its block size " + block + " (the header is damaged)");
            }
            return size;
        } catch (IllegalArgumentException e) {
            if (e instanceof InvalidWalException invalid) {
                throw invalid;
            }
            throw new InvalidWalException(WalProblem.WRONG_SEGMENT_SIZE, name + " declares a segment size of "
                    + header.segmentSize() + " bytes; expected a power of two from 1 MiB to 1 GiB (the header is damaged)");
        }
    }

    private static void checkLength(WalFileName name, long length, WalSegmentSize size) {
        if (length > size.bytes()) {
            throw new InvalidWalException(WalProblem.TOO_LONG, name + " is " + length + " bytes, longer than the cluster's segment size "
                    + size.bytes() + " bytes");
        }
        // PostgreSQL writes .partial files at full segment size; shorter ones are accepted
        // because a streamed tail is a prefix of its segment.
        if (name.kind() == WalFileName.Kind.SEGMENT && length < size.bytes()) {
            throw new InvalidWalException(WalProblem.TRUNCATED, name + " is " + length + " bytes, but a complete segment of this cluster is "
                    + size.bytes() + " bytes: the upload was cut off or the file was truncated; send the whole file");
        }
    }
}

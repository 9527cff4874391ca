package io.pgvault.core.wal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;

/**
 * The long page header that opens every WAL segment ({@code XLogLongPageHeaderData}):
 * the standard page header (magic, info flags, timeline, page address, remaining length
 * of a continued record) followed by the cluster's system identifier, segment size and
 * WAL block size. 40 bytes, in the byte order of the machine that wrote it.
 */
public record WalPageHeader(
        int magic,
        int info,
        long timeline,
        Lsn pageAddress,
        long remainingLength,
        long systemIdentifier,
        long segmentSize,
        long blockSize) {

    /** {@code sizeof(XLogLongPageHeaderData)}: 24 bytes of standard header, then 16. */
    public static final int LONG_HEADER_BYTES = 40;
    /** {@code XLP_LONG_HEADER}: set only on the first page of a segment. */
    public static final int XLP_LONG_HEADER = 0x0002;

    /**
     * Reads the long header from the first bytes of a segment.
     *
     * @param bytes at least {@link #LONG_HEADER_BYTES} bytes from the start of the segment
     * @param objectName used in messages
     * @throws InvalidWalException when too short or written on a big-endian machine
     */
    public static WalPageHeader parse(byte[] bytes, String objectName) {
        if (bytes.length < LONG_HEADER_BYTES) {
            throw new InvalidWalException(WalProblem.TRUNCATED, objectName + " is " + bytes.length
                    + " bytes long: a WAL segment starts with a " + LONG_HEADER_BYTES + "-byte page header");
        }
        ByteBuffer le = ByteBuffer.wrap(bytes, 0, LONG_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        int magic = Short.toUnsignedInt(le.getShort(0));
        if (PgMajor.byPageMagic(magic).isEmpty()) {
            int swapped = Short.toUnsignedInt(Short.reverseBytes((short) magic));
            if (PgMajor.byPageMagic(swapped).isPresent()) {
                throw new InvalidWalException(WalProblem.UNSUPPORTED_FORMAT, objectName
                        + " was written by a big-endian machine; pgvault reads little-endian WAL only");
            }
        }
        return new WalPageHeader(
                magic,
                Short.toUnsignedInt(le.getShort(2)),
                Integer.toUnsignedLong(le.getInt(4)),
                Lsn.of(le.getLong(8)),
                Integer.toUnsignedLong(le.getInt(16)),
                le.getLong(24),
                Integer.toUnsignedLong(le.getInt(32)),
                Integer.toUnsignedLong(le.getInt(36)));
    }

    public Optional<PgMajor> major() {
        return PgMajor.byPageMagic(magic);
    }

    public boolean isLongHeader() {
        return (info & XLP_LONG_HEADER) != 0;
    }

    /** The system identifier as PostgreSQL prints it ({@code pg_control_system()}), unsigned. */
    public String systemIdentifierText() {
        return Long.toUnsignedString(systemIdentifier);
    }
}

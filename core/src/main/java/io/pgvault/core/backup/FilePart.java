package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.tar.TarUtils;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;

/**
 * A byte range of a file too large for one piece. In a piece's tar it is an ordinary
 * member (the file's own header with the range's size) preceded by a PAX extended header
 * with two vendor keywords, {@code PGVAULT.offset} (where the range starts in the file) and
 * {@code PGVAULT.size} (the whole file's size). Pieces holding the ranges of one file can
 * then be unpacked in parallel, each writing its range in place.
 *
 * @param offset where the range starts in the file
 * @param fileSize the whole file's size
 */
public record FilePart(long offset, long fileSize) {

    static final String OFFSET_KEY = "PGVAULT.offset";
    static final String SIZE_KEY = "PGVAULT.size";
    private static final int BLOCK = 512;
    /** ustar header fields: size (12 bytes at 124) and checksum (8 bytes at 148). */
    private static final int SIZE_OFFSET = 124;
    private static final int SIZE_LENGTH = 12;
    private static final int CHECKSUM_OFFSET = 148;
    private static final int CHECKSUM_LENGTH = 8;

    /**
     * The headers that start one range in a piece: a PAX header naming the range, then the
     * file's own ustar header with its size field set to the range's length.
     *
     * @param fileHeader the file's ustar header block as PostgreSQL sent it
     */
    static byte[] headers(byte[] fileHeader, long offset, long length, long fileSize) {
        return withPax(record(OFFSET_KEY, offset) + record(SIZE_KEY, fileSize), fileHeader, length);
    }

    /**
     * A PAX extended header holding {@code paxRecords}, then {@code fileHeader} with its size
     * field set to {@code memberSize} (its checksum recomputed).
     */
    static byte[] withPax(String paxRecords, byte[] fileHeader, long memberSize) {
        byte[] records = paxRecords.getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry pax = new TarArchiveEntry("././@PaxHeader", TarConstants.LF_PAX_EXTENDED_HEADER_LC);
        pax.setSize(records.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream(3 * BLOCK);
        byte[] block = new byte[BLOCK];
        pax.writeEntryHeader(block);
        out.writeBytes(block);
        out.writeBytes(Arrays.copyOf(records, (records.length + BLOCK - 1) / BLOCK * BLOCK));

        byte[] member = fileHeader.clone();
        TarUtils.formatLongOctalOrBinaryBytes(memberSize, member, SIZE_OFFSET, SIZE_LENGTH);
        Arrays.fill(member, CHECKSUM_OFFSET, CHECKSUM_OFFSET + CHECKSUM_LENGTH, (byte) ' ');
        TarUtils.formatCheckSumOctalBytes(TarUtils.computeCheckSum(member), member, CHECKSUM_OFFSET, CHECKSUM_LENGTH);
        out.writeBytes(member);
        return out.toByteArray();
    }

    /** A PAX record: its own length in decimal, a space, key=value, a newline. */
    static String record(String key, long value) {
        return record(key, Long.toString(value));
    }

    /** A PAX record: its own length in decimal, a space, key=value, a newline. */
    static String record(String key, String value) {
        String body = " " + key + "=" + value + "\n";
        int length = body.length() + 1;
        while (Integer.toString(length).length() + body.length() != length) {
            length++;
        }
        return length + body;
    }

    /**
     * The range a restored member holds, or empty for a whole file.
     *
     * @param largestFile no file of the backup can be larger (its raw size): a crafted range cannot make a restore
     *     write, or a file system allocate, beyond what the backup holds
     * @throws CorruptObjectException when the keywords are malformed or the range does not fit the file
     */
    static Optional<FilePart> of(TarArchiveEntry entry, String piece, long largestFile) throws CorruptObjectException {
        String offset = entry.getExtraPaxHeader(OFFSET_KEY);
        String size = entry.getExtraPaxHeader(SIZE_KEY);
        if (offset == null && size == null) {
            return Optional.empty();
        }
        String why;
        try {
            FilePart part = new FilePart(Long.parseLong(offset), Long.parseLong(size));
            if (!entry.isFile()) {
                why = "it is not a regular file";
            } else if (part.offset < 0 || part.fileSize < 0) {
                why = "negative offset or size";
            } else if (part.fileSize > largestFile) {
                why = "the file would be larger than the whole backup (" + largestFile + " bytes)";
            } else if (Math.addExact(part.offset, entry.getSize()) > part.fileSize) {
                why = "the range ends beyond its file";
            } else {
                return Optional.of(part);
            }
        } catch (NumberFormatException e) {
            why = "not numbers";
        } catch (ArithmeticException e) {
            why = "offset plus length overflows";
        }
        throw new CorruptObjectException(piece + ": entry " + entry.getName() + " has a malformed file range (" + OFFSET_KEY + "="
                + offset + ", " + SIZE_KEY + "=" + size + ", " + entry.getSize() + " bytes): " + why);
    }
}

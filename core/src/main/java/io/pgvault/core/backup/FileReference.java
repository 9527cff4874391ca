package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.RepositoryLayout;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;

import java.util.regex.Pattern;

/**
 * A file (or a range of one, see {@link FilePart}) that an incremental backup of PostgreSQL
 * 14-16 does not store again because an older backup of its chain holds the same bytes: the
 * SHA-256 of the data matched the parent's file index ({@link BackupFileIndex}). In a piece's
 * tar it is a member of size 0 (the file's own ustar header otherwise) preceded by a PAX
 * extended header with the keywords {@code PGVAULT.ref} (the backup holding the bytes),
 * {@code PGVAULT.ref-offset} and {@code PGVAULT.ref-length} (which bytes of the file),
 * {@code PGVAULT.ref-sha256} (their SHA-256) and {@code PGVAULT.size} (the whole file's size),
 * and, when the parent's file index knew it, {@code PGVAULT.ref-piece} and {@code PGVAULT.ref-piece-sha256}:
 * the piece of {@code heldBy} that holds the bytes, and that piece's checksum.
 *
 * <p>A restore copies the bytes from the member of backup {@code heldBy} with the same name and
 * offset. A reference that names its piece ("pinned") is satisfied only by that piece, whose
 * checksum must be the one the reference carries: the piece's bytes are checked as it is read,
 * as every piece's are, so the copied bytes are the ones the older backup stored, and the
 * range is not hashed again. An older reference, naming no piece, has its bytes checked against
 * {@code sha256} as they are copied. Either way the newest backup's own checksummed pieces say
 * which bytes a file gets. A reader that does not know references sees {@code PGVAULT.size}
 * without {@code PGVAULT.offset} and refuses the member as a malformed range, never restoring an
 * empty file.
 *
 * @param heldBy the backup whose pieces hold the bytes (never a backup that holds them as a reference itself)
 * @param offset where the bytes start in the file (0 for a whole file)
 * @param length how many bytes
 * @param fileSize the whole file's size
 * @param sha256 of the bytes, lower-case hex
 * @param piece the key of the piece of {@code heldBy} holding the bytes; null in a reference that names none
 * @param pieceSha256 that piece's checksum (as its backup's manifest lists it); null with {@code piece}
 */
public record FileReference(String heldBy, long offset, long length, long fileSize, String sha256, String piece, String pieceSha256) {

    static final String REF_KEY = "PGVAULT.ref";
    static final String OFFSET_KEY = "PGVAULT.ref-offset";
    static final String LENGTH_KEY = "PGVAULT.ref-length";
    static final String SHA256_KEY = "PGVAULT.ref-sha256";
    static final String PIECE_KEY = "PGVAULT.ref-piece";
    static final String PIECE_SHA256_KEY = "PGVAULT.ref-piece-sha256";
    /** No piece key is longer: a cluster name, a backup id and an archive name. */
    private static final int MAX_PIECE_KEY = 1024;

    /**
     * Smaller members are stored even when unchanged: a reference and its index entry cost
     * about 1.5 KiB, and PostgreSQL's small files (free space and visibility maps, the catalog's
     * small tables) change often anyway.
     */
    static final long MIN_BYTES = 64 * 1024;

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    /** What a piece key is made of (cluster names, backup ids, archive names); a reference is satisfied only by the piece of that key. */
    private static final Pattern PIECE = Pattern.compile("[A-Za-z0-9._/-]+/pieces/(base|[1-9][0-9]{0,9})\\.tar\\.[0-9]{5}");

    /** A reference that names no piece: its bytes are checked against {@code sha256} when copied. */
    public FileReference(String heldBy, long offset, long length, long fileSize, String sha256) {
        this(heldBy, offset, length, fileSize, sha256, null, null);
    }

    /** Whether the reference names the piece holding its bytes, and that piece's checksum. */
    boolean pinned() {
        return piece != null;
    }

    /** The headers of the reference member: the PAX header, then the file's ustar header with size 0. */
    byte[] headers(byte[] fileHeader) {
        return FilePart.withPax(FilePart.record(REF_KEY, heldBy) + FilePart.record(OFFSET_KEY, offset) + FilePart.record(LENGTH_KEY, length)
                + FilePart.record(SHA256_KEY, sha256) + (pinned() ? FilePart.record(PIECE_KEY, piece) + FilePart.record(PIECE_SHA256_KEY, pieceSha256) : "")
                + FilePart.record(FilePart.SIZE_KEY, fileSize), fileHeader, 0);
    }

    /** The byte just past the referenced ones. */
    long end() {
        return offset + length;
    }

    /** Whether a tar entry is a reference at all (then {@link #of} must accept it before anything is written). */
    static boolean isReference(TarArchiveEntry entry) {
        return entry.getExtraPaxHeader(REF_KEY) != null || entry.getExtraPaxHeader(OFFSET_KEY) != null
                || entry.getExtraPaxHeader(LENGTH_KEY) != null || entry.getExtraPaxHeader(SHA256_KEY) != null
                || entry.getExtraPaxHeader(PIECE_KEY) != null || entry.getExtraPaxHeader(PIECE_SHA256_KEY) != null;
    }

    /**
     * The reference a member of a piece is, checked as the untrusted input it is.
     *
     * @param largestFile no file of the chain can be larger (its raw size): a crafted reference cannot make a
     *     restore allocate beyond what the chain holds
     * @throws CorruptObjectException when a keyword is missing or malformed, or the bytes do not fit the file
     */
    static FileReference of(TarArchiveEntry entry, String piece, long largestFile) throws CorruptObjectException {
        String heldBy = entry.getExtraPaxHeader(REF_KEY);
        String offset = entry.getExtraPaxHeader(OFFSET_KEY);
        String length = entry.getExtraPaxHeader(LENGTH_KEY);
        String sha = entry.getExtraPaxHeader(SHA256_KEY);
        String size = entry.getExtraPaxHeader(FilePart.SIZE_KEY);
        String inPiece = entry.getExtraPaxHeader(PIECE_KEY);
        String pieceSha = entry.getExtraPaxHeader(PIECE_SHA256_KEY);
        String why;
        try {
            FileReference ref = new FileReference(heldBy, Long.parseLong(offset), Long.parseLong(length), Long.parseLong(size), sha, inPiece,
                    pieceSha);
            if (!entry.isFile() || entry.getSize() != 0) {
                why = "it is not an empty regular file member";
            } else if (entry.getExtraPaxHeader(FilePart.OFFSET_KEY) != null) {
                why = "it also names a stored range (" + FilePart.OFFSET_KEY + ")";
            } else if (heldBy == null || !RepositoryLayout.isBackupId(heldBy)) {
                why = "'" + heldBy + "' is not a backup id";
            } else if (sha == null || !SHA256.matcher(sha).matches()) {
                why = "'" + sha + "' is not a SHA-256";
            } else if ((inPiece == null) != (pieceSha == null)) {
                why = "it names " + (inPiece == null ? "a piece checksum but no piece" : "a piece but no piece checksum");
            } else if (inPiece != null && (inPiece.length() > MAX_PIECE_KEY || !PIECE.matcher(inPiece).matches() || inPiece.contains(".."))) {
                why = "'" + inPiece + "' is not a piece key";
            } else if (pieceSha != null && !SHA256.matcher(pieceSha).matches()) {
                why = "'" + pieceSha + "' is not a SHA-256";
            } else if (ref.offset < 0 || ref.length < 0 || ref.fileSize < 0) {
                why = "negative offset, length or size";
            } else if (ref.fileSize > largestFile) {
                why = "the file would be larger than the whole backup chain (" + largestFile + " bytes)";
            } else if (Math.addExact(ref.offset, ref.length) > ref.fileSize) {
                why = "the bytes end beyond the file";
            } else {
                return ref;
            }
        } catch (NumberFormatException e) {
            why = "offset, length or size is not a number";
        } catch (ArithmeticException e) {
            why = "offset plus length overflows";
        }
        throw new CorruptObjectException(piece + ": entry " + entry.getName() + " has a malformed file reference (" + REF_KEY + "=" + heldBy
                + ", " + OFFSET_KEY + "=" + offset + ", " + LENGTH_KEY + "=" + length + ", " + FilePart.SIZE_KEY + "=" + size + "): " + why
                + " (the repository's content is damaged or was crafted)");
    }


    /** The part of the file a reference stands for, as {@link FileRanges} counts it. */
    FilePart part() {
        return new FilePart(offset, fileSize);
    }
}

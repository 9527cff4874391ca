package io.pgvault.core.backup;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarUtils;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Follows a tar stream pushed in slices of any size (as protocol messages bring it) and
 * tells {@link Entries} where each entry begins and ends, so the stream can be cut at
 * entry boundaries. Headers are parsed, and their checksums checked, by Commons Compress;
 * every byte goes on unchanged. GNU long-name and PAX headers stay glued to the entry they
 * describe. What follows the end-of-archive block is dropped.
 *
 * <p>A regular file larger than {@code partBytes} (PostgreSQL's 1 GiB relation segments,
 * a large table of a small database) is cut into {@link FilePart}s of at most that size,
 * each a member of its own, so that one file never holds up a parallel restore. Its data
 * goes on unchanged; only the headers of each range are new.
 *
 * <p>Push rather than pull so the thread that reads the socket also cuts, hashes and
 * compresses: no hand-over between threads, no copy per message.
 */
final class TarStreamCutter extends OutputStream {

    /** Where entries go. */
    interface Entries {
        /** The stream the next entry's header and data are written to. */
        OutputStream entryStarts() throws IOException;

        /**
         * The stream the next entry's headers ({@code member.headerBytes()} of them) and data
         * are written to, told what the entry is.
         */
        default OutputStream entryStarts(Member member) throws IOException {
            return entryStarts();
        }

        /** A file, directory or link ended (not an extension header): a piece may end here. */
        void memberEnded() throws IOException;
    }

    /**
     * An entry about to be written: for a regular file or a range of one, where its data lies in
     * the file, so a writer can hash it or store it apart ({@link FileReference}).
     *
     * @param plainFile a regular file (or range) PostgreSQL sent as such: not an extension header, not after one,
     *     not sparse, not an incremental file; only then are the other fields but {@code headerBytes} meaningful
     * @param fileHeader the file's ustar header block as PostgreSQL sent it
     * @param offset where the entry's data starts in the file (0 for a whole file)
     * @param length the entry's data, padding excluded
     * @param headerBytes how many bytes of headers come before the data
     */
    record Member(String name, boolean plainFile, byte[] fileHeader, long offset, long length, long fileSize, int headerBytes) {
    }

    private static final int BLOCK = 512;

    private final String archive;
    private final Entries entries;
    private final long partBytes;
    private final byte[] header = new byte[BLOCK];
    private int headerFill;
    /** Bytes of the current entry's data still to come, padding included. */
    private long dataLeft;
    private boolean member;
    /** The last header was an extension header (a long name, PAX): the next member is never split. */
    private boolean extended;
    private boolean ended;
    private OutputStream current;
    /** The file being cut into ranges, while one is. */
    private Split split;

    /** A large file on its way through, range by range. */
    private static final class Split {
        final String name;
        final byte[] fileHeader;
        final long fileSize;
        long nextOffset;
        /** Bytes of the current range still to come (for the last range, padding included). */
        long rangeLeft;

        Split(String name, byte[] fileHeader, long fileSize) {
            this.name = name;
            this.fileHeader = fileHeader;
            this.fileSize = fileSize;
        }
    }

    /** Never splits a file. */
    TarStreamCutter(String archive, Entries entries) {
        this(archive, entries, Long.MAX_VALUE);
    }

    /** @param partBytes files larger than this are cut into ranges of {@link #rangeBytes}{@code (partBytes)} */
    TarStreamCutter(String archive, Entries entries, long partBytes) {
        this.archive = archive;
        this.entries = entries;
        this.partBytes = rangeBytes(partBytes);
    }

    /** The size of the ranges a cutter given {@code partBytes} cuts: rounded down to whole 512-byte blocks. */
    static long rangeBytes(long partBytes) {
        return Math.max(BLOCK, partBytes / BLOCK * BLOCK);
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        while (len > 0 && !ended) {
            int n;
            if (dataLeft > 0) {
                n = (int) Math.min(len, split == null ? dataLeft : split.rangeLeft);
                current.write(b, off, n);
                dataLeft -= n;
                if (dataLeft == 0) {
                    split = null;
                    entryEnded();
                } else if (split != null && (split.rangeLeft -= n) == 0) {
                    entries.memberEnded();
                    startRange();
                }
            } else {
                n = Math.min(len, BLOCK - headerFill);
                System.arraycopy(b, off, header, headerFill, n);
                headerFill += n;
                if (headerFill == BLOCK) {
                    headerFill = 0;
                    headerComplete();
                }
            }
            off += n;
            len -= n;
        }
    }

    private void headerComplete() throws IOException {
        if (isZeroBlock()) {
            ended = true;
            return;
        }
        if (!TarUtils.verifyCheckSum(header)) {
            throw new IOException(archive + ": damaged tar header (checksum mismatch) in the stream PostgreSQL sent");
        }
        TarArchiveEntry entry = new TarArchiveEntry(header);
        byte type = header[156];
        // Extension headers describe the next entry: never end a piece after one.
        boolean extension = type == 'L' || type == 'K' || type == 'x' || type == 'g';
        member = !extension;
        long size = entry.isDirectory() || entry.isSymbolicLink() || entry.isLink() ? 0 : entry.getSize();
        dataLeft = (size + BLOCK - 1) / BLOCK * BLOCK;
        // PostgreSQL's tar streams have no extension headers; a member after one keeps its headers whole.
        // An incremental file is read from its header on (see IncrementalFile): it stays in one piece.
        boolean plainFile = member && !extended && entry.isFile() && !entry.isSparse() && !IncrementalFile.isIncremental(entry.getName());
        if (plainFile && size > partBytes) {
            split = new Split(entry.getName(), header.clone(), size);
            startRange();
            return;
        }
        extended = extension;
        current = entries.entryStarts(new Member(entry.getName(), plainFile, header.clone(), 0, size, size, BLOCK));
        current.write(header);
        if (dataLeft == 0) {
            entryEnded();
        }
    }

    /** Starts the next range of the file being split: its headers, then up to partBytes of its data. */
    private void startRange() throws IOException {
        long offset = split.nextOffset;
        long length = Math.min(partBytes, split.fileSize - offset);
        split.nextOffset += length;
        // The last range carries the file's padding too.
        split.rangeLeft = split.nextOffset == split.fileSize ? dataLeft : length;
        byte[] headers = FilePart.headers(split.fileHeader, offset, length, split.fileSize);
        current = entries.entryStarts(new Member(split.name, true, split.fileHeader, offset, length, split.fileSize, headers.length));
        current.write(headers);
    }

    private void entryEnded() throws IOException {
        if (member) {
            entries.memberEnded();
        }
    }

    private boolean isZeroBlock() {
        for (byte b : header) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Checks that the stream did not stop inside an entry. Some streams (PostgreSQL 14's
     * tablespace archives) end without the zero blocks, which is fine.
     */
    @Override
    public void close() throws IOException {
        if (ended) {
            return;
        }
        if (headerFill != 0) {
            throw new IOException(archive + ": the tar stream ended inside a header (" + headerFill + " of 512 bytes)");
        }
        if (dataLeft > 0) {
            throw new IOException(archive + ": the tar stream ended inside an entry (" + dataLeft + " bytes missing)");
        }
    }
}

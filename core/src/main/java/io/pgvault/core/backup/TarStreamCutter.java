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
 * <p>Push rather than pull so the thread that reads the socket also cuts, hashes and
 * compresses: no hand-over between threads, no copy per message.
 */
final class TarStreamCutter extends OutputStream {

    /** Where entries go. */
    interface Entries {
        /** The stream the next entry's header and data are written to. */
        OutputStream entryStarts() throws IOException;

        /** A file, directory or link ended (not an extension header): a piece may end here. */
        void memberEnded() throws IOException;
    }

    private static final int BLOCK = 512;

    private final String archive;
    private final Entries entries;
    private final byte[] header = new byte[BLOCK];
    private int headerFill;
    private long dataLeft;
    private boolean member;
    private boolean ended;
    private OutputStream current;

    TarStreamCutter(String archive, Entries entries) {
        this.archive = archive;
        this.entries = entries;
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
                n = (int) Math.min(len, dataLeft);
                current.write(b, off, n);
                dataLeft -= n;
                if (dataLeft == 0) {
                    entryEnded();
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
        member = !(type == 'L' || type == 'K' || type == 'x' || type == 'g');
        long size = entry.isDirectory() || entry.isSymbolicLink() || entry.isLink() ? 0 : entry.getSize();
        dataLeft = (size + BLOCK - 1) / BLOCK * BLOCK;
        current = entries.entryStarts();
        current.write(header);
        if (dataLeft == 0) {
            entryEnded();
        }
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

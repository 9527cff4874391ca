package io.pgvault.core.wal;

import io.pgvault.core.util.Sha256;
import io.pgvault.core.util.SingleByte;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Reads a WAL file as it streams past: keeps its first 40 bytes, counts its length,
 * computes the SHA-256 of the raw bytes, and refuses to read past a limit so a wrong
 * body cannot fill a disk. Use it on the way in, then hand {@link #head()} and
 * {@link #length()} to {@link WalSegmentCheck}.
 */
public final class WalStreamInspector extends FilterInputStream {

    private final String objectName;
    private long maxBytes;
    private final MessageDigest sha256;
    private final byte[] head = new byte[WalPageHeader.LONG_HEADER_BYTES];
    private long length;

    public WalStreamInspector(InputStream in, String objectName, long maxBytes) {
        super(in);
        this.objectName = objectName;
        this.maxBytes = maxBytes;
        this.sha256 = Sha256.newDigest();
    }

    @Override
    public int read() throws IOException {
        return SingleByte.read(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = super.read(b, off, len);
        if (n > 0) {
            if (length < head.length) {
                System.arraycopy(b, off, head, (int) length, (int) Math.min(n, head.length - length));
            }
            length += n;
            if (length > maxBytes) {
                throw new InvalidWalException(WalProblem.TOO_LONG, objectName + " is longer than " + maxBytes
                        + " bytes, the largest WAL file this cluster can have");
            }
            sha256.update(b, off, n);
        }
        return n;
    }

    /**
     * Lowers the limit, once the first page has said how long the file can be: the rest of a
     * longer body is then refused as it arrives, not after the most any cluster's file may hold.
     */
    public void limitTo(long bytes) {
        maxBytes = Math.min(maxBytes, bytes);
    }

    @Override
    public long skip(long n) throws IOException {
        throw new IOException("skipping is not supported: every byte must be checksummed");
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    /** The first bytes seen (up to 40; fewer if the stream was shorter). */
    public byte[] head() {
        return Arrays.copyOf(head, (int) Math.min(length, head.length));
    }

    public long length() {
        return length;
    }

    /** Hex SHA-256 of every byte read so far; call once the stream is exhausted. */
    public String sha256Hex() {
        try {
            return HexFormat.of().formatHex(((MessageDigest) sha256.clone()).digest());
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException(e);
        }
    }
}

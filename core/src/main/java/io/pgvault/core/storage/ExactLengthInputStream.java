package io.pgvault.core.storage;

import io.pgvault.core.util.SingleByte;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Passes a stream through and fails if it ends before, or runs past, the length the
 * caller declared, so a cut-off upload never turns into a shorter stored object.
 */
public final class ExactLengthInputStream extends FilterInputStream {

    private final String key;
    private final long expected;
    private long seen;

    public ExactLengthInputStream(InputStream in, String key, long expected) {
        super(in);
        this.key = key;
        this.expected = expected;
    }

    @Override
    public int read() throws IOException {
        return SingleByte.read(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        if (seen == expected) {
            // Declared length reached: the source must be exhausted too.
            if (super.read() != -1) {
                throw new StorageException("data for " + key + " runs past the declared " + expected + " bytes; nothing was stored");
            }
            return -1;
        }
        int n = super.read(b, off, (int) Math.min(len, expected - seen));
        if (n < 0) {
            throw new StorageException("data for " + key + " ended after " + seen + " of " + expected
                    + " bytes (connection cut?); nothing was stored");
        }
        seen += n;
        if (seen == expected && super.read() != -1) {
            // Check before handing out the last byte: a reader that stops at the declared
            // length (as the S3 SDK does) would otherwise store a silently cut object.
            throw new StorageException("data for " + key + " runs past the declared " + expected + " bytes; nothing was stored");
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        throw new IOException("skip is not supported");
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    /** Not passed on: a reader (the S3 SDK retrying) that rewound the source under the count would fail the length check. */
    @Override
    public synchronized void mark(int readlimit) {
        // no mark: see markSupported
    }

    @Override
    public synchronized void reset() throws IOException {
        throw new IOException("data for " + key + " cannot be read again (mark/reset is not supported)");
    }
}

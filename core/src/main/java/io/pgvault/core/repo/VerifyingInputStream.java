package io.pgvault.core.repo;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Hands out content while hashing it, and fails the read that reaches the end if the
 * length or SHA-256 differ from what the object's header promised. Callers write what
 * they read to a temporary place and only publish it after EOF was reached cleanly.
 */
final class VerifyingInputStream extends FilterInputStream {

    private final String key;
    private final long expectedLength;
    private final String expectedSha256;
    private final MessageDigest digest;
    private long length;
    private boolean verified;

    VerifyingInputStream(InputStream in, String key, long expectedLength, String expectedSha256) {
        super(in);
        this.key = key;
        this.expectedLength = expectedLength;
        this.expectedSha256 = expectedSha256;
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n;
        try {
            n = super.read(b, off, len);
        } catch (IOException e) {
            if (e instanceof CorruptObjectException) {
                throw e;
            }
            throw new CorruptObjectException(key + " cannot be decompressed (" + e.getMessage() + "): the object is damaged or truncated", e);
        }
        if (n > 0) {
            length += n;
            if (length > expectedLength) {
                throw new CorruptObjectException(key + " holds more than the " + expectedLength + " bytes its header declares: the object is damaged");
            }
            digest.update(b, off, n);
            if (length == expectedLength) {
                // Verify before handing out the last bytes, so a consumer that streams on
                // (an HTTP response with a Content-Length) never delivers a complete but wrong file.
                if (in.read() != -1) {
                    throw new CorruptObjectException(key + " holds more than the " + expectedLength + " bytes its header declares: the object is damaged");
                }
                verify();
            }
        } else if (n < 0 && !verified) {
            verify();
        }
        return n;
    }

    private void verify() throws CorruptObjectException {
        if (length != expectedLength) {
            throw new CorruptObjectException(key + " holds " + length + " bytes, its header declares " + expectedLength + ": the object is truncated");
        }
        String actual = HexFormat.of().formatHex(digest.digest());
        if (!actual.equals(expectedSha256)) {
            throw new CorruptObjectException(key + " is damaged: the SHA-256 of its content is " + actual + ", its header says "
                    + expectedSha256 + "; do not use it, restore it from another copy");
        }
        verified = true;
    }

    @Override
    public long skip(long n) throws IOException {
        throw new IOException("skip is not supported: every byte must be verified");
    }

    @Override
    public boolean markSupported() {
        return false;
    }
}

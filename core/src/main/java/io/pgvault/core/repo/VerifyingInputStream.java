package io.pgvault.core.repo;

import io.pgvault.core.compress.Codec;
import io.pgvault.core.util.Sha256;
import io.pgvault.core.util.SingleByte;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestInputStream;
import java.security.MessageDigest;

/**
 * Hands out content while checking it, and fails the read that reaches the end if the
 * length or SHA-256 differ from what the object's header promised. Callers write what
 * they read to a temporary place and only publish it after EOF was reached cleanly.
 */
final class VerifyingInputStream extends FilterInputStream {

    private final String key;
    private final long expectedLength;
    private final String expectedSha256;
    /** The stored payload on its way into the decompressor, when the checksum covers it; else null. */
    private final DigestInputStream hashedPayload;
    private final MessageDigest contentDigest;
    private long length;
    private boolean verified;

    private VerifyingInputStream(InputStream in, String key, long expectedLength, String expectedSha256, DigestInputStream hashedPayload) {
        super(in);
        this.key = key;
        this.expectedLength = expectedLength;
        this.expectedSha256 = expectedSha256;
        this.hashedPayload = hashedPayload;
        this.contentDigest = hashedPayload == null ? Sha256.newDigest() : null;
    }

    /** Checks the content handed out against the SHA-256 of the raw bytes. */
    static InputStream ofContent(Codec codec, InputStream payload, String key, long expectedLength, String expectedSha256) throws IOException {
        return new VerifyingInputStream(codec.decompress(payload), key, expectedLength, expectedSha256, null);
    }

    /**
     * Checks the stored payload against its SHA-256: hashed on its way into the
     * decompressor and read to its very end before the comparison.
     */
    static InputStream ofPayload(Codec codec, InputStream payload, String key, long expectedLength, String expectedSha256) throws IOException {
        DigestInputStream hashed = new DigestInputStream(payload, Sha256.newDigest());
        return new VerifyingInputStream(codec.decompress(hashed), key, expectedLength, expectedSha256, hashed);
    }

    @Override
    public int read() throws IOException {
        return SingleByte.read(this);
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
            if (contentDigest != null) {
                contentDigest.update(b, off, n);
            }
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

    private void verify() throws IOException {
        if (length != expectedLength) {
            throw new CorruptObjectException(key + " holds " + length + " bytes, its header declares " + expectedLength + ": the object is truncated");
        }
        String actual;
        if (hashedPayload != null) {
            hashedPayload.transferTo(OutputStream.nullOutputStream());
            actual = Sha256.hex(hashedPayload.getMessageDigest());
        } else {
            actual = Sha256.hex(contentDigest);
        }
        if (!actual.equals(expectedSha256)) {
            throw new CorruptObjectException(key + " is damaged: the SHA-256 of its " + (hashedPayload != null ? "stored payload" : "content")
                    + " is " + actual + ", its header says " + expectedSha256 + "; do not use it, restore it from another copy");
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

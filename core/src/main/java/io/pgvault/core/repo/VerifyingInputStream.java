package io.pgvault.core.repo;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Hands out content while checking it, and fails the read that reaches the end if the
 * length or SHA-256 differ from what the object's header promised. Callers write what
 * they read to a temporary place and only publish it after EOF was reached cleanly.
 */
final class VerifyingInputStream extends FilterInputStream {

    /** The SHA-256 check at the end of the content. */
    sealed interface Check {
        void update(byte[] b, int off, int len);

        /** The hex SHA-256 of what the header's checksum covers, once the content was read whole. */
        String actual() throws IOException;

        String expected();

        String covers();
    }

    /** The header's SHA-256 covers the raw bytes: hash what is handed out. */
    static final class RawSha256 implements Check {
        private final MessageDigest digest = sha256();
        private final String expected;

        RawSha256(String expected) {
            this.expected = expected;
        }

        @Override
        public void update(byte[] b, int off, int len) {
            digest.update(b, off, len);
        }

        @Override
        public String actual() {
            return HexFormat.of().formatHex(digest.digest());
        }

        @Override
        public String expected() {
            return expected;
        }

        @Override
        public String covers() {
            return "content";
        }
    }

    /**
     * The header's SHA-256 covers the stored payload: hash the compressed bytes on their
     * way into the decompressor, and read the payload to its very end before comparing.
     */
    static final class PayloadSha256 implements Check {
        private final MessageDigest digest = sha256();
        private final DigestInputStream hashed;
        private final String expected;

        PayloadSha256(InputStream payload, String expected) {
            this.hashed = new DigestInputStream(payload, digest);
            this.expected = expected;
        }

        InputStream hashedPayload() {
            return hashed;
        }

        @Override
        public void update(byte[] b, int off, int len) {
            // the decompressor's input is hashed, not its output
        }

        @Override
        public String actual() throws IOException {
            hashed.transferTo(OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(digest.digest());
        }

        @Override
        public String expected() {
            return expected;
        }

        @Override
        public String covers() {
            return "stored payload";
        }
    }

    private final String key;
    private final long expectedLength;
    private final Check check;
    private long length;
    private boolean verified;

    VerifyingInputStream(InputStream in, String key, long expectedLength, Check check) {
        super(in);
        this.key = key;
        this.expectedLength = expectedLength;
        this.check = check;
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
            check.update(b, off, n);
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
        String actual = check.actual();
        if (!actual.equals(check.expected())) {
            throw new CorruptObjectException(key + " is damaged: the SHA-256 of its " + check.covers() + " is " + actual + ", its header says "
                    + check.expected() + "; do not use it, restore it from another copy");
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

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

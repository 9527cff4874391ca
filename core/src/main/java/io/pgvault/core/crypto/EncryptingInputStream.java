package io.pgvault.core.crypto;

import io.pgvault.core.util.SingleByte;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The ciphertext of {@code plain} as a stream to read (stores pull what they upload),
 * made with Tink's own encrypting stream: plaintext is read in chunks and pushed through
 * it, and what it emits is served. Memory stays at about one 64 KiB segment; no thread.
 */
final class EncryptingInputStream extends InputStream {

    /** Collects what the encrypter writes; handed out a batch at a time. */
    private final ByteArrayOutputStream emitted = new ByteArrayOutputStream(1 << 17);
    private final InputStream plain;
    private final OutputStream encrypter;
    private final byte[] chunk = new byte[1 << 16];
    private InputStream ready = InputStream.nullInputStream();
    private boolean finished;

    interface Encrypter {
        OutputStream open(OutputStream ciphertext) throws IOException;
    }

    EncryptingInputStream(InputStream plain, byte[] prefix, Encrypter encrypter) throws IOException {
        this.plain = plain;
        emitted.write(prefix);
        this.encrypter = encrypter.open(emitted);
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
        while (true) {
            int n = ready.read(b, off, len);
            if (n > 0) {
                return n;
            }
            if (!fill()) {
                return -1;
            }
        }
    }

    /** Moves the next batch of ciphertext into {@link #ready}; false at the end. */
    private boolean fill() throws IOException {
        while (emitted.size() == 0 && !finished) {
            int n = plain.read(chunk);
            if (n < 0) {
                encrypter.close(); // writes the last, marked segment
                finished = true;
            } else {
                encrypter.write(chunk, 0, n);
            }
        }
        if (emitted.size() == 0) {
            return false;
        }
        ready = new ByteArrayInputStream(emitted.toByteArray());
        emitted.reset();
        return true;
    }

    @Override
    public void close() throws IOException {
        plain.close();
    }
}

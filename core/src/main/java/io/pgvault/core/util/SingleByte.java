package io.pgvault.core.util;

import java.io.IOException;
import java.io.InputStream;

/**
 * The one-byte {@code read()} of a stream whose checks live in its array {@code read}: it goes
 * through that read, so a byte read alone is counted, hashed and verified like any other.
 */
public final class SingleByte {

    private SingleByte() {
    }

    /** {@code in}'s next byte (0-255) read through {@code in.read(byte[], 0, 1)}, or -1 at its end. */
    public static int read(InputStream in) throws IOException {
        byte[] one = new byte[1];
        return in.read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }
}

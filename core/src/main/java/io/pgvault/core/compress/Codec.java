package io.pgvault.core.compress;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A streamed compression format. Compressed data is in the format's standard frame, so
 * the {@code zstd} and {@code lz4} command-line tools read what pgvault writes.
 */
public interface Codec {

    /** The name stored in object headers and given in configuration ({@code zstd}, {@code lz4}, {@code none}). */
    String id();

    /** Wraps {@code out}; closing the result finishes the frame and closes {@code out}. */
    OutputStream compress(OutputStream out) throws IOException;

    /** Wraps {@code in}; a damaged or truncated frame fails the read with an {@link IOException}. */
    InputStream decompress(InputStream in) throws IOException;
}

package io.pgvault.core.compress;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** Stores bytes as they are. */
public final class NoCodec implements Codec {

    @Override
    public String id() {
        return "none";
    }

    @Override
    public OutputStream compress(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }
        };
    }

    @Override
    public InputStream decompress(InputStream in) {
        return in;
    }

    @Override
    public String toString() {
        return "none";
    }
}

package io.pgvault.core.compress;

import net.jpountz.lz4.LZ4FrameInputStream;
import net.jpountz.lz4.LZ4FrameOutputStream;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** LZ4 frame format (readable by {@code lz4 -d}), 4 MiB blocks, with a content checksum. */
public final class Lz4Codec implements Codec {

    @Override
    public String id() {
        return "lz4";
    }

    @Override
    public OutputStream compress(OutputStream out) throws IOException {
        return new LZ4FrameOutputStream(out, LZ4FrameOutputStream.BLOCKSIZE.SIZE_4MB,
                LZ4FrameOutputStream.FLG.Bits.BLOCK_INDEPENDENCE, LZ4FrameOutputStream.FLG.Bits.CONTENT_CHECKSUM);
    }

    @Override
    public InputStream decompress(InputStream in) throws IOException {
        return new LZ4FrameInputStream(new BufferedInputStream(in, 1 << 16));
    }

    @Override
    public String toString() {
        return "lz4";
    }
}

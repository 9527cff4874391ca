package io.pgvault.core.archive;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import io.pgvault.core.util.SingleByte;
import io.pgvault.core.wal.InvalidWalException;
import io.pgvault.core.wal.WalProblem;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;

/**
 * A WAL file's body as {@code pgvault wal-push} sends it ({@link PushHeaders}): zstd frames, so a 16 MiB segment
 * crosses the network as one or two MiB and the server stores the frames it received instead
 * of compressing the file again. The body is untrusted input: it is decoded with a bounded
 * window (a crafted frame header cannot make the decoder allocate more), its compressed bytes
 * are capped (empty frames cannot make it endless), and a body that does not decode is refused
 * as bad input, with nothing stored.
 */
public final class ZstdUpload {

    /** The level wal-push compresses at: the fastest, which also keeps the decoder's window small (512 KiB). */
    public static final int LEVEL = 1;
    /** The largest window a body may use: 16 MiB (wal-push's level 1 uses 512 KiB). */
    static final int WINDOW_LOG_MAX = 24;

    private ZstdUpload() {
    }

    /**
     * The most compressed bytes a body of at most {@code rawLimit} bytes can need: zstd's bound
     * for incompressible data (a raw block per 128 KiB) with room for frame headers.
     */
    static long compressedLimit(long rawLimit) {
        return rawLimit + (rawLimit >> 7) + (128 << 10);
    }

    /**
     * The decoded bytes of {@code compressed}. Every compressed byte read is first written to
     * {@code copy} (the frames to store as they came), when it is not null. Reading the result
     * to its end reads the body to its end, and succeeds only if the body ends where a frame
     * does: a last frame cut short is refused, not taken for the end of the file. Close the
     * result: the decoder holds native memory.
     *
     * @param rawLimit the most decoded bytes the body may hold
     * @param name     for messages: the WAL file's name
     */
    public static InputStream decode(InputStream compressed, OutputStream copy, long rawLimit, String name) {
        InputStream source = new Capped(compressed, compressedLimit(rawLimit), name);
        if (copy != null) {
            source = new Copying(source, copy);
        }
        return new FrameDecoder(source, name);
    }

    /**
     * zstd's streaming decoder driven by hand, because the end of the body must be checked: the
     * library's input stream ends quietly when the body stops inside a frame that began in the
     * last chunk it read. Here the decoder's own answer says whether the last frame was whole.
     */
    private static final class FrameDecoder extends InputStream {
        private static final int BUFFER = 1 << 17;

        private final InputStream in;
        private final String name;
        private final ZstdDecompressCtx context = new ZstdDecompressCtx();
        private final byte[] chunk = new byte[BUFFER];
        private final ByteBuffer src = ByteBuffer.allocateDirect(BUFFER).flip();
        private final ByteBuffer dst = ByteBuffer.allocateDirect(BUFFER).flip();
        /** Whether everything decoded so far ended a frame, and nothing of one is held back. */
        private boolean frameEnded = true;
        private boolean endOfBody;
        private boolean closed;

        FrameDecoder(InputStream in, String name) {
            this.in = in;
            this.name = name;
            context.setLongMax(WINDOW_LOG_MAX);
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
            while (!dst.hasRemaining()) {
                if (!src.hasRemaining() && !endOfBody) {
                    fill();
                    continue;
                }
                if (!src.hasRemaining() && frameEnded) {
                    return -1;
                }
                int before = src.remaining();
                dst.clear();
                try {
                    frameEnded = context.decompressDirectByteBufferStream(dst, src);
                } catch (ZstdException e) {
                    throw refused(e.getMessage());
                }
                dst.flip();
                if (!dst.hasRemaining() && src.remaining() == before && endOfBody && !frameEnded) {
                    throw refused("the body ends inside a frame");
                }
            }
            int n = Math.min(len, dst.remaining());
            dst.get(b, off, n);
            return n;
        }

        private void fill() throws IOException {
            src.compact();
            int n = in.read(chunk, 0, src.remaining());
            if (n < 0) {
                endOfBody = true;
            } else {
                src.put(chunk, 0, n);
            }
            src.flip();
        }

        private InvalidWalException refused(String why) {
            return new InvalidWalException(WalProblem.BAD_ENCODING, name + ": the zstd-compressed body does not decode (" + why
                    + "); nothing was stored");
        }

        @Override
        public long skip(long n) throws IOException {
            throw new IOException("skipping is not supported: every byte must be checked");
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                context.close();
            }
        }
    }

    /** Fails a read past {@code limit} bytes as a body too long to be what its name says. */
    private static final class Capped extends FilterInputStream {
        private final long limit;
        private final String name;
        private long read;

        Capped(InputStream in, long limit, String name) {
            super(in);
            this.limit = limit;
            this.name = name;
        }

        @Override
        public int read() throws IOException {
            return SingleByte.read(this);
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0 && (read += n) > limit) {
                throw new InvalidWalException(WalProblem.BAD_ENCODING, name + ": the compressed body is longer than " + limit
                        + " bytes, more than any compression of the largest WAL file this cluster can have; nothing was stored");
            }
            return n;
        }
    }

    /** Writes every byte it reads to {@code copy}. */
    private static final class Copying extends FilterInputStream {
        private final OutputStream copy;

        Copying(InputStream in, OutputStream copy) {
            super(in);
            this.copy = copy;
        }

        @Override
        public int read() throws IOException {
            return SingleByte.read(this);
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                copy.write(b, off, n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            throw new IOException("skipping is not supported: every byte is stored");
        }
    }
}

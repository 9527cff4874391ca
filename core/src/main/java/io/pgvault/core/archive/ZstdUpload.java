package io.pgvault.core.archive;

import com.github.luben.zstd.ZstdIOException;
import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import io.pgvault.core.util.SingleByte;
import io.pgvault.core.wal.InvalidWalException;
import io.pgvault.core.wal.WalProblem;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A WAL file's body as {@code pgvault wal-push} sends it: zstd frames, so a 16 MiB segment
 * crosses the network as one or two MiB and the server stores the frames it received instead
 * of compressing the file again. The body is untrusted input: it is decoded with a bounded
 * window (a crafted frame header cannot make the decoder allocate more), its compressed bytes
 * are capped (empty frames cannot make it endless), and a body that does not decode is refused
 * as bad input, with nothing stored.
 */
public final class ZstdUpload {

    /** Names the encoding of a body that is not the file itself; only {@value #ENCODING} is read. */
    public static final String ENCODING_HEADER = "X-Pgvault-Encoding";
    /** The name senders put in {@value #ENCODING_HEADER}. */
    public static final String ENCODING = "zstd";
    /** The file's own length, which an encoded body must announce: a cut upload is told from a short file by it. */
    public static final String RAW_LENGTH_HEADER = "X-Pgvault-Raw-Length";
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
     * to its end reads the body to its end: anything after the last frame is refused.
     *
     * @param name for messages: the WAL file's name
     */
    public static InputStream decode(InputStream compressed, OutputStream copy, long rawLimit, String name) throws IOException {
        InputStream source = new Capped(compressed, compressedLimit(rawLimit), name);
        if (copy != null) {
            source = new Copying(source, copy);
        }
        ZstdInputStreamNoFinalizer zstd = new ZstdInputStreamNoFinalizer(source);
        zstd.setLongMax(WINDOW_LOG_MAX);
        return new Refusing(zstd, name);
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

    /** Turns the decoder's refusals into bad input (a 400), which a damaged or crafted body is, not a server failure. */
    private static final class Refusing extends FilterInputStream {
        private final String name;

        Refusing(InputStream in, String name) {
            super(in);
            this.name = name;
        }

        @Override
        public int read() throws IOException {
            return SingleByte.read(this);
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (ZstdIOException e) {
                throw new InvalidWalException(WalProblem.BAD_ENCODING, name + ": the zstd-compressed body does not decode ("
                        + e.getMessage() + "); nothing was stored");
            }
        }

        @Override
        public long skip(long n) throws IOException {
            throw new IOException("skipping is not supported: every byte must be checked");
        }
    }
}

package io.pgvault.core.backup;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Hands bytes from the thread that receives a backup stream to the thread that re-cuts
 * it into pieces, a chunk (one protocol message) at a time through a bounded queue.
 * Cheaper than {@link java.io.PipedInputStream}, which copies byte ranges under a lock
 * and polls with one-second waits. The reader side closing early makes writes fail.
 */
final class ChunkPipe {

    private static final byte[] END = new byte[0];
    private static final int MAX_CHUNKS = 256;

    private final BlockingQueue<byte[]> chunks = new ArrayBlockingQueue<>(MAX_CHUNKS);
    private volatile boolean readerGone;

    OutputStream writer() {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                if (len > 0) {
                    put(Arrays.copyOfRange(b, off, off + len));
                }
            }

            @Override
            public void close() throws IOException {
                put(END);
            }
        };
    }

    private void put(byte[] chunk) throws IOException {
        try {
            while (!chunks.offer(chunk, 100, TimeUnit.MILLISECONDS)) {
                if (readerGone) {
                    throw new IOException("the piece writer stopped reading");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while handing over backup data");
        }
    }

    InputStream reader() {
        return new InputStream() {
            private byte[] current = new byte[0];
            private int pos;
            private boolean ended;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                while (pos == current.length) {
                    if (ended) {
                        return -1;
                    }
                    try {
                        current = chunks.take();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new InterruptedIOException("interrupted while waiting for backup data");
                    }
                    pos = 0;
                    if (current == END) {
                        ended = true;
                        return -1;
                    }
                }
                int n = Math.min(len, current.length - pos);
                System.arraycopy(current, pos, b, off, n);
                pos += n;
                return n;
            }

            @Override
            public void close() {
                readerGone = true;
                chunks.clear();
            }
        };
    }
}

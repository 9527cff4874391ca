package io.pgvault.server.api;

import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Schedulers;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A download's body (a WAL segment, a repository object): the stream read on a blocking
 * thread in chunks of {@link #CHUNK_BYTES}, each written to the connection as one piece.
 * Given the stream itself, Micronaut writes it 8 KiB per event-loop hop: a 16 MiB segment
 * took 2048 hops, 125-133 ms a GET on loopback (bench/run-restore-bench.sh, "curl GET").
 *
 * <p>The stream is closed once the body has been written, has failed, or the client went
 * away: that is when a download gives back its turn and its buffer room, so whatever holds
 * them must be released by the stream's {@code close}. A response whose body is never
 * subscribed to would keep them: a HEAD is one, and the routes answer HEAD themselves.
 *
 * <p>The server writes such a body chunked (it cannot know the length of a publisher); a body
 * cut by a failure mid-way ends without its last chunk, which clients report as an error.
 */
public final class DownloadBody {

    /** Large enough that a segment is a few dozen writes, small enough that a slow client holds little heap per download. */
    static final int CHUNK_BYTES = 256 << 10;

    private DownloadBody() {
    }

    /** @param blocking where the stream is read: reading may wait on the repository, never on the event loop */
    public static Publisher<byte[]> of(InputStream body, Executor blocking) {
        AtomicBoolean sent = new AtomicBoolean();
        return Flux.<byte[], InputStream>generate(() -> {
            if (!sent.compareAndSet(false, true)) {
                // Two readers of one stream would each send part of it.
                throw new IllegalStateException("a download body is sent once");
            }
            return body;
        }, (in, sink) -> {
            try {
                byte[] chunk = new byte[CHUNK_BYTES];
                int n = in.readNBytes(chunk, 0, chunk.length);
                if (n == 0) {
                    sink.complete();
                } else {
                    sink.next(n == chunk.length ? chunk : Arrays.copyOf(chunk, n));
                }
            } catch (IOException e) {
                sink.error(e);
            }
            return in;
        }, DownloadBody::close).subscribeOn(Schedulers.fromExecutor(blocking))
                // Refused by the executor (the server stopping), the body was never read: nothing else closes it.
                .doOnError(RejectedExecutionException.class, e -> close(body));
    }

    private static void close(InputStream in) {
        try {
            in.close();
        } catch (IOException e) {
            // the body is over either way; what the stream held is released by its close
        }
    }
}

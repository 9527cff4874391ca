package io.pgvault.core.archive;

import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.repo.StreamedHeads;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.WalFileName;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.util.Optional;

/**
 * Where {@code wal-fetch} and the prefetcher read WAL: the repository, directly or
 * read-only through a pgvault server (the stored objects come back unchanged either
 * way, so every file is checked against its SHA-256 here). A segment that is not
 * archived yet but was being streamed is served from its streamed head, padded with
 * zeros to the segment size PostgreSQL expects: replay stops at the end of the valid
 * records, which is how a recovery to "latest" reaches the last streamed commit.
 * The server serves its GET endpoint through this too. {@link #close()} closes the store.
 */
public final class WalSource implements AutoCloseable {

    private final ObjectStore store;
    private final String cluster;
    private final boolean streamedTail;

    /** @param streamedTail whether a segment's streamed head may stand in for it (not for the prefetcher: the head grows) */
    public WalSource(ObjectStore store, String cluster, boolean streamedTail) {
        this.store = store;
        this.cluster = RepositoryLayout.checkCluster(cluster);
        this.streamedTail = streamedTail;
    }

    /**
     * @return empty only when the file is definitely not archived; the stream fails its
     *     last read if the content does not match its checksum
     * @throws IOException when the answer is unknown (unreachable, damaged, no such cluster): never "absent"
     */
    public Optional<InputStream> open(WalFileName name) throws IOException {
        return openSized(name).map(Content::stream);
    }

    /**
     * A file's content and its length as PostgreSQL gets it (a streamed head counts with its padding).
     *
     * @param streamedHead whether this is a segment's streamed head standing in for the segment
     */
    public record Content(InputStream stream, long length, boolean streamedHead) {
    }

    /** As {@link #open}, with the length (for an HTTP Content-Length). */
    public Optional<Content> openSized(WalFileName name) throws IOException {
        Optional<Content> archived = content(RepositoryLayout.walKey(cluster, name), false);
        if (archived.isEmpty() && streamedTail && name.kind() == WalFileName.Kind.SEGMENT) {
            Optional<StreamedHeads.Head> head = StreamedHeads.longest(store, cluster, name);
            if (head.isPresent()) {
                archived = content(head.get().key(), true);
                if (archived.isEmpty()) {
                    // The segment was completed between the two reads: its heads are deleted once it is archived whole.
                    archived = content(RepositoryLayout.walKey(cluster, name), false);
                }
            }
        }
        if (archived.isEmpty() && store.stat(RepositoryLayout.clusterDescriptor(cluster)).isEmpty()) {
            // A mistyped --cluster or --repo must not read as "not archived": PostgreSQL would end recovery there.
            throw new IOException(describe() + " has no cluster '" + cluster + "': check --cluster and --repo/--server in restore_command");
        }
        return archived;
    }

    /** Whether the repository holds a streamed head for this segment (it stands in only when {@code streamedTail}). */
    public boolean hasStreamedHead(WalFileName name) throws IOException {
        return name.kind() == WalFileName.Kind.SEGMENT && StreamedHeads.any(store, cluster, name);
    }

    /** @param streamedHead whether to pad the content with zeros to the segment size in the object's header */
    private Optional<Content> content(String key, boolean streamedHead) throws IOException {
        Optional<InputStream> stored = store.get(key);
        if (stored.isEmpty()) {
            return Optional.empty();
        }
        ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, stored.get());
        InputStream content;
        try {
            content = opened.content();
        } catch (IOException | RuntimeException e) {
            // An unknown codec or a damaged frame header: the store's stream (an S3 connection) is released all the same.
            opened.close();
            throw e;
        }
        long padding = streamedHead ? opened.header().segmentSize() - opened.header().rawSize() : 0;
        if (padding > 0) {
            content = new SequenceInputStream(content, new Zeros(padding));
        }
        return Optional.of(new Content(new FilterInputStream(content) {
            @Override
            public void close() throws IOException {
                try {
                    super.close();
                } finally {
                    opened.close();
                }
            }
        }, opened.header().rawSize() + Math.max(0, padding), streamedHead));
    }

    public String describe() {
        return store.describe() + " (cluster " + cluster + ")";
    }

    @Override
    public void close() throws IOException {
        store.close();
    }

    /** {@code remaining} zero bytes. */
    private static final class Zeros extends InputStream {
        private long remaining;

        Zeros(long remaining) {
            this.remaining = remaining;
        }

        @Override
        public int read() {
            if (remaining <= 0) {
                return -1;
            }
            remaining--;
            return 0;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (remaining <= 0) {
                return -1;
            }
            int n = (int) Math.min(len, remaining);
            java.util.Arrays.fill(b, off, off + n, (byte) 0);
            remaining -= n;
            return n;
        }
    }
}

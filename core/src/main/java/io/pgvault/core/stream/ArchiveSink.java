package io.pgvault.core.stream;

import io.pgvault.core.archive.ClusterIdentity;
import io.pgvault.core.archive.WalArchiver;
import io.pgvault.core.compress.Codec;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.repo.StreamedHeads;
import io.pgvault.core.spool.SpoolBudget;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.util.Sha256;
import io.pgvault.core.wal.InvalidWalException;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalPageHeader;
import io.pgvault.core.wal.WalProblem;
import io.pgvault.core.wal.WalSegmentSize;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Arrays;

/**
 * Stores streamed WAL in the repository: complete segments and history files through
 * the archive's ingest path (the checks and conditional create archive_command gets, so
 * the same segment from both paths is a duplicate, not a conflict), the unfinished
 * segment's head as an enveloped, compressed {@code streaming/{segment}.{token}.partial}
 * object that each longer flush of this stream replaces and the completed segment removes.
 *
 * <p>Heads are written under this stream's fencing token ({@link StreamedHeads}), so no
 * other stream's head is ever replaced, and a head is written only when it is longer than
 * every head stored for the segment when this stream began it (read once per segment, not at
 * each flush): a receiver that reconnects (this server after a restart, or another server that
 * took the cluster's lease) streams again from the segment's start, and its first flushes hold
 * nothing the stored heads do not. Used by one receiver thread.
 */
public final class ArchiveSink implements WalSink {

    private static final Logger LOG = LoggerFactory.getLogger(ArchiveSink.class);

    /** The archive's ingest path for a complete file; returns once it is durable. */
    @FunctionalInterface
    public interface Ingest {
        void archive(WalFileName name, byte[] content) throws IOException;

        /** Straight into {@link WalArchiver}, for callers without a catalog to keep. */
        static Ingest into(WalArchiver archiver, String cluster, ClusterIdentity identity) {
            return (name, content) -> archiver.archive(cluster, identity, name, new ByteArrayInputStream(content), content.length);
        }
    }

    private final ObjectStore store;
    private final Ingest ingest;
    private final Codec codec;
    private final String cluster;
    private final SpoolBudget spool;
    private final String writer;
    private final long token;
    /** The segment whose head this sink writes, and the longest head of it known to be stored (read once, then its own writes). */
    private WalFileName headSegment;
    private long longestHead = -1;

    /** A sink with the spool to itself (a command-line tool, a test): no budget. */
    public ArchiveSink(ObjectStore store, Ingest ingest, Codec codec, String cluster, Path spool, String writer, long token) {
        this(store, ingest, codec, cluster, SpoolBudget.unlimited(spool), writer, token);
    }

    /**
     * @param writer names the server in the objects' headers
     * @param token this stream's fencing token (the lease's), which its heads are stored under
     */
    public ArchiveSink(ObjectStore store, Ingest ingest, Codec codec, String cluster, SpoolBudget spool, String writer, long token) {
        this.store = store;
        this.ingest = ingest;
        this.codec = codec;
        this.cluster = cluster;
        this.spool = spool;
        this.writer = writer;
        if (token < 0) {
            throw new IllegalArgumentException("a stream's token is not negative: " + token);
        }
        this.token = token;
    }

    @Override
    public void segment(WalFileName name, byte[] content) throws IOException {
        ingest.archive(name, content);
        StreamedHeads.deleteThrough(store, cluster, name);
    }

    @Override
    public void partial(WalFileName segment, byte[] content, int length) throws IOException {
        WalPageHeader page = longHeader(segment, content);
        if (!segment.equals(headSegment)) {
            // Once per segment: what the repository holds of it already (another stream's heads, or this server's before a restart).
            headSegment = segment;
            longestHead = StreamedHeads.longest(store, cluster, segment).map(StreamedHeads.Head::length).orElse(-1L);
        }
        long stored = longestHead;
        if (stored >= length) {
            // Durable already, and more of it: the receiver may report this position flushed.
            LOG.debug("Streamed head of {} of cluster '{}' not written: {} bytes received, {} already stored", segment, cluster, length, stored);
            return;
        }
        // A refusal here is a failed flush: the receiver reconnects with backoff and the head is written again.
        try (SpoolBudget.Reservation room = spool.reserve(length, "the streamed head of " + segment + " of cluster '" + cluster + "'")) {
            partial(segment, content, length, page, room);
        }
        longestHead = length;
    }

    private void partial(WalFileName segment, byte[] content, int length, WalPageHeader page, SpoolBudget.Reservation room) throws IOException {
        Files.createDirectories(spool.directory());
        Path payload = Files.createTempFile(spool.directory(), "partial-", ".spool");
        try {
            // Both checksums computed on the way: the stored payload is not read back for its own.
            MessageDigest stored = Sha256.newDigest();
            try (OutputStream out = codec.compress(new DigestOutputStream(SpoolBudget.track(Files.newOutputStream(payload), room), stored))) {
                out.write(content, 0, length);
            }
            MessageDigest sha = Sha256.newDigest();
            sha.update(content, 0, length);
            ObjectHeader header = new ObjectHeader("streaming-partial", segment.toString(), length, Sha256.hex(sha),
                    codec.id(), null, page.systemIdentifierText(), segment.timeline().value(), page.segmentSize(), writer, Instant.now().toString(),
                    page.major().map(m -> m.number()).orElse(null)).withPayloadSha256(Sha256.hex(stored));
            ObjectEnvelope.store(store, RepositoryLayout.streamingHead(cluster, segment, token), header, payload, false);
        } finally {
            Files.deleteIfExists(payload);
        }
    }

    @Override
    public void history(TimelineId timeline, byte[] content) throws IOException {
        ingest.archive(WalFileName.history(timeline), content);
    }

    /** The head describes itself: its first page is the segment's long header (system identifier, segment size). */
    private static WalPageHeader longHeader(WalFileName segment, byte[] content) {
        WalPageHeader page = WalPageHeader.parse(Arrays.copyOf(content, WalPageHeader.LONG_HEADER_BYTES), segment + " (streamed head)");
        if (page.major().isEmpty() || !page.isLongHeader()) {
            throw new InvalidWalException(WalProblem.NOT_WAL, "the streamed head of " + segment + " does not start with a WAL long page header");
        }
        WalSegmentSize size;
        try {
            size = new WalSegmentSize(page.segmentSize());
        } catch (IllegalArgumentException e) {
            throw new InvalidWalException(WalProblem.WRONG_SEGMENT_SIZE, "the streamed head of " + segment + ": " + e.getMessage());
        }
        if (!page.pageAddress().equals(segment.startLsn(size))) {
            throw new InvalidWalException(WalProblem.WRONG_PAGE_ADDRESS, "the streamed head of " + segment + " starts at page address "
                    + page.pageAddress() + ", not at the segment's start " + segment.startLsn(size));
        }
        return page;
    }
}

package io.pgvault.core.stream;

import io.pgvault.core.archive.ClusterIdentity;
import io.pgvault.core.archive.WalArchiver;
import io.pgvault.core.compress.Codec;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;

/**
 * Stores streamed WAL in the repository: complete segments and history files through
 * {@link WalArchiver} (the checks and conditional create archive_command gets, so the
 * same segment from both paths is a duplicate, not a conflict), the unfinished segment's
 * head as an enveloped, compressed {@code streaming/{segment}.partial} object that each
 * flush replaces and the completed segment removes.
 */
public final class ArchiveSink implements WalSink {

    private final ObjectStore store;
    private final WalArchiver archiver;
    private final Codec codec;
    private final String cluster;
    private final ClusterIdentity identity;
    private final Path spool;
    private final String writer;

    public ArchiveSink(ObjectStore store, WalArchiver archiver, Codec codec, String cluster, ClusterIdentity identity, Path spool, String writer) {
        this.store = store;
        this.archiver = archiver;
        this.codec = codec;
        this.cluster = cluster;
        this.identity = identity;
        this.spool = spool;
        this.writer = writer;
    }

    @Override
    public void segment(WalFileName name, byte[] content) throws IOException {
        archiver.archive(cluster, identity, name, new ByteArrayInputStream(content), content.length);
        store.delete(List.of(RepositoryLayout.streamingPartial(cluster, name)));
    }

    @Override
    public void partial(WalFileName segment, byte[] content, int length) throws IOException {
        Files.createDirectories(spool);
        Path payload = Files.createTempFile(spool, "partial-", ".spool");
        try {
            try (OutputStream out = codec.compress(Files.newOutputStream(payload))) {
                out.write(content, 0, length);
            }
            MessageDigest sha = sha256();
            sha.update(content, 0, length);
            ObjectHeader header = new ObjectHeader("streaming-partial", segment.toString(), length, HexFormat.of().formatHex(sha.digest()),
                    codec.id(), null, identity.systemIdentifier().isPresent() ? Long.toUnsignedString(identity.systemIdentifier().getAsLong()) : null,
                    segment.timeline().value(), identity.segmentSize().map(s -> s.bytes()).orElse(0L), writer, Instant.now().toString(), null);
            ObjectEnvelope.store(store, RepositoryLayout.streamingPartial(cluster, segment), header, payload, false);
        } finally {
            Files.deleteIfExists(payload);
        }
    }

    @Override
    public void history(TimelineId timeline, byte[] content) throws IOException {
        archiver.archive(cluster, identity, WalFileName.history(timeline), new ByteArrayInputStream(content), content.length);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

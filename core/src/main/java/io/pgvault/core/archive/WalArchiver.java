package io.pgvault.core.archive;

import io.pgvault.core.compress.Codec;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.spool.SpoolBudget;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.util.Sha256;
import io.pgvault.core.wal.InvalidWalException;
import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalPageHeader;
import io.pgvault.core.wal.WalProblem;
import io.pgvault.core.wal.WalSegmentCheck;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.core.wal.WalStreamInspector;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.Optional;

/**
 * The one ingest path for WAL, whoever delivers it (HTTP push, streaming receiver, CLI):
 * check the file against its name and its cluster, compress it into a spool file while
 * hashing the raw bytes, then store it with a conditional create. An identical file
 * already stored is a success; a different one is a {@link WalConflictException} and is
 * never overwritten. Only a return from {@link #archive} means the file is durable.
 *
 * <p>Thread-safe; the caller serializes a cluster's first segment (which fixes its
 * identity) against concurrent pushes.
 */
public final class WalArchiver {

    /** History files and backup labels are small text files; anything larger is not one. */
    private static final long MAX_TEXT_FILE = 1 << 20;
    private static final long MAX_SEGMENT = WalSegmentSize.MAX_BYTES;
    /** What an upload without Content-Length reserves first: a default-sized segment; it grows as it is written. */
    private static final long UNKNOWN_LENGTH_RESERVATION = 16L << 20;

    private static final System.Logger LOG = System.getLogger(WalArchiver.class.getName());

    private final ObjectStore store;
    private final Codec codec;
    private final SpoolBudget spool;
    private final String writer;
    private final Clock clock;

    /** An archiver with the spool to itself (a command-line tool, a test): no budget. */
    public WalArchiver(ObjectStore store, Codec codec, Path spoolDirectory, String writer, Clock clock) {
        this(store, codec, SpoolBudget.unlimited(spoolDirectory), writer, clock);
    }

    public WalArchiver(ObjectStore store, Codec codec, SpoolBudget spool, String writer, Clock clock) {
        this.store = store;
        this.codec = codec;
        this.spool = spool;
        this.writer = writer;
        this.clock = clock;
    }

    /**
     * Checks and stores one WAL file.
     *
     * @param cluster the cluster's name (already registered by the caller)
     * @param identity what the cluster's first segment fixed, or {@link ClusterIdentity#UNKNOWN}
     * @param name the file's name as PostgreSQL gave it
     * @param body the raw file
     * @param declaredLength the length the sender announced (Content-Length), or -1
     * @throws InvalidWalException when the file is not what its name claims (nothing stored)
     * @throws WalConflictException when other content is stored under this name (nothing overwritten)
     * @throws IOException when the repository fails (nothing acknowledged)
     */
    public ArchiveResult archive(String cluster, ClusterIdentity identity, WalFileName name, InputStream body, long declaredLength)
            throws IOException {
        return archive(cluster, identity, name, body, declaredLength, false);
    }

    /**
     * As {@link #archive(String, ClusterIdentity, WalFileName, InputStream, long)}, told that the
     * file is probably stored already (the catalog lists it: a cluster that streams sends each
     * segment again through archive_command). Then the body is only hashed and compared with the
     * stored object's header: nothing is compressed, spooled or uploaded for a duplicate.
     */
    public ArchiveResult archive(String cluster, ClusterIdentity identity, WalFileName name, InputStream body, long declaredLength,
                                 boolean probablyStored) throws IOException {
        return archive(cluster, identity, name, body, declaredLength, probablyStored, false);
    }

    /**
     * As {@link #archive(String, ClusterIdentity, WalFileName, InputStream, long, boolean)}, for
     * a body that may be zstd frames ({@link ZstdUpload}); {@code declaredLength} is then the
     * file's own length. Into a zstd repository the frames are stored as they came, once they
     * decoded to a valid file: nothing is compressed again.
     */
    public ArchiveResult archive(String cluster, ClusterIdentity identity, WalFileName name, InputStream body, long declaredLength,
                                 boolean probablyStored, boolean zstdBody) throws IOException {
        String key = RepositoryLayout.walKey(cluster, name);
        long limit = limit(identity, name);
        if (probablyStored) {
            Optional<ObjectHeader> stored = ObjectEnvelope.readHeader(store, key);
            if (stored.isPresent()) {
                if (!zstdBody) {
                    return compareBody(cluster, identity, name, body, declaredLength, key, stored.get());
                }
                try (InputStream raw = ZstdUpload.decode(body, null, decodeLimit(limit, declaredLength), name.toString())) {
                    return compareBody(cluster, identity, name, raw, declaredLength, key, stored.get());
                }
            }
        }
        // Room for the compressed file is taken before a byte is read; it grows if compression does not shrink it.
        long expected = declaredLength >= 0 ? Math.min(declaredLength, limit) : Math.min(limit, UNKNOWN_LENGTH_RESERVATION);
        try (SpoolBudget.Reservation room = spool.reserve(expected, name + " of cluster '" + cluster + "'")) {
            Files.createDirectories(spool.directory());
            Path file = Files.createTempFile(spool.directory(), "wal-", ".spool");
            try {
                if (!zstdBody) {
                    return archive(cluster, identity, name, body, declaredLength, limit, file, room);
                }
                if (codec.id().equals(PushHeaders.ZSTD)) {
                    return archiveFrames(cluster, identity, name, body, declaredLength, limit, file, room);
                }
                try (InputStream raw = ZstdUpload.decode(body, null, decodeLimit(limit, declaredLength), name.toString())) {
                    return archive(cluster, identity, name, raw, declaredLength, limit, file, room);
                }
            } finally {
                Files.deleteIfExists(file);
            }
        }
    }

    /**
     * A push by reference: the sender names the file's SHA-256 and length instead of sending it.
     * When the repository holds the file under its name with exactly that content (a cluster that
     * streams sends each segment again through archive_command), that is a duplicate, answered
     * without a byte of the body; otherwise empty, and the sender sends the file. Nothing is
     * stored either way.
     */
    public Optional<ArchiveResult> confirm(String cluster, WalFileName name, String sha256, long rawLength) throws IOException {
        String key = RepositoryLayout.walKey(cluster, name);
        Optional<ObjectHeader> stored = ObjectEnvelope.readHeader(store, key);
        if (stored.isEmpty() || !stored.get().sha256().equalsIgnoreCase(sha256) || stored.get().rawSize() != rawLength) {
            return Optional.empty();
        }
        return Optional.of(new ArchiveResult(ArchiveResult.Outcome.DUPLICATE, key, stored.get(), storedSize(key)));
    }

    /** The body against a stored file: a duplicate when the bytes are the same, else checked as WAL and then a conflict. */
    private ArchiveResult compareBody(String cluster, ClusterIdentity identity, WalFileName name, InputStream body, long declaredLength,
                                      String key, ObjectHeader stored) throws IOException {
        WalStreamInspector inspector = new WalStreamInspector(body, name.toString(), limit(identity, name));
        byte[] text = null;
        if (name.isHistory() || name.kind() == WalFileName.Kind.BACKUP) {
            text = inspector.readAllBytes();
        } else {
            inspector.transferTo(OutputStream.nullOutputStream());
        }
        checkDeclaredLength(name, inspector, declaredLength);
        if (stored.sha256().equals(inspector.sha256Hex()) && stored.rawSize() == inspector.length()) {
            return new ArchiveResult(ArchiveResult.Outcome.DUPLICATE, key, stored, storedSize(key));
        }
        // Not the stored bytes: a file that is not valid WAL is refused as such, before it is called a conflict.
        return compareWithStored(key, name, header(cluster, identity, name, inspector, text), stored);
    }

    /** How many decoded bytes a zstd body may need: no more than it announced, nor than the file may hold. */
    private static long decodeLimit(long limit, long declaredLength) {
        return declaredLength >= 0 ? Math.min(limit, declaredLength) : limit;
    }

    private long limit(ClusterIdentity identity, WalFileName name) {
        return name.hasSegment() && name.kind() != WalFileName.Kind.BACKUP
                ? identity.segmentSize().map(WalSegmentSize::bytes).orElse(MAX_SEGMENT)
                : MAX_TEXT_FILE;
    }

    private static void checkDeclaredLength(WalFileName name, WalStreamInspector inspector, long declaredLength) {
        if (declaredLength >= 0 && inspector.length() != declaredLength) {
            throw new InvalidWalException(WalProblem.TRUNCATED, name + ": received " + inspector.length() + " of the "
                    + declaredLength + " bytes announced; the upload was cut off, nothing was stored (PostgreSQL will retry)");
        }
    }

    private ArchiveResult archive(String cluster, ClusterIdentity identity, WalFileName name, InputStream body, long declaredLength,
                                  long limit, Path file, SpoolBudget.Reservation room) throws IOException {
        // A segment is indexed as it streams past, for recovery planning (WalSegmentIndex).
        WalSegmentIndexer indexer = name.kind() == WalFileName.Kind.SEGMENT ? new WalSegmentIndexer() : null;
        WalStreamInspector inspector = new WalStreamInspector(indexer != null ? indexer.observing(body) : body, name.toString(), limit);
        byte[] text = null;
        // The stored payload is hashed on its way to the spool file, not read back for it.
        MessageDigest payload = Sha256.newDigest();
        try (OutputStream out = codec.compress(new DigestOutputStream(SpoolBudget.track(Files.newOutputStream(file), room), payload))) {
            if (name.isHistory() || name.kind() == WalFileName.Kind.BACKUP) {
                text = inspector.readAllBytes();
                out.write(text);
            } else {
                // A body that is not this segment is refused from its first page, before a byte is compressed.
                out.write(checkFirstPage(identity, name, inspector, declaredLength));
                inspector.transferTo(out);
            }
        }
        return store(cluster, identity, name, inspector, text, declaredLength, payload, file, indexer);
    }

    /**
     * Archives a body of zstd frames: they go to the spool file as they arrive while their
     * decoded bytes are checked, hashed and indexed as any body's; what is stored is exactly
     * what was checked, since it decoded to its end here.
     */
    private ArchiveResult archiveFrames(String cluster, ClusterIdentity identity, WalFileName name, InputStream frames, long declaredLength,
                                        long limit, Path file, SpoolBudget.Reservation room) throws IOException {
        WalSegmentIndexer indexer = name.kind() == WalFileName.Kind.SEGMENT ? new WalSegmentIndexer() : null;
        MessageDigest payload = Sha256.newDigest();
        WalStreamInspector inspector;
        byte[] text = null;
        try (OutputStream out = new DigestOutputStream(SpoolBudget.track(Files.newOutputStream(file), room), payload);
             InputStream raw = ZstdUpload.decode(frames, out, decodeLimit(limit, declaredLength), name.toString())) {
            inspector = new WalStreamInspector(indexer != null ? indexer.observing(raw) : raw, name.toString(), limit);
            if (name.isHistory() || name.kind() == WalFileName.Kind.BACKUP) {
                text = inspector.readAllBytes();
            } else {
                checkFirstPage(identity, name, inspector, declaredLength);
                inspector.transferTo(OutputStream.nullOutputStream());
            }
        }
        return store(cluster, identity, name, inspector, text, declaredLength, payload, file, indexer);
    }

    /**
     * Reads and checks the segment's long page header, with the length the sender announced
     * or, for a chunked body, without one (its length is checked when it has ended).
     *
     * @return the bytes read
     */
    private byte[] checkFirstPage(ClusterIdentity identity, WalFileName name, WalStreamInspector inspector, long declaredLength)
            throws IOException {
        byte[] first = inspector.readNBytes(WalPageHeader.LONG_HEADER_BYTES);
        WalPageHeader page = declaredLength >= 0 ? segmentCheck(identity).check(name, first, declaredLength)
                : segmentCheck(identity).checkHead(name, first);
        // A cluster's first segment is read with room for the largest segment size; its header says its own.
        inspector.limitTo(page.segmentSize());
        return first;
    }

    /** Stores the spooled payload once the whole body was read and checked; indexes a segment once it is durable. */
    private ArchiveResult store(String cluster, ClusterIdentity identity, WalFileName name, WalStreamInspector inspector, byte[] text,
                                long declaredLength, MessageDigest payload, Path file, WalSegmentIndexer indexer) throws IOException {
        checkDeclaredLength(name, inspector, declaredLength);
        ObjectHeader header = header(cluster, identity, name, inspector, text).withPayloadSha256(Sha256.hex(payload));
        String key = RepositoryLayout.walKey(cluster, name);
        long stored = ObjectEnvelope.store(store, key, header, file, true);
        if (stored >= 0) {
            if (indexer != null) {
                writeIndex(cluster, name, header, indexer);
            }
            return new ArchiveResult(ArchiveResult.Outcome.STORED, key, header, stored);
        }
        return compareWithStored(key, name, header);
    }

    /**
     * Stores the segment's index once the segment is durable. The index only speeds up
     * planning (a planner reads a segment without one), so failing to store it fails nothing:
     * it is logged, and {@code catalog rebuild} writes the missing ones.
     */
    private void writeIndex(String cluster, WalFileName name, ObjectHeader header, WalSegmentIndexer indexer) {
        try {
            Optional<WalSegmentIndex> index = indexer.index(name, new WalSegmentSize(header.segmentSize()));
            if (index.isPresent()) {
                index.get().write(store, cluster);
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "The index of " + name + " of cluster '" + cluster + "' was not stored (the segment is): "
                    + e.getMessage() + "; recovery planning reads the segment instead, and 'pgvault catalog rebuild' writes the index");
        }
    }

    private ObjectHeader header(String cluster, ClusterIdentity identity, WalFileName name, WalStreamInspector inspector, byte[] text) {
        String sha = inspector.sha256Hex();
        long now = clock.millis();
        String created = java.time.Instant.ofEpochMilli(now).toString();
        String sysid = identity.systemIdentifier().isPresent() ? Long.toUnsignedString(identity.systemIdentifier().getAsLong()) : null;
        long segmentSize = identity.segmentSize().map(WalSegmentSize::bytes).orElse(0L);
        switch (name.kind()) {
            case HISTORY -> {
                TimelineHistory.parse(name.timeline(), text);
                return new ObjectHeader("history", name.toString(), inspector.length(), sha, codec.id(), null, sysid,
                        name.timeline().value(), segmentSize, writer, created, null);
            }
            case BACKUP -> {
                if (!new String(text, java.nio.charset.StandardCharsets.UTF_8).startsWith("START WAL LOCATION:")) {
                    throw new InvalidWalException(WalProblem.NOT_WAL, name + " is not a backup history file: it must start with 'START WAL LOCATION:'");
                }
                return new ObjectHeader("backup-label", name.toString(), inspector.length(), sha, codec.id(), null, sysid,
                        name.timeline().value(), segmentSize, writer, created, null);
            }
            default -> {
                WalPageHeader page = segmentCheck(identity).check(name, inspector.head(), inspector.length());
                return new ObjectHeader(name.kind() == WalFileName.Kind.PARTIAL ? "partial" : "wal", name.toString(), inspector.length(),
                        sha, codec.id(), null, page.systemIdentifierText(), name.timeline().value(), page.segmentSize(), writer, created,
                        page.major().map(m -> m.number()).orElse(null));
            }
        }
    }

    private static WalSegmentCheck segmentCheck(ClusterIdentity identity) {
        return identity.isKnown()
                ? WalSegmentCheck.forCluster(identity.segmentSize().get(), identity.systemIdentifier().getAsLong())
                : WalSegmentCheck.firstOfCluster();
    }

    private ArchiveResult compareWithStored(String key, WalFileName name, ObjectHeader arriving) throws IOException {
        Optional<ObjectHeader> existing = ObjectEnvelope.readHeader(store, key);
        if (existing.isEmpty()) {
            throw new IOException(key + " was reported to exist but cannot be read back; retry");
        }
        return compareWithStored(key, name, arriving, existing.get());
    }

    private ArchiveResult compareWithStored(String key, WalFileName name, ObjectHeader arriving, ObjectHeader stored) throws IOException {
        if (stored.sha256().equals(arriving.sha256()) && stored.rawSize() == arriving.rawSize()) {
            return new ArchiveResult(ArchiveResult.Outcome.DUPLICATE, key, stored, storedSize(key));
        }
        throw new WalConflictException(name + " is already archived with other content (stored SHA-256 " + stored.sha256()
                + ", " + stored.rawSize() + " bytes; this push SHA-256 " + arriving.sha256() + ", " + arriving.rawSize()
                + " bytes). Nothing was overwritten. Two clusters may be archiving under one name, or the file is damaged: "
                + "check archive_command on every server pointing here.", stored.sha256(), arriving.sha256());
    }

    private long storedSize(String key) throws IOException {
        return store.stat(key).map(s -> s.size()).orElse(-1L);
    }
}

package io.pgvault.core.backup;

import io.pgvault.core.compress.Codec;
import io.pgvault.core.pgproto.BaseBackupSink;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.spool.SpoolBudget;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.util.Sha256;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Receives a base backup's tar streams and stores them as pieces: each piece a standalone
 * tar of about {@code pieceBytes} of files (a larger file is cut into ranges of that size,
 * see {@link FilePart}), compressed, in an envelope with the
 * SHA-256 of its stored bytes, so a restore can fetch, check and unpack pieces in parallel. The tar stream is
 * cut at entry boundaries by a {@link TarStreamCutter}, hashed and compressed on the thread
 * that receives it (as pg_basebackup does: on a small machine PostgreSQL's sender needs the
 * other core); sealed pieces are uploaded in the background.
 *
 * <p>Every file (or range) of at least {@link FileReference#MIN_BYTES} is hashed on its way
 * through, for the backup's file index ({@link BackupFileIndex}). With the parent's index
 * ({@link #referenceUnchangedFiles}, PostgreSQL 14-16 incremental backups) a member the parent
 * holds at the same place with the same length is first held back in memory while it is hashed; if its SHA-256
 * matches, the piece gets a {@link FileReference} instead of its bytes. Such backups cut files into ranges of
 * {@link #REFERENCE_RANGE_BYTES} (or their parent's), the unit a later backup can reference, so a member held is never larger.
 *
 * <p>{@link #finish} writes the file index, then pgvault's manifest last; {@link #abandon} deletes what was
 * stored, so an interrupted backup leaves nothing that looks like a backup.
 */
public final class BackupWriter implements BaseBackupSink {

    /** Sealed pieces that may wait for upload while the next one fills. */
    private static final int UPLOADS_AHEAD = 2;

    /**
     * In a full backup with a file index, files are cut into ranges of this size (or the piece
     * size, if smaller): what an incremental backup by file references can reference; the
     * incremental backups of its chain cut the same ranges ({@link BackupFileIndex#rangeBytes}).
     * A day's changes to a large table then leave most of its ranges referenced, and a member
     * held in memory while it is hashed stays this small. Measured on pgbench (scale 50, 5% of
     * the accounts updated between backups): an incremental stored 61% of a full with 64 MiB
     * ranges, 16.0% with 8 MiB and 13.5% with 4 MiB; restoring a chain of four took the same
     * time with 8 and 4 MiB.
     */
    static final long REFERENCE_RANGE_BYTES = 4L << 20;
    /**
     * An incremental backup never cuts ranges smaller than this (the server's smallest piece),
     * whatever its parent's index says: a crafted index of tiny ranges must not make the server
     * keep millions of entries. Smaller pieces (tests) still cut smaller ranges.
     */
    static final long SMALLEST_INHERITED_RANGE_BYTES = 1L << 20;

    private final ObjectStore store;
    private final Codec codec;
    private final String cluster;
    private final String backupId;
    private final SpoolBudget spool;
    private final long pieceBytes;
    private final String writer;
    private final Clock clock;
    private final ExecutorService uploaders = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "pgvault-backup-upload");
        t.setDaemon(true);
        return t;
    });
    private final List<BackupManifest.Piece> pieces = Collections.synchronizedList(new ArrayList<>());
    private final List<String> storedKeys = Collections.synchronizedList(new ArrayList<>());
    private final Set<PieceOutput> unstored = ConcurrentHashMap.newKeySet();
    /** The file index entries of the members written so far. */
    private final List<BackupFileIndex.Entry> indexed = Collections.synchronizedList(new ArrayList<>());
    /** The parent's file index, when unchanged files are referenced instead of stored. */
    private volatile BackupFileIndex parentFiles;
    /** Files are cut into ranges of this size: the parent's, in an incremental backup. */
    private volatile long rangeBytes = REFERENCE_RANGE_BYTES;
    /** Whether members are hashed for a file index (only incremental backups by file references, before 17, read one). */
    private volatile boolean indexFiles = true;
    private final String startedAt;
    private Lsn start;
    private TimelineId startTimeline;
    private String pgManifestSha256;
    private volatile String fileIndexSha256;

    /** How long a piece waits for room in a shared spool: a backup can wait out a burst of WAL pushes. */
    static final Duration SPOOL_WAIT = Duration.ofMinutes(10);

    /**
     * The spool room a piece takes, so that it never has to grow (growth cannot wait: two backups
     * growing into each other's room would wait for ever). A piece is sealed when a member ends
     * past {@code pieceBytes}, and one member (a file range) may itself be {@code pieceBytes}, so
     * its raw size stays under twice that; compressed it is smaller, with the codec "none" or
     * incompressible data hardly so.
     */
    public static long spoolBytesPerPiece(long pieceBytes) {
        return 2 * pieceBytes + (1 << 20);
    }

    /** A writer with the spool to itself (a command-line tool, a test): no budget. */
    public BackupWriter(ObjectStore store, Codec codec, String cluster, String backupId, Path spool, long pieceBytes, String writer, Clock clock) {
        this(store, codec, cluster, backupId, SpoolBudget.unlimited(spool), pieceBytes, writer, clock);
    }

    public BackupWriter(ObjectStore store, Codec codec, String cluster, String backupId, SpoolBudget spool, long pieceBytes, String writer,
                        Clock clock) {
        this.store = store;
        this.codec = codec;
        this.cluster = cluster;
        this.backupId = backupId;
        this.spool = spool;
        this.pieceBytes = pieceBytes;
        this.writer = writer;
        this.clock = clock;
        this.startedAt = clock.instant().toString();
    }

    /**
     * Makes this an incremental backup by file references (PostgreSQL 14-16): a file or range
     * the parent holds with the same SHA-256 is referenced, not stored. Call before the first archive;
     * {@link #finish} must then name the parent.
     *
     * @param parentIndex the parent's file index; null for a backup that references nothing (a full one)
     */
    public BackupWriter referenceUnchangedFiles(BackupFileIndex parentIndex) {
        this.parentFiles = parentIndex;
        this.rangeBytes = parentIndex == null ? REFERENCE_RANGE_BYTES : Math.max(parentIndex.rangeBytes(), SMALLEST_INHERITED_RANGE_BYTES);
        return this;
    }

    /**
     * Stores no file index: for a cluster whose incremental backups are PostgreSQL's own (17+),
     * where no later backup reads one, so its files are not hashed a second time on the
     * receiving thread. Call before the first archive.
     */
    public BackupWriter withoutFileIndex() {
        this.indexFiles = false;
        return this;
    }

    @Override
    public void started(Lsn startLsn, TimelineId timeline) {
        this.start = startLsn;
        this.startTimeline = timeline;
    }

    @Override
    public void tablespaces(List<Tablespace> tablespaces) {
        // Locations arrive with each archive.
    }

    @Override
    public OutputStream archive(String name, Optional<String> tablespaceLocation) throws IOException {
        ArchivePieces archivePieces = new ArchivePieces(name, tablespaceLocation.orElse(null));
        TarStreamCutter cutter = new TarStreamCutter(name, archivePieces, indexFiles ? cutBytes() : pieceBytes);
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                cutter.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                cutter.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                cutter.close();
                archivePieces.finish();
            }
        };
    }

    /**
     * The pieces of one archive: entries go into the open piece until it passes
     * {@code pieceBytes}, then it is sealed and uploaded in the background while the next
     * one fills (at most {@link #UPLOADS_AHEAD} waiting, which bounds the spool).
     */
    private final class ArchivePieces implements TarStreamCutter.Entries {
        private final String archive;
        private final String location;
        private final List<Future<BackupManifest.Piece>> uploads = new ArrayList<>();
        private PieceOutput piece;
        private int index;
        private int awaited;
        /** The file member being written, when it is hashed for the index. */
        private IndexedMember member;
        /** Where a member is held back until its hash is known; made at the first one. */
        private HeldData held;

        ArchivePieces(String archive, String location) {
            this.archive = archive;
            this.location = location;
        }

        @Override
        public OutputStream entryStarts() throws IOException {
            if (piece == null) {
                piece = new PieceOutput(archive, location, index++);
            }
            return piece.raw;
        }

        @Override
        public OutputStream entryStarts(TarStreamCutter.Member m) throws IOException {
            OutputStream raw = entryStarts();
            if (!indexFiles || !m.plainFile() || m.length() < FileReference.MIN_BYTES) {
                return raw;
            }
            BackupFileIndex before = parentFiles;
            Optional<BackupFileIndex.Entry> inParent = before == null || m.length() > rangeBytes ? Optional.empty()
                    : before.find(archive, m.name(), m.offset(), m.length());
            if (inParent.isPresent() && held == null) {
                held = new HeldData();
            }
            member = new IndexedMember(archive, m, raw, piece.key, inParent.orElse(null), inParent.isPresent() ? held : null);
            return member;
        }

        @Override
        public void memberEnded() throws IOException {
            if (member != null) {
                indexed.add(member.end());
                member = null;
            }
            piece.files++;
            if (piece.rawBytes() >= pieceBytes) {
                upload(piece);
                piece = null;
            }
        }

        private void upload(PieceOutput sealed) throws IOException {
            sealed.seal();
            uploads.add(uploaders.submit(sealed::store));
            // Bound the spool: wait for the older uploads (a failure surfaces here, mid-stream).
            while (awaited < uploads.size() - UPLOADS_AHEAD) {
                await(uploads.get(awaited++));
            }
        }

        /** After the archive's last byte: the last piece (an empty archive still gets one), and every upload done. */
        void finish() throws IOException {
            if (piece != null || index == 0) {
                upload(piece != null ? piece : new PieceOutput(archive, location, index));
                piece = null;
            }
            for (Future<BackupManifest.Piece> upload : uploads) {
                pieces.add(await(upload));
            }
            held = null;
        }
    }

    /**
     * A file member of at least {@link FileReference#MIN_BYTES} on its way into a piece, its data
     * hashed. When the parent holds the same member ({@code before}) its headers and data are held
     * back until the hash is known: then either a reference or the member as it came goes into the piece.
     */
    private final class IndexedMember extends OutputStream {
        private final String archive;
        private final TarStreamCutter.Member m;
        private final OutputStream piece;
        private final String pieceKey;
        private final BackupFileIndex.Entry before;
        private final HeldData held;
        private final MessageDigest sha256 = Sha256.newDigest();
        private final java.io.ByteArrayOutputStream headers;
        private final OutputStream data;
        private long headerLeft;
        private long dataLeft;

        IndexedMember(String archive, TarStreamCutter.Member m, OutputStream piece, String pieceKey, BackupFileIndex.Entry before,
                      HeldData held) throws IOException {
            this.archive = archive;
            this.m = m;
            this.piece = piece;
            this.pieceKey = pieceKey;
            this.before = before;
            this.held = held;
            this.headerLeft = m.headerBytes();
            this.dataLeft = m.length();
            this.headers = held == null ? null : new java.io.ByteArrayOutputStream(m.headerBytes());
            this.data = held == null ? piece : held.start();
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                int n;
                if (headerLeft > 0) {
                    n = (int) Math.min(len, headerLeft);
                    (headers != null ? headers : piece).write(b, off, n);
                    headerLeft -= n;
                } else if (dataLeft > 0) {
                    n = (int) Math.min(len, dataLeft);
                    sha256.update(b, off, n);
                    data.write(b, off, n);
                    dataLeft -= n;
                } else {
                    // The tar padding after the data: a held member gets it anew when it is copied.
                    n = len;
                    if (held == null) {
                        piece.write(b, off, n);
                    }
                }
                off += n;
                len -= n;
            }
        }

        /**
         * At the member's end: what goes into the piece, if it was held back, and its index entry. An entry of
         * this backup's own bytes names its piece; the piece's checksum is added when the index is written.
         */
        BackupFileIndex.Entry end() throws IOException {
            if (headerLeft > 0 || dataLeft > 0) {
                throw new IllegalStateException(m.name() + " ended before its data (" + dataLeft + " bytes left)");
            }
            String sha = Sha256.hex(sha256);
            if (held != null) {
                held.finish();
                if (sha.equals(before.sha256())) {
                    // Unchanged: the bytes stay where the parent's index says they are (never a reference to a reference),
                    // in the piece it names, if it names one.
                    BackupFileIndex.Entry unchanged = before.withFileSize(m.fileSize());
                    piece.write(unchanged.reference().headers(m.fileHeader()));
                    return unchanged;
                }
                piece.write(headers.toByteArray());
                held.copyTo(piece);
                piece.write(new byte[(int) ((512 - m.length() % 512) % 512)]);
            }
            return new BackupFileIndex.Entry(archive, m.name(), m.offset(), m.length(), m.fileSize(), sha, backupId, pieceKey, null);
        }
    }

    /**
     * One member's data at a time, held in memory until its hash is known: at most
     * {@link #REFERENCE_RANGE_BYTES}, and in memory rather than in the spool because writing
     * every unchanged range to a file and reading the changed ones back made an incremental
     * backup slower than a full one.
     */
    private static final class HeldData {
        private final java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream(1 << 20);

        OutputStream start() {
            buffer.reset();
            return buffer;
        }

        void finish() {
            // nothing to flush: the data is in memory
        }

        void copyTo(OutputStream piece) throws IOException {
            // writeTo hands over the array itself, no copy
            buffer.writeTo(piece);
        }
    }

    private static <T> T await(Future<T> task) throws IOException {
        try {
            return task.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while storing a backup piece", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            throw new IOException("storing a backup piece failed: " + cause, cause);
        }
    }

    /** One piece being written: a standalone tar, hashed raw, compressed into a spool file. */
    private final class PieceOutput {
        private final String archive;
        private final String location;
        private final int index;
        private final SpoolBudget.Reservation room;
        private final Path file;
        private final MessageDigest sha256;
        private final CountingOutputStream raw;
        private final String key;
        private int files;

        PieceOutput(String archive, String location, int index) throws IOException {
            this.archive = archive;
            this.location = location;
            this.index = index;
            this.key = RepositoryLayout.backupPiece(cluster, backupId, archive, index);
            this.room = spool.reserve(spoolBytesPerPiece(pieceBytes), "piece " + index + " of " + archive + " of backup " + backupId, SPOOL_WAIT);
            try {
                Files.createDirectories(spool.directory());
                this.file = Files.createTempFile(spool.directory(), "piece-", ".spool");
                this.sha256 = Sha256.newDigest();
                // Only the compressed bytes are hashed (see ObjectHeader#payloadSha256): a tenth of the data.
                this.raw = new CountingOutputStream(codec.compress(new DigestOutputStream(SpoolBudget.track(Files.newOutputStream(file), room),
                        sha256)));
            } catch (IOException | RuntimeException e) {
                room.close();
                throw e;
            }
            unstored.add(this);
        }

        void discard() {
            try {
                raw.close();
            } catch (IOException e) {
                // only the spool file is left to remove
            }
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                // a stale spool file is harmless; the spool is ours alone
            }
            room.close();
        }

        long rawBytes() {
            return raw.count;
        }

        /** Ends the piece's tar and compressed frame; the spool file is then complete. */
        void seal() throws IOException {
            // Two zero blocks end a tar archive: each piece stands alone.
            raw.write(new byte[1024]);
            raw.close();
        }

        BackupManifest.Piece store() throws IOException {
            try {
                String sha = Sha256.hex(sha256);
                String name = archive + "." + String.format("%05d", index);
                ObjectHeader header = new ObjectHeader("backup-piece", name, raw.count, null, codec.id(), null, null,
                        startTimeline == null ? 0 : startTimeline.value(), 0, writer, clock.instant().toString(), null, sha);
                storedKeys.add(key);
                long stored = ObjectEnvelope.store(store, key, header, file, false);
                return new BackupManifest.Piece(archive, location, index, key, raw.count, stored, sha, files);
            } finally {
                Files.deleteIfExists(file);
                unstored.remove(this);
                room.close();
            }
        }
    }

    @Override
    public OutputStream manifest() throws IOException {
        // PostgreSQL's backup_manifest is about 0.1% of the data; a piece's room covers it for clusters of millions of files.
        SpoolBudget.Reservation room = spool.reserve(pieceBytes, "the backup_manifest of backup " + backupId, SPOOL_WAIT);
        Path file;
        CountingOutputStream raw;
        MessageDigest sha = Sha256.newDigest();
        try {
            Files.createDirectories(spool.directory());
            file = Files.createTempFile(spool.directory(), "manifest-", ".spool");
            raw = new CountingOutputStream(new DigestOutputStream(codec.compress(SpoolBudget.track(Files.newOutputStream(file), room)), sha));
        } catch (IOException | RuntimeException e) {
            room.close();
            throw e;
        }
        return new FilterOutputStream(raw) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                raw.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                try {
                    raw.close();
                    pgManifestSha256 = Sha256.hex(sha);
                    String key = RepositoryLayout.pgBackupManifest(cluster, backupId);
                    storedKeys.add(key);
                    ObjectEnvelope.store(store, key, new ObjectHeader("pg-backup-manifest", "backup_manifest", raw.count, pgManifestSha256,
                            codec.id(), null, null, 0, 0, writer, clock.instant().toString(), null), file, false);
                } finally {
                    Files.deleteIfExists(file);
                    room.close();
                }
            }
        };
    }

    /**
     * Writes pgvault's manifest, which makes the backup visible. Call after BASE_BACKUP ended.
     */
    public BackupManifest finish(String label, String systemIdentifier, int pgMajor, long walSegmentSize, Lsn end, TimelineId endTimeline)
            throws IOException {
        return finish(label, systemIdentifier, pgMajor, walSegmentSize, end, endTimeline, null);
    }

    /** @param parent the backup an incremental one builds on; null for a full backup */
    public BackupManifest finish(String label, String systemIdentifier, int pgMajor, long walSegmentSize, Lsn end, TimelineId endTimeline,
                                 BackupManifest.Parent parent) throws IOException {
        return finish(label, systemIdentifier, pgMajor, walSegmentSize, end, endTimeline, parent, null);
    }

    /**
     * @param parent the backup an incremental one builds on; null for a full backup
     * @param pgFinishedAt PostgreSQL's clock read after BASE_BACKUP ended ({@link BackupManifest#pgFinishedAt}); null if unread
     */
    public BackupManifest finish(String label, String systemIdentifier, int pgMajor, long walSegmentSize, Lsn end, TimelineId endTimeline,
                                 BackupManifest.Parent parent, java.time.Instant pgFinishedAt) throws IOException {
        uploaders.shutdown();
        if (parent != null && BackupManifest.read(store, cluster, parent.backupId()).isEmpty()) {
            // Deleted (retention, by hand) while this one streamed: stored, it would be a backup no restore can use.
            throw new IOException("backup " + parent.backupId() + ", which incremental backup " + backupId + " builds on, was deleted while "
                    + "it ran: nothing of " + backupId + " is kept; take a full backup");
        }
        BackupFileIndex parentIndex = parentFiles;
        if (parentIndex != null && (parent == null || !parent.backupId().equals(parentIndex.backupId()))) {
            throw new IllegalStateException("backup " + backupId + " referenced files of backup " + parentIndex.backupId()
                    + " but finishes with parent " + (parent == null ? "none" : parent.backupId()));
        }
        int format = parent == null ? BackupManifest.FULL_FORMAT
                : parentIndex != null ? BackupManifest.FILE_REFERENCES_FORMAT : BackupManifest.NATIVE_INCREMENTAL_FORMAT;
        // Before the manifest: a backup that is visible has its index, for the next incremental backup to build on.
        if (indexFiles) {
            storeFileIndex();
        }
        List<BackupManifest.Piece> sorted = new ArrayList<>(pieces);
        sorted.sort(Comparator.comparing(BackupManifest.Piece::archive).thenComparingInt(BackupManifest.Piece::index));
        long rawTotal = sorted.stream().mapToLong(BackupManifest.Piece::rawSize).sum();
        long storedTotal = sorted.stream().mapToLong(BackupManifest.Piece::storedSize).sum();
        BackupManifest manifest = new BackupManifest(format, backupId, cluster, label, systemIdentifier, pgMajor, walSegmentSize,
                startTimeline.value(), start.toString(), endTimeline.value(), end.toString(), startedAt, clock.instant().toString(),
                codec.id(), rawTotal, storedTotal, List.copyOf(sorted), pgManifestSha256, parent,
                pgFinishedAt == null ? null : pgFinishedAt.toString());
        manifest.write(store);
        return manifest;
    }

    /**
     * The SHA-256 of the file index {@link #finish} stored ({@link BackupFileIndex#sha256}), for the server's catalog: a
     * backup built on this one later trusts the pieces the index names only if the index still has it.
     *
     * @return empty before {@code finish}, and for a backup without an index
     */
    public Optional<String> fileIndexSha256() {
        return Optional.ofNullable(fileIndexSha256);
    }

    /** The size of the ranges a backup with a file index cuts, as its cutter rounds it: what its index records. */
    private long cutBytes() {
        return TarStreamCutter.rangeBytes(Math.min(pieceBytes, rangeBytes));
    }

    /** After every piece is stored: each entry of this backup's own bytes gets its piece's checksum, for the next backup's references. */
    private void storeFileIndex() throws IOException {
        Map<String, String> pieceSha256 = new HashMap<>();
        pieces.forEach(p -> pieceSha256.put(p.key(), p.sha256()));
        List<BackupFileIndex.Entry> entries = new ArrayList<>(indexed.size());
        for (BackupFileIndex.Entry e : indexed) {
            if (e.heldBy().equals(backupId) && !pieceSha256.containsKey(e.piece())) {
                throw new IllegalStateException(e.piece() + ", which holds " + e.name() + ", was not stored");
            }
            entries.add(e.heldBy().equals(backupId) ? e.inPiece(pieceSha256.get(e.piece())) : e);
        }
        byte[] json = BackupFileIndex.json(backupId, cutBytes(), BackupFileIndex.sorted(entries));
        SpoolBudget.Reservation room = spool.reserve(json.length + (1L << 20), "the file index of backup " + backupId, SPOOL_WAIT);
        Path file = null;
        try {
            Files.createDirectories(spool.directory());
            file = Files.createTempFile(spool.directory(), "files-", ".spool");
            try (OutputStream out = codec.compress(SpoolBudget.track(Files.newOutputStream(file), room))) {
                out.write(json);
            }
            String key = RepositoryLayout.backupFileIndex(cluster, backupId);
            storedKeys.add(key);
            String sha = Sha256.of(json);
            ObjectEnvelope.store(store, key, new ObjectHeader("backup-file-index", "files.json", json.length, sha, codec.id(), null,
                    null, 0, 0, writer, clock.instant().toString(), null), file, false);
            fileIndexSha256 = sha;
        } finally {
            if (file != null) {
                Files.deleteIfExists(file);
            }
            room.close();
        }
    }

    /** Deletes every object this backup stored, and its spool files; the backup never existed. */
    public void abandon() {
        uploaders.shutdownNow();
        try {
            // An upload still running could otherwise store its piece after the deletion below.
            uploaders.awaitTermination(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (PieceOutput piece : unstored) {
            piece.discard();
        }
        try {
            List<String> keys = new ArrayList<>(storedKeys);
            store.list(RepositoryLayout.backupPrefix(cluster, backupId)).forEach(o -> keys.add(o.key()));
            store.delete(keys);
        } catch (IOException e) {
            // Left-over pieces without a manifest are not a backup; retention removes them later.
        }
    }

    /** Counts bytes on their way through. */
    static final class CountingOutputStream extends FilterOutputStream {
        long count;

        CountingOutputStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}

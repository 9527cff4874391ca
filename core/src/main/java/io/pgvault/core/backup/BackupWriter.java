package io.pgvault.core.backup;

import io.pgvault.core.compress.Codec;
import io.pgvault.core.pgproto.BaseBackupSink;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarUtils;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Receives a base backup's tar streams and stores them as pieces: each piece a standalone
 * tar of whole files of about {@code pieceBytes}, compressed, in an envelope with its
 * SHA-256, so a restore can fetch, check and unpack pieces in parallel. The tar stream is
 * cut at entry boundaries (headers parsed by Commons Compress, bytes copied unchanged) on
 * a thread of its own per archive.
 *
 * <p>{@link #finish} writes pgvault's manifest last; {@link #abandon} deletes what was
 * stored, so an interrupted backup leaves nothing that looks like a backup.
 */
public final class BackupWriter implements BaseBackupSink {

    private static final int COPY_BUFFER = 1 << 18;

    private final ObjectStore store;
    private final Codec codec;
    private final String cluster;
    private final String backupId;
    private final Path spool;
    private final long pieceBytes;
    private final String writer;
    private final Clock clock;
    private final ExecutorService repackers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "pgvault-backup-repack");
        t.setDaemon(true);
        return t;
    });
    private final List<BackupManifest.Piece> pieces = Collections.synchronizedList(new ArrayList<>());
    private final List<String> storedKeys = Collections.synchronizedList(new ArrayList<>());
    private final String startedAt;
    private Lsn start;
    private TimelineId startTimeline;
    private String pgManifestSha256;

    public BackupWriter(ObjectStore store, Codec codec, String cluster, String backupId, Path spool, long pieceBytes, String writer, Clock clock) {
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
        ChunkPipe pipe = new ChunkPipe();
        InputStream in = pipe.reader();
        OutputStream out = pipe.writer();
        Future<?> repack = repackers.submit(() -> {
            try (in) {
                repack(name, tablespaceLocation.orElse(null), in);
            }
            return null;
        });
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    out.write(b, off, len);
                } catch (IOException e) {
                    throw failure(repack, e);
                }
            }

            @Override
            public void close() throws IOException {
                try {
                    out.close();
                } catch (IOException e) {
                    throw failure(repack, e);
                }
                await(repack);
            }
        };
    }

    private static IOException failure(Future<?> repack, IOException pipeError) {
        if (repack.isDone()) {
            try {
                await(repack);
            } catch (IOException e) {
                return e;
            }
        }
        return pipeError;
    }

    private static void await(Future<?> task) throws IOException {
        try {
            task.get();
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

    private void repack(String archive, String location, InputStream tarStream) throws IOException {
        TarSplitter splitter = new TarSplitter(archive, tarStream);
        PieceOutput piece = null;
        int index = 0;
        while (splitter.next()) {
            if (piece == null) {
                piece = new PieceOutput(archive, location, index++);
            }
            splitter.copyEntry(piece.raw, piece.buffer);
            if (splitter.isMember()) {
                piece.files++;
                if (piece.rawBytes() >= pieceBytes) {
                    pieces.add(piece.store());
                    piece = null;
                }
            }
        }
        // Drain what follows the end-of-archive block so the sender never blocks.
        tarStream.transferTo(OutputStream.nullOutputStream());
        if (piece != null || index == 0) {
            pieces.add((piece != null ? piece : new PieceOutput(archive, location, index)).store());
        }
    }

    /**
     * Walks a tar stream entry by entry, copying each entry's header and data blocks
     * unchanged. Headers are parsed (and their checksums checked) by Commons Compress; the
     * bytes are copied as they came, which is both faithful and cheaper than re-writing
     * them. GNU long-name and PAX headers stay glued to the entry they describe.
     */
    private static final class TarSplitter {
        private static final int BLOCK = 512;
        private final String archive;
        private final InputStream in;
        private final byte[] header = new byte[BLOCK];
        private long dataBlocksBytes;
        private boolean member;

        TarSplitter(String archive, InputStream in) {
            this.archive = archive;
            this.in = in;
        }

        /** Reads the next header; false at the end-of-archive block. */
        boolean next() throws IOException {
            int got = in.readNBytes(header, 0, BLOCK);
            if (got == 0) {
                // Some streams (PostgreSQL 14's tablespace archives) end without the zero blocks.
                return false;
            }
            if (got != BLOCK) {
                throw new IOException(archive + ": the tar stream ended inside a header (" + got + " of 512 bytes)");
            }
            boolean zero = true;
            for (byte b : header) {
                if (b != 0) {
                    zero = false;
                    break;
                }
            }
            if (zero) {
                return false;
            }
            if (!TarUtils.verifyCheckSum(header)) {
                throw new IOException(archive + ": damaged tar header (checksum mismatch) in the stream PostgreSQL sent");
            }
            TarArchiveEntry entry = new TarArchiveEntry(header);
            byte type = header[156];
            // Extension headers describe the next entry: never end a piece after one.
            member = !(type == 'L' || type == 'K' || type == 'x' || type == 'g');
            long size = entry.isDirectory() || entry.isSymbolicLink() || entry.isLink() ? 0 : entry.getSize();
            dataBlocksBytes = (size + BLOCK - 1) / BLOCK * BLOCK;
            return true;
        }

        boolean isMember() {
            return member;
        }

        void copyEntry(OutputStream out, byte[] buffer) throws IOException {
            out.write(header);
            long left = dataBlocksBytes;
            while (left > 0) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (n < 0) {
                    throw new IOException(archive + ": the tar stream ended inside an entry (" + left + " bytes missing)");
                }
                out.write(buffer, 0, n);
                left -= n;
            }
        }
    }

    /** One piece being written: a standalone tar, hashed raw, compressed into a spool file. */
    private final class PieceOutput {
        private final String archive;
        private final String location;
        private final int index;
        private final Path file;
        private final MessageDigest sha256;
        private final CountingOutputStream raw;
        private final byte[] buffer = new byte[COPY_BUFFER];
        private int files;

        PieceOutput(String archive, String location, int index) throws IOException {
            this.archive = archive;
            this.location = location;
            this.index = index;
            Files.createDirectories(spool);
            this.file = Files.createTempFile(spool, "piece-", ".spool");
            this.sha256 = sha256();
            OutputStream compressed = codec.compress(Files.newOutputStream(file));
            this.raw = new CountingOutputStream(new DigestOutputStream(compressed, sha256));
        }

        long rawBytes() {
            return raw.count;
        }

        BackupManifest.Piece store() throws IOException {
            try {
                // Two zero blocks end a tar archive: each piece stands alone.
                raw.write(new byte[1024]);
                raw.close();
                String sha = HexFormat.of().formatHex(sha256.digest());
                String name = archive + "." + String.format("%05d", index);
                String key = RepositoryLayout.backupPiece(cluster, backupId, archive, index);
                ObjectHeader header = new ObjectHeader("backup-piece", name, raw.count, sha, codec.id(), null, null,
                        startTimeline == null ? 0 : startTimeline.value(), 0, writer, clock.instant().toString(), null);
                storedKeys.add(key);
                long stored = ObjectEnvelope.store(store, key, header, file, false);
                return new BackupManifest.Piece(archive, location, index, key, raw.count, stored, sha, files);
            } finally {
                Files.deleteIfExists(file);
            }
        }
    }

    @Override
    public OutputStream manifest() throws IOException {
        Files.createDirectories(spool);
        Path file = Files.createTempFile(spool, "manifest-", ".spool");
        MessageDigest sha = sha256();
        CountingOutputStream raw = new CountingOutputStream(new DigestOutputStream(codec.compress(Files.newOutputStream(file)), sha));
        return new FilterOutputStream(raw) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                raw.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                try {
                    raw.close();
                    pgManifestSha256 = HexFormat.of().formatHex(sha.digest());
                    String key = RepositoryLayout.pgBackupManifest(cluster, backupId);
                    storedKeys.add(key);
                    ObjectEnvelope.store(store, key, new ObjectHeader("pg-backup-manifest", "backup_manifest", raw.count, pgManifestSha256,
                            codec.id(), null, null, 0, 0, writer, clock.instant().toString(), null), file, false);
                } finally {
                    Files.deleteIfExists(file);
                }
            }
        };
    }

    /**
     * Writes pgvault's manifest, which makes the backup visible. Call after BASE_BACKUP ended.
     */
    public BackupManifest finish(String label, String systemIdentifier, int pgMajor, long walSegmentSize, Lsn end, TimelineId endTimeline)
            throws IOException {
        repackers.shutdown();
        List<BackupManifest.Piece> sorted = new ArrayList<>(pieces);
        sorted.sort(Comparator.comparing(BackupManifest.Piece::archive).thenComparingInt(BackupManifest.Piece::index));
        long rawTotal = sorted.stream().mapToLong(BackupManifest.Piece::rawSize).sum();
        long storedTotal = sorted.stream().mapToLong(BackupManifest.Piece::storedSize).sum();
        BackupManifest manifest = new BackupManifest(BackupManifest.FORMAT, backupId, cluster, label, systemIdentifier, pgMajor, walSegmentSize,
                startTimeline.value(), start.toString(), endTimeline.value(), end.toString(), startedAt, clock.instant().toString(),
                codec.id(), rawTotal, storedTotal, List.copyOf(sorted), pgManifestSha256);
        manifest.write(store);
        return manifest;
    }

    /** Deletes every object this backup stored; the backup never existed. */
    public void abandon() {
        repackers.shutdownNow();
        try {
            List<String> keys = new ArrayList<>(storedKeys);
            store.list(RepositoryLayout.backupPrefix(cluster, backupId)).forEach(o -> keys.add(o.key()));
            store.delete(keys);
        } catch (IOException e) {
            // Left-over pieces without a manifest are not a backup; retention removes them later.
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
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

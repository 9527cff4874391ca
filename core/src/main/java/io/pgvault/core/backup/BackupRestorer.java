package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.util.FileModes;
import io.pgvault.core.util.ParallelChecks;
import io.pgvault.core.wal.Lsn;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.function.Predicate;

/**
 * Unpacks a backup from the repository into a data directory: pieces are fetched,
 * decompressed, checked against their SHA-256 and unpacked in parallel. Tablespaces go where
 * a {@link TablespacePlan} says. A file stored in ranges ({@link FilePart}) is written range
 * by range in place, by whichever threads unpack its pieces, and checked to be whole at the end.
 * A {@link FileReference} (PostgreSQL 14-16 incremental backups) gets its bytes from the older
 * backup of the chain it names: from the piece it names, whose checksum it carries, or, for a
 * reference that names no piece, checked against the SHA-256 of the bytes it carries.
 *
 * <p>The repository's content is untrusted: the manifest is checked before anything is
 * written ({@link ManifestCheck}), every entry is written through a {@link ConfinedDirectory}
 * (no absolute names, no {@code ..}, nothing opened, created or chmod-ed through a link), the
 * only links made are {@code pg_tblspc/<oid>} links to the plan's targets, {@code tablespace_map}
 * is written from the plan, and ranges are bounded by the backup's size and may not overlap.
 * A failed restore removes what it wrote in the tablespace targets.
 */
public final class BackupRestorer {

    /** Per restoring thread: fewer, larger writes than Files.copy's 8 KiB. */
    private static final int WRITE_BUFFER = 256 * 1024;
    private static final String TABLESPACE_MAP = "tablespace_map";
    private static final String BACKUP_LABEL = "backup_label";

    private final ObjectStore store;
    private final int parallelism;

    public BackupRestorer(ObjectStore store, int parallelism) {
        this.store = store;
        this.parallelism = Math.max(1, parallelism);
    }

    /** Restores with tablespaces at their original locations, or where {@code tablespaceMap} (OLD → NEW) moves them. */
    public void restore(BackupManifest backup, Path dataDirectory, Map<String, Path> tablespaceMap, LongConsumer progress) throws IOException {
        restore(backup, dataDirectory, TablespacePlan.of(backup, tablespaceMap, dataDirectory), progress);
    }

    /** Restores one full backup. */
    public void restore(BackupManifest backup, Path dataDirectory, TablespacePlan tablespaces, LongConsumer progress) throws IOException {
        restore(List.of(backup), dataDirectory, tablespaces, progress);
    }

    /**
     * Restores a backup and the chain it builds on ({@link BackupChain}), newest first: the
     * newest backup is unpacked as it is, its incremental files become their files with the
     * blocks they hold, and each older backup then gives only the blocks still missing
     * ({@link ChainReconstruction}), written in place. No staging copy, and every block written once.
     *
     * @param chain the backup to restore first, then its parent, down to a full backup
     * @param progress told the raw bytes read so far (for a progress bar)
     * @throws CorruptObjectException naming the piece (and entry) whose content does not match its checksum or is refused
     * @throws IllegalArgumentException when a tablespace target exists and is not empty
     */
    public void restore(List<BackupManifest> chain, Path dataDirectory, TablespacePlan tablespaces, LongConsumer progress) throws IOException {
        for (BackupManifest b : chain) {
            b.check(b.cluster(), b.backupId());
        }
        BackupChain.check(chain);
        tablespaces.prepare();
        Files.createDirectories(dataDirectory);
        Files.setPosixFilePermissions(dataDirectory, FileModes.permissions(0700));
        ConfinedDirectory data = new ConfinedDirectory(dataDirectory);
        AtomicLong done = new AtomicLong();
        ChainReconstruction reconstruction = new ChainReconstruction(chain.stream().map(BackupManifest::backupId).toList());
        // No file of the chain is larger than the chain: a range or reference naming a larger one is refused before anything is allocated.
        long chainBytes = BackupChain.rawBytes(chain);
        ExecutorService pool = Executors.newFixedThreadPool(parallelism, r -> {
            Thread t = new Thread(r, "pgvault-restore");
            t.setDaemon(true);
            return t;
        });
        try {
            for (int step = 0; step < chain.size() && (step == 0 || !reconstruction.isComplete()); step++) {
                BackupManifest backup = chain.get(step);
                FileRanges ranges = new FileRanges();
                List<Future<?>> work = new ArrayList<>();
                for (BackupManifest.Piece piece : backup.pieces()) {
                    Optional<Path> target = piece.tablespaceLocation() == null ? Optional.of(dataDirectory)
                            : tablespaces.targetOf(piece.tablespaceLocation());
                    if (target.isEmpty()) {
                        // An older backup's tablespace that the newest one no longer has: nothing of it is restored.
                        progress.accept(done.addAndGet(piece.rawSize()));
                        continue;
                    }
                    ConfinedDirectory root = piece.tablespaceLocation() == null ? data : new ConfinedDirectory(target.get());
                    boolean newest = step == 0;
                    work.add(pool.submit(() -> {
                        if (newest) {
                            unpack(backup, piece, root, tablespaces, ranges, reconstruction, chainBytes);
                        } else {
                            addMissingBlocks(backup, piece, root, ranges, reconstruction, chainBytes);
                        }
                        progress.accept(done.addAndGet(piece.rawSize()));
                        return null;
                    }));
                }
                awaitAll(work);
                ranges.checkWhole(backup.backupId());
                if (step > 0) {
                    reconstruction.endStep(backup.backupId(), chain.get(step - 1).backupId());
                }
            }
            reconstruction.checkReferencesCopied();
            if (chain.size() == 1 && chain.get(0).pgManifestSha256() != null) {
                // A chain's newest backup_manifest lists incremental files, not what was restored: only a full backup's is kept.
                copyContent(RepositoryLayout.pgBackupManifest(chain.get(0).cluster(), chain.get(0).backupId()), data, chain.get(0));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failed(pool, tablespaces);
            throw new IOException("interrupted", e);
        } catch (IOException | RuntimeException e) {
            failed(pool, tablespaces);
            throw e;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void awaitAll(List<Future<?>> work) throws IOException, InterruptedException {
        for (Future<?> f : work) {
            try {
                f.get();
            } catch (ExecutionException e) {
                work.forEach(w -> w.cancel(true));
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                throw new IOException(e.getCause());
            }
        }
    }

    /** After a failure the caller removes what was written in the data directory: no piece may still be writing then. */
    private static void failed(ExecutorService pool, TablespacePlan tablespaces) {
        pool.shutdownNow();
        awaitStopped(pool);
        tablespaces.removeWritten();
    }

    private static void awaitStopped(ExecutorService pool) {
        try {
            if (!pool.awaitTermination(2, TimeUnit.MINUTES)) {
                throw new IllegalStateException("restore threads did not stop within 2 minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Reads every piece of a backup as a restore would, writing nothing: the manifest, each
     * piece's checksum against it, its compression, its tar headers and the entries a restore
     * would refuse, and that the ranges of every file stored in ranges add up. Every piece is
     * read whatever the others show.
     *
     * @param progress told the raw bytes read so far
     * @return what is wrong, each naming the object; empty when the backup can be restored
     */
    public List<String> verify(BackupManifest backup, LongConsumer progress) throws IOException {
        return verify(backup, List.of(backup), progress);
    }

    /**
     * {@link #verify(BackupManifest, LongConsumer)} for a backup of a chain: also that every reference naming the
     * piece holding its bytes names a piece of an older backup of {@code chain} that its manifest lists with the
     * checksum the reference carries (otherwise a restore of the chain would refuse it, at the end).
     *
     * @param chain {@code backup} and the backups it builds on, newest first, as {@link BackupChain#of} gives them
     */
    public List<String> verify(BackupManifest backup, List<BackupManifest> chain, LongConsumer progress) throws IOException {
        Map<String, String> olderPieces = new HashMap<>();
        chain.stream().skip(1).forEach(b -> b.pieces().forEach(p -> olderPieces.put(p.key(), p.sha256())));
        try {
            backup.check(backup.cluster(), backup.backupId());
        } catch (CorruptObjectException e) {
            return List.of(e.getMessage());
        }
        Set<String> locations = new HashSet<>();
        backup.pieces().forEach(p -> locations.add(p.tablespaceLocation()));
        AtomicLong done = new AtomicLong();
        FileRanges ranges = new FileRanges();
        List<Callable<Void>> checks = new ArrayList<>();
        for (BackupManifest.Piece piece : backup.pieces()) {
            checks.add(() -> {
                byte[] buffer = new byte[WRITE_BUFFER];
                readPiece(piece, (entry, data) -> {
                    Path relative = ConfinedDirectory.relative(entry.getName(), piece.key());
                    if (kindOf(entry, piece, relative, locations::contains) == Kind.FILE) {
                        if (backup.holdsIncrementalFiles() && IncrementalFile.isIncremental(entry.getName())) {
                            // Its header, as a restore reads it: block numbers and the length they make up.
                            IncrementalFile.readHeader(data, entry.getSize(), piece.key() + ": " + entry.getName());
                        } else if (backup.holdsIncrementalFiles() && piece.tablespaceLocation() == null
                                && relative.toString().equals(BACKUP_LABEL)) {
                            checkedLabel(entry, data, piece, backup);
                        } else if (FileReference.isReference(entry)) {
                            // The bytes themselves are checked by a restore of the chain; here that it is well formed, fits,
                            // and that the piece it names is one the chain holds with that checksum.
                            FileReference ref = reference(backup, piece, entry, Long.MAX_VALUE);
                            ranges.claim(rangeKey(piece, entry), ref.part(), ref.length(), piece.key());
                            if (ref.pinned() && !(ref.pieceSha256().equals(olderPieces.get(ref.piece()))
                                    && ref.piece().startsWith(RepositoryLayout.backupPrefix(backup.cluster(), ref.heldBy())))) {
                                throw new CorruptObjectException(piece.key() + ": " + entry.getName() + " references its bytes in " + ref.piece()
                                        + " with SHA-256 " + ref.pieceSha256() + ", but " + (olderPieces.containsKey(ref.piece())
                                        ? "that piece, listed with SHA-256 " + olderPieces.get(ref.piece()) + ", is not the same or not of backup "
                                        + ref.heldBy() : "no older backup of its chain lists that piece")
                                        + ": the chain is damaged; restore from another backup");
                            }
                            return;
                        }
                        // A backup that references files may store one range of a file larger than itself.
                        Optional<FilePart> part = FilePart.of(entry, piece.key(), backup.mayReferenceFiles() ? Long.MAX_VALUE : backup.rawBytes());
                        if (part.isPresent()) {
                            ranges.claim(rangeKey(piece, entry), part.get(), entry.getSize(), piece.key());
                        }
                    }
                    while (data.read(buffer) >= 0) {
                        // the bytes are checked as they are read
                    }
                });
                progress.accept(done.addAndGet(piece.rawSize()));
                return null;
            });
        }
        List<String> problems = new ArrayList<>(ParallelChecks.run(parallelism, "pgvault-verify", checks));
        if (problems.isEmpty()) {
            try {
                ranges.checkWhole(backup.backupId());
            } catch (CorruptObjectException e) {
                problems.add(e.getMessage());
            }
        }
        if (backup.pgManifestSha256() != null) {
            try {
                ObjectEnvelope.verify(store, RepositoryLayout.pgBackupManifest(backup.cluster(), backup.backupId()));
            } catch (IOException e) {
                problems.add(e.getMessage());
            }
        }
        return problems;
    }

    private static String rangeKey(BackupManifest.Piece piece, TarArchiveEntry entry) throws CorruptObjectException {
        return backupKey(piece, entry.getName());
    }

    /**
     * A file's name qualified by its tablespace, the same in every backup of a chain: the
     * confined relative path, not the tar name, so {@code a/b}, {@code ./a/b} and {@code a//b}
     * are one file to the range, reconstruction and reference checks, as they are on disk.
     */
    private static String backupKey(BackupManifest.Piece piece, String name) throws CorruptObjectException {
        return (piece.tablespaceLocation() == null ? "" : piece.tablespaceLocation() + ":") + ConfinedDirectory.relative(name, piece.key());
    }

    /** What is done with each member of a piece as it is read. */
    private interface EntryHandler {
        void accept(TarArchiveEntry entry, InputStream data) throws IOException;
    }

    /**
     * Reads one piece: its checksum against the manifest, then every member, then the rest of
     * its payload, so the payload's SHA-256 and the compression frame are checked too.
     */
    private void readPiece(BackupManifest.Piece piece, EntryHandler handler) throws IOException {
        InputStream stored = store.get(piece.key()).orElseThrow(() -> new CorruptObjectException(piece.key()
                + " is listed in the backup manifest but missing from the repository: this backup cannot be restored"));
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(piece.key(), stored); InputStream content = opened.content()) {
            if (!opened.header().checksum().equals(piece.sha256())) {
                throw new CorruptObjectException(piece.key() + " has SHA-256 " + opened.header().checksum() + " but the backup manifest expects "
                        + piece.sha256() + ": the piece was replaced or damaged");
            }
            TarArchiveInputStream tar = new TarArchiveInputStream(content);
            for (TarArchiveEntry entry = tar.getNextEntry(); entry != null; entry = tar.getNextEntry()) {
                handler.accept(entry, tar);
            }
            content.transferTo(OutputStream.nullOutputStream());
        } catch (CorruptObjectException e) {
            throw e;
        } catch (IOException e) {
            throw new IOException(piece.key() + " cannot be restored: " + e.getMessage(), e);
        }
    }

    /** The kinds of member a base backup holds; anything else (hard links, devices, FIFOs) is refused. */
    private enum Kind { DIRECTORY, FILE, TABLESPACE_LINK, TABLESPACE_MAP }

    /**
     * What an entry is, once its name and kind are found acceptable.
     *
     * @throws CorruptObjectException naming the piece and entry for anything a restore must not write
     */
    private static Kind kindOf(TarArchiveEntry entry, BackupManifest.Piece piece, Path relative, Predicate<String> isTablespaceLocation)
            throws CorruptObjectException {
        String name = entry.getName();
        boolean base = piece.tablespaceLocation() == null;
        if (entry.isLink()) {
            throw ConfinedDirectory.refused(piece.key(), name, "is a hard link (to '" + entry.getLinkName() + "'), which a base backup never holds");
        } else if (entry.isCharacterDevice() || entry.isBlockDevice() || entry.isFIFO()) {
            throw ConfinedDirectory.refused(piece.key(), name, "is a device or FIFO, which a base backup never holds");
        } else if (entry.isSymbolicLink()) {
            if (!base || relative.getNameCount() != 2 || !relative.getName(0).toString().equals("pg_tblspc")
                    || !relative.getName(1).toString().matches("[1-9][0-9]{0,9}")) {
                throw ConfinedDirectory.refused(piece.key(), name, "is a symbolic link (to '" + entry.getLinkName()
                        + "'); pgvault restores only pg_tblspc/<oid> links to tablespaces of the backup");
            }
            if (!isTablespaceLocation.test(entry.getLinkName())) {
                throw ConfinedDirectory.refused(piece.key(), name, "links to '" + entry.getLinkName() + "', which is not a tablespace of this backup");
            }
            return Kind.TABLESPACE_LINK;
        } else if (entry.isDirectory()) {
            return Kind.DIRECTORY;
        } else if (base && relative.toString().equals(TABLESPACE_MAP) && entry.isFile()) {
            return Kind.TABLESPACE_MAP;
        } else if (entry.isFile()) {
            return Kind.FILE;
        }
        throw ConfinedDirectory.refused(piece.key(), name, "is of tar type '" + (char) entry.getLinkFlag() + "', which a base backup never holds");
    }

    private void unpack(BackupManifest backup, BackupManifest.Piece piece, ConfinedDirectory root, TablespacePlan tablespaces,
                        FileRanges ranges, ChainReconstruction reconstruction, long chainBytes) throws IOException {
        byte[] buffer = new byte[WRITE_BUFFER];
        readPiece(piece, (entry, tar) -> {
            String name = entry.getName();
            Path relative = ConfinedDirectory.relative(name, piece.key());
            Path path = root.root().resolve(relative);
            switch (kindOf(entry, piece, relative, location -> tablespaces.targetOf(location).isPresent())) {
                case DIRECTORY -> {
                    root.createDirectories(path, piece.key(), name);
                    root.setMode(path, entry.getMode() | 0700, piece.key(), name);
                }
                case TABLESPACE_LINK -> root.createLink(path, tablespaces.targetOf(entry.getLinkName()).orElseThrow(), piece.key(), name);
                case TABLESPACE_MAP -> writeTablespaceMap(tar, entry, root, path, piece, tablespaces);
                case FILE -> {
                    if (backup.holdsIncrementalFiles() && IncrementalFile.isIncremental(name)) {
                        writeIncremental(entry, tar, root, piece, backupKey(piece, IncrementalFile.targetName(name)), reconstruction, buffer,
                                chainBytes);
                        return;
                    }
                    if (backup.isIncremental() && piece.tablespaceLocation() == null && relative.toString().equals(BACKUP_LABEL)) {
                        writeBackupLabel(entry, tar, root, path, piece, backup);
                        return;
                    }
                    if (FileReference.isReference(entry)) {
                        FileReference ref = reference(backup, piece, entry, chainBytes);
                        ranges.claim(rangeKey(piece, entry), ref.part(), ref.length(), piece.key());
                        reconstruction.addReference(backupKey(piece, name), ref, piece.key());
                        createReferenced(entry, root, path, ref, piece);
                        return;
                    }
                    Optional<FilePart> part = FilePart.of(entry, piece.key(), chainBytes);
                    if (part.isPresent()) {
                        ranges.claim(rangeKey(piece, entry), part.get(), entry.getSize(), piece.key());
                    }
                    write(entry, tar, root, path, part.map(FilePart::offset).orElse(0L), part.isEmpty(), piece, buffer);
                }
            }
        });
    }

    /**
     * A member that is a {@link FileReference}, checked; only a backup of the format that has them may hold one.
     *
     * @param largestFile no referenced file can be larger
     */
    private static FileReference reference(BackupManifest backup, BackupManifest.Piece piece, TarArchiveEntry entry, long largestFile)
            throws CorruptObjectException {
        if (!backup.mayReferenceFiles()) {
            throw ConfinedDirectory.refused(piece.key(), entry.getName(), "is a file reference, which only an incremental backup of format "
                    + BackupManifest.FILE_REFERENCES_FORMAT + " holds (backup " + backup.backupId() + " has format " + backup.formatVersion()
                    + (backup.isIncremental() ? "" : " and is a full backup") + ")");
        }
        return FileReference.of(entry, piece.key(), largestFile);
    }

    /**
     * The newest backup's reference: the file is made, with its size when these bytes end it (the
     * bytes themselves are copied from an older backup later; a hole reads as zeros until then).
     * A range leaves the rest of the file alone: other threads may be writing its other ranges.
     */
    private static void createReferenced(TarArchiveEntry entry, ConfinedDirectory root, Path path, FileReference ref, BackupManifest.Piece piece)
            throws IOException {
        boolean whole = ref.offset() == 0 && ref.length() == ref.fileSize();
        try (FileChannel out = root.openForWrite(path, whole, piece.key(), entry.getName())) {
            // Only a byte of the referenced range: no other member of this backup writes there.
            if (ref.length() > 0 && ref.end() == ref.fileSize() && out.size() < ref.fileSize()) {
                out.write(ByteBuffer.wrap(new byte[1]), ref.fileSize() - 1);
            }
        }
        root.setMode(path, entry.getMode() | 0600, piece.key(), entry.getName());
    }

    /**
     * Copies an older backup's member into place for the newest backup's reference to it,
     * checking it is the member referenced: same length, and either in the piece the reference
     * names with the checksum it names (the piece's bytes are checked against it as they are
     * read, see {@link #readPiece}), or, for a reference that names no piece, with the SHA-256
     * the reference carries, checked as the bytes are copied.
     */
    private static void copyReferenced(TarArchiveEntry entry, InputStream data, ConfinedDirectory root, BackupManifest.Piece piece,
                                       ChainReconstruction.Referenced referenced, byte[] buffer) throws IOException {
        FileReference ref = referenced.ref;
        String where = piece.key() + ": " + entry.getName();
        // The file's size may differ from the newest backup's: a range of a table that grew since holds the same bytes.
        if (entry.getSize() != ref.length()) {
            throw new CorruptObjectException(where + " holds " + entry.getSize() + " bytes at " + ref.offset() + ", but the newest backup "
                    + "references " + ref.length() + " bytes there: the chain is damaged (a piece was replaced); restore from another backup");
        }
        if (ref.pinned() && !(ref.piece().equals(piece.key()) && ref.pieceSha256().equals(piece.sha256()))) {
            throw new CorruptObjectException(where + " (SHA-256 " + piece.sha256() + ") holds the bytes " + ref.offset() + " to " + ref.end()
                    + " of " + referenced.file + ", but the newest backup references them in " + ref.piece() + " with SHA-256 "
                    + ref.pieceSha256() + ": the chain is damaged (a piece was replaced); restore from another backup");
        }
        referenced.claim(piece.key());
        java.security.MessageDigest sha = ref.pinned() ? null : io.pgvault.core.util.Sha256.newDigest();
        Path path = root.root().resolve(ConfinedDirectory.relative(entry.getName(), piece.key()));
        try (FileChannel out = root.openForWrite(path, false, piece.key(), entry.getName())) {
            long position = ref.offset();
            long left = ref.length();
            while (left > 0) {
                int n = data.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (n < 0) {
                    throw new EOFException(where + ": the data at " + position + " ended " + left + " bytes short");
                }
                if (sha != null) {
                    sha.update(buffer, 0, n);
                }
                writeAt(out, buffer, 0, n, position);
                position += n;
                left -= n;
            }
        }
        if (sha == null) {
            return;
        }
        String actual = io.pgvault.core.util.Sha256.hex(sha);
        if (!actual.equals(ref.sha256())) {
            throw new CorruptObjectException(where + " has SHA-256 " + actual + ", but the newest backup references the bytes " + ref.offset()
                    + " to " + ref.end() + " of " + referenced.file + " in backup " + ref.heldBy() + " with SHA-256 " + ref.sha256()
                    + ": the chain is damaged (a piece was replaced); restore from another backup");
        }
    }

    /**
     * The newest backup's incremental file: the file it stands for gets the blocks it holds,
     * at their places, and its length; the other blocks come from older backups.
     */
    private static void writeIncremental(TarArchiveEntry entry, InputStream data, ConfinedDirectory root, BackupManifest.Piece piece,
                                         String file, ChainReconstruction reconstruction, byte[] buffer, long chainBytes) throws IOException {
        String where = piece.key() + ": " + entry.getName();
        IncrementalFile incremental = IncrementalFile.readHeader(data, entry.getSize(), where);
        if (incremental.lengthBlocks() * IncrementalFile.BLOCK_SIZE > chainBytes) {
            // A few bytes of header must not make a restore allocate what the whole chain does not hold.
            throw ConfinedDirectory.refused(piece.key(), entry.getName(), "makes its file " + incremental.lengthBlocks() + " blocks long, more "
                    + "than the whole chain holds (" + chainBytes + " bytes)");
        }
        reconstruction.add(file, incremental, piece.key());
        Path path = root.root().resolve(ConfinedDirectory.relative(IncrementalFile.targetName(entry.getName()), piece.key()));
        try (FileChannel out = root.openForWrite(path, true, piece.key(), entry.getName())) {
            copyBlocks(data, out, incremental.blocks(), block -> true, block -> { }, buffer, where);
            long length = incremental.lengthBlocks() * IncrementalFile.BLOCK_SIZE;
            if (out.size() < length) {
                // The blocks older backups give are written later; a hole reads as zeros until then.
                out.write(ByteBuffer.wrap(new byte[1]), length - 1);
            }
        }
        root.setMode(path, entry.getMode() | 0600, piece.key(), entry.getName());
    }

    /**
     * Copies an incremental file's blocks, as they follow its header, to their places: those
     * {@code wanted}, the others skipped. A run of consecutive block numbers goes out in one
     * write (up to the buffer's size), not one write per 8 KiB block.
     */
    private static void copyBlocks(InputStream data, FileChannel out, int[] blocks, java.util.function.IntPredicate wanted,
                                   java.util.function.IntConsumer written, byte[] buffer, String where) throws IOException {
        int perWrite = buffer.length / IncrementalFile.BLOCK_SIZE;
        int i = 0;
        while (i < blocks.length) {
            if (!wanted.test(blocks[i])) {
                data.skipNBytes(IncrementalFile.BLOCK_SIZE);
                i++;
                continue;
            }
            int first = blocks[i];
            int run = 0;
            do {
                int n = data.readNBytes(buffer, run * IncrementalFile.BLOCK_SIZE, IncrementalFile.BLOCK_SIZE);
                if (n != IncrementalFile.BLOCK_SIZE) {
                    throw new EOFException(where + ": a block ended after " + n + " of " + IncrementalFile.BLOCK_SIZE + " bytes");
                }
                written.accept(blocks[i]);
                run++;
                i++;
            } while (i < blocks.length && run < perWrite && blocks[i] == first + run && wanted.test(blocks[i]));
            writeAt(out, buffer, 0, run * IncrementalFile.BLOCK_SIZE, (long) first * IncrementalFile.BLOCK_SIZE);
        }
    }

    /**
     * An incremental backup's backup_label says where its parent started ({@code INCREMENTAL FROM
     * LSN}/{@code TLI}); PostgreSQL refuses to start on such a label ("this is an incremental
     * backup, not a data directory"), so the restored one leaves those lines out, as pg_combinebackup does.
     *
     * <p>Those lines are PostgreSQL's own word on which backup the blocks were taken against, and
     * the manifest's parent must be that backup: a manifest edited to name another parent (an
     * older full backup, say, with its real start) passes every check of the chain itself, and
     * would restore a cluster missing whatever changed in between.
     */
    private static void writeBackupLabel(TarArchiveEntry entry, InputStream data, ConfinedDirectory root, Path path, BackupManifest.Piece piece,
                                         BackupManifest backup) throws IOException {
        String kept = checkedLabel(entry, data, piece, backup);
        try (FileChannel file = root.openForWrite(path, true, piece.key(), entry.getName())) {
            ByteBuffer bytes = ByteBuffer.wrap(kept.getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                file.write(bytes);
            }
        }
        root.setMode(path, entry.getMode() | 0600, piece.key(), entry.getName());
    }

    /**
     * An incremental backup's backup_label without its {@code INCREMENTAL FROM} lines, once those
     * lines are found to name the manifest's parent (PostgreSQL 17+ incremental backups).
     */
    private static String checkedLabel(TarArchiveEntry entry, InputStream data, BackupManifest.Piece piece, BackupManifest backup)
            throws IOException {
        if (entry.getSize() > 1 << 20) {
            throw ConfinedDirectory.refused(piece.key(), entry.getName(), "is " + entry.getSize() + " bytes, far more than a backup_label");
        }
        String label = new String(data.readNBytes((int) entry.getSize()), StandardCharsets.UTF_8);
        StringBuilder kept = new StringBuilder();
        String fromLsn = null;
        String fromTimeline = null;
        for (String line : label.split("(?<=\\n)")) {
            if (line.startsWith("INCREMENTAL FROM LSN: ")) {
                fromLsn = line.substring("INCREMENTAL FROM LSN: ".length()).strip();
            } else if (line.startsWith("INCREMENTAL FROM TLI: ")) {
                fromTimeline = line.substring("INCREMENTAL FROM TLI: ".length()).strip();
            }
            if (!line.startsWith("INCREMENTAL FROM ")) {
                kept.append(line);
            }
        }
        if (backup.holdsIncrementalFiles()) {
            BackupManifest.Parent parent = backup.parent();
            boolean sameLsn = fromLsn != null && fromLsn.matches("[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}")
                    && Lsn.parse(fromLsn).equals(Lsn.parse(parent.startLsn()));
            if (!sameLsn || !String.valueOf(parent.startTimeline()).equals(fromTimeline)) {
                throw new CorruptObjectException(piece.key() + ": " + entry.getName() + " says PostgreSQL took this incremental backup against "
                        + "the backup that started at " + (fromLsn == null ? "(no INCREMENTAL FROM LSN line)" : fromLsn) + " on timeline "
                        + (fromTimeline == null ? "(no INCREMENTAL FROM TLI line)" : fromTimeline) + ", but its manifest names parent "
                        + parent.backupId() + ", which started at " + parent.startLsn() + " on timeline " + parent.startTimeline()
                        + ": the chain is damaged or the manifest was edited; restore from another backup");
            }
        }
        return kept.toString();
    }

    /**
     * Reads a piece of an older backup of the chain and writes, of the files still being
     * built, the blocks no newer backup held. Everything else in the piece is read (its
     * checksum covers it all) and left alone.
     */
    private void addMissingBlocks(BackupManifest backup, BackupManifest.Piece piece, ConfinedDirectory root, FileRanges ranges,
                                  ChainReconstruction reconstruction, long chainBytes) throws IOException {
        Set<String> locations = new HashSet<>();
        backup.pieces().forEach(p -> locations.add(p.tablespaceLocation()));
        byte[] buffer = new byte[WRITE_BUFFER];
        readPiece(piece, (entry, tar) -> {
            String name = entry.getName();
            Path relative = ConfinedDirectory.relative(name, piece.key());
            if (kindOf(entry, piece, relative, locations::contains) != Kind.FILE) {
                return;
            }
            if (FileReference.isReference(entry)) {
                // An intermediate backup referencing bytes again: the newest backup's reference names where they are.
                FileReference ref = reference(backup, piece, entry, chainBytes);
                ranges.claim(rangeKey(piece, entry), ref.part(), ref.length(), piece.key());
                return;
            }
            boolean incremental = backup.holdsIncrementalFiles() && IncrementalFile.isIncremental(name);
            String targetName = incremental ? IncrementalFile.targetName(name) : name;
            Optional<FilePart> part = incremental ? Optional.empty() : FilePart.of(entry, piece.key(), chainBytes);
            if (part.isPresent()) {
                ranges.claim(rangeKey(piece, entry), part.get(), entry.getSize(), piece.key());
            }
            Optional<ChainReconstruction.Referenced> referenced = incremental ? Optional.empty()
                    : reconstruction.referenced(backupKey(piece, name), part.map(FilePart::offset).orElse(0L), backup.backupId());
            if (referenced.isPresent()) {
                copyReferenced(entry, tar, root, piece, referenced.get(), buffer);
                return;
            }
            Optional<ChainReconstruction.Target> target = reconstruction.wanted(backupKey(piece, targetName));
            if (target.isEmpty()) {
                return;
            }
            Path path = root.root().resolve(ConfinedDirectory.relative(targetName, piece.key()));
            String where = piece.key() + ": " + name;
            try (FileChannel out = root.openForWrite(path, false, piece.key(), name)) {
                if (incremental) {
                    IncrementalFile older = IncrementalFile.readHeader(tar, entry.getSize(), where);
                    ChainReconstruction.Target wanting = target.get();
                    copyBlocks(tar, out, older.blocks(), wanting::wants, wanting::written, buffer, where);
                    wanting.heldIncremental();
                } else {
                    copyWantedBlocks(tar, entry.getSize(), part.map(FilePart::offset).orElse(0L), out, target.get(), buffer, where);
                    target.get().heldWhole();
                }
            }
        });
    }

    private static void writeAt(FileChannel out, byte[] buffer, int from, int length, long position) throws IOException {
        ByteBuffer chunk = ByteBuffer.wrap(buffer, from, length);
        long at = position;
        while (chunk.hasRemaining()) {
            at += out.write(chunk, at);
        }
    }

    /** Copies, of {@code length} bytes of a file from {@code offset} on, the bytes of the blocks the target still wants. */
    private static void copyWantedBlocks(InputStream data, long length, long offset, FileChannel out, ChainReconstruction.Target target,
                                         byte[] buffer, String where) throws IOException {
        long position = offset;
        long end = offset + length;
        while (position < end) {
            int n = data.read(buffer, 0, (int) Math.min(buffer.length, end - position));
            if (n < 0) {
                throw new EOFException(where + ": the data ended " + (end - position) + " bytes short");
            }
            // Consecutive wanted blocks go out in one write: a full backup under a chain gives nearly every block
            // of its files, and a write per 8 KiB block was a hundred thousand system calls per GiB.
            int i = 0;
            int runStart = -1;
            while (i < n) {
                long block = (position + i) / IncrementalFile.BLOCK_SIZE;
                int span = (int) Math.min(n - i, (block + 1) * IncrementalFile.BLOCK_SIZE - (position + i));
                if (target.wants(block)) {
                    if (runStart < 0) {
                        runStart = i;
                    }
                    target.written(block);
                } else if (runStart >= 0) {
                    writeAt(out, buffer, runStart, i - runStart, position + runStart);
                    runStart = -1;
                }
                i += span;
            }
            if (runStart >= 0) {
                writeAt(out, buffer, runStart, n - runStart, position + runStart);
            }
            position += n;
        }
    }

    /**
     * PostgreSQL makes a pg_tblspc link for each line of tablespace_map when it recovers and
     * then writes through it: the file is written from the plan, and a line naming a place
     * that is not a tablespace of this backup is refused.
     */
    private static void writeTablespaceMap(InputStream data, TarArchiveEntry entry, ConfinedDirectory root, Path path,
                                           BackupManifest.Piece piece, TablespacePlan tablespaces) throws IOException {
        if (entry.getSize() > 1 << 20) {
            throw ConfinedDirectory.refused(piece.key(), entry.getName(), "is " + entry.getSize() + " bytes, far more than a tablespace_map");
        }
        Map<String, String> lines;
        try {
            lines = TablespaceMapFile.parse(new String(data.readNBytes((int) entry.getSize()), StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw ConfinedDirectory.refused(piece.key(), entry.getName(), "has a " + e.getMessage());
        }
        Map<String, String> mapped = new LinkedHashMap<>();
        for (Map.Entry<String, String> line : lines.entrySet()) {
            Optional<TablespacePlan.Tablespace> tablespace = tablespaces.tablespaces().stream()
                    .filter(t -> t.oid().equals(line.getKey()) && t.location().equals(line.getValue())).findFirst();
            if (tablespace.isEmpty()) {
                throw ConfinedDirectory.refused(piece.key(), entry.getName(), "maps tablespace " + line.getKey() + " to " + line.getValue()
                        + ", which is not a tablespace of this backup");
            }
            mapped.put(line.getKey(), tablespace.get().target().toString());
        }
        byte[] text = TablespaceMapFile.format(mapped).getBytes(StandardCharsets.UTF_8);
        try (FileChannel file = root.openForWrite(path, true, piece.key(), entry.getName())) {
            ByteBuffer bytes = ByteBuffer.wrap(text);
            while (bytes.hasRemaining()) {
                file.write(bytes);
            }
        }
        root.setMode(path, 0600, piece.key(), entry.getName());
    }

    /**
     * Writes an entry's data into {@code path} from {@code offset} on, in large writes. A range
     * ({@code whole} false) leaves the rest of the file alone: other threads may be writing
     * its other ranges, and the file may still be shorter than the offset.
     */
    private static void write(TarArchiveEntry entry, InputStream data, ConfinedDirectory root, Path path, long offset, boolean whole,
                              BackupManifest.Piece piece, byte[] buffer) throws IOException {
        try (FileChannel file = root.openForWrite(path, whole, piece.key(), entry.getName())) {
            long position = offset;
            long left = entry.getSize();
            while (left > 0) {
                int n = data.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (n < 0) {
                    throw new EOFException(entry.getName() + ": the data at " + offset + " ended " + left + " bytes short");
                }
                ByteBuffer chunk = ByteBuffer.wrap(buffer, 0, n);
                while (chunk.hasRemaining()) {
                    position += file.write(chunk, position);
                }
                left -= n;
            }
        }
        root.setMode(path, entry.getMode() | 0600, piece.key(), entry.getName());
    }

    /** PostgreSQL's backup_manifest, beside the data: written to a new name, then renamed over (never through a link). */
    private void copyContent(String key, ConfinedDirectory data, BackupManifest backup) throws IOException {
        InputStream stored = store.get(key).orElseThrow(() -> new CorruptObjectException(key + " is missing from the repository"));
        Path file = data.root().resolve("backup_manifest");
        Path temp = data.root().resolve("backup_manifest.pgvault-tmp");
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, stored); InputStream content = opened.content();
             OutputStream out = java.nio.channels.Channels.newOutputStream(data.openForWrite(temp, true, key, "backup_manifest"))) {
            content.transferTo(out);
        }
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}

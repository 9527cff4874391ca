package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.util.FileModes;
import io.pgvault.core.util.ParallelChecks;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Unpacks a backup from the repository into a data directory: pieces are fetched,
 * decompressed, checked against their SHA-256 and unpacked in parallel. Tablespaces go
 * to their original location unless {@code tablespaceMap} says otherwise. A file stored
 * in ranges ({@link FilePart}) is written range by range in place, by whichever threads
 * unpack its pieces, and checked to be whole at the end.
 */
public final class BackupRestorer {

    /** Per restoring thread: fewer, larger writes than Files.copy's 8 KiB. */
    private static final int WRITE_BUFFER = 256 * 1024;

    private final ObjectStore store;
    private final int parallelism;

    public BackupRestorer(ObjectStore store, int parallelism) {
        this.store = store;
        this.parallelism = Math.max(1, parallelism);
    }

    /**
     * @param progress told the raw bytes unpacked so far (for a progress bar)
     * @throws CorruptObjectException naming the piece whose content does not match its checksum
     */
    public void restore(BackupManifest backup, Path dataDirectory, Map<String, Path> tablespaceMap, LongConsumer progress) throws IOException {
        Files.createDirectories(dataDirectory);
        Files.setPosixFilePermissions(dataDirectory, EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.OWNER_EXECUTE));
        AtomicLong done = new AtomicLong();
        Map<String, Coverage> ranged = new ConcurrentHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(parallelism, r -> {
            Thread t = new Thread(r, "pgvault-restore");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> work = new ArrayList<>();
            for (BackupManifest.Piece piece : backup.pieces()) {
                Path target = piece.tablespaceLocation() == null ? dataDirectory
                        : tablespaceMap.getOrDefault(piece.tablespaceLocation(), Path.of(piece.tablespaceLocation()));
                work.add(pool.submit(() -> {
                    unpack(piece, target, tablespaceMap, ranged);
                    progress.accept(done.addAndGet(piece.rawSize()));
                    return null;
                }));
            }
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
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            pool.shutdownNow();
            // After a failure the caller removes what was written: no other piece may still be writing then.
            awaitStopped(pool);
        }
        checkRanges(backup, ranged);
        if (backup.pgManifestSha256() != null) {
            copyContent(RepositoryLayout.pgBackupManifest(backup.cluster(), backup.backupId()), dataDirectory.resolve("backup_manifest"));
        }
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

    /** PostgreSQL recreates tablespace links from tablespace_map at recovery: point them at the new places. */
    private static void writeTablespaceMap(InputStream data, Path file, Map<String, Path> tablespaceMap) throws IOException {
        StringBuilder out = new StringBuilder();
        for (String line : new String(data.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
            int space = line.indexOf(' ');
            if (space > 0 && tablespaceMap.containsKey(line.substring(space + 1))) {
                line = line.substring(0, space + 1) + tablespaceMap.get(line.substring(space + 1));
            }
            if (!line.isEmpty()) {
                out.append(line).append('\n');
            }
        }
        Files.writeString(file, out.toString());
    }

    /**
     * Reads every piece of a backup as a restore would, writing nothing: its checksum
     * against the manifest, its compression, its tar headers, and that the ranges of every
     * file stored in ranges add up. Every piece is read whatever the others show.
     *
     * @param progress told the raw bytes read so far
     * @return what is wrong, each naming the object; empty when the backup can be restored
     */
    public List<String> verify(BackupManifest backup, LongConsumer progress) throws IOException {
        AtomicLong done = new AtomicLong();
        Map<String, Coverage> ranged = new ConcurrentHashMap<>();
        List<Callable<Void>> checks = new ArrayList<>();
        for (BackupManifest.Piece piece : backup.pieces()) {
            checks.add(() -> {
                byte[] buffer = new byte[WRITE_BUFFER];
                readPiece(piece, (entry, data) -> {
                    FilePart.of(entry, piece.key()).ifPresent(part -> ranged.merge(rangeKey(piece, entry), new Coverage(part.fileSize(),
                            entry.getSize()), Coverage::merge));
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
                checkRanges(backup, ranged);
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

    private static String rangeKey(BackupManifest.Piece piece, TarArchiveEntry entry) {
        return (piece.tablespaceLocation() == null ? "" : piece.tablespaceLocation() + ":") + entry.getName();
    }

    private static void checkRanges(BackupManifest backup, Map<String, Coverage> ranged) throws CorruptObjectException {
        for (Map.Entry<String, Coverage> file : ranged.entrySet()) {
            if (file.getValue().bytes() != file.getValue().fileSize()) {
                throw new CorruptObjectException("backup " + backup.backupId() + " holds " + file.getValue().bytes() + " bytes of "
                        + file.getKey() + (file.getValue().fileSize() < 0 ? ", whose ranges disagree on its size"
                        : ", which has " + file.getValue().fileSize()) + ": the backup is damaged (a piece holding a range of it is missing)");
            }
        }
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

    /** How much of a file stored in ranges has been written; a file size of -1 when its ranges disagree on it. */
    private record Coverage(long fileSize, long bytes) {
        static Coverage merge(Coverage a, Coverage b) {
            return new Coverage(a.fileSize == b.fileSize ? a.fileSize : -1, a.bytes + b.bytes);
        }
    }

    private void unpack(BackupManifest.Piece piece, Path target, Map<String, Path> tablespaceMap, Map<String, Coverage> ranged)
            throws IOException {
        byte[] buffer = new byte[WRITE_BUFFER];
        readPiece(piece, (entry, tar) -> {
            if (piece.tablespaceLocation() == null && entry.getName().equals("tablespace_map") && !tablespaceMap.isEmpty()) {
                writeTablespaceMap(tar, target.resolve("tablespace_map"), tablespaceMap);
            } else if (entry.isSymbolicLink() && tablespaceMap.containsKey(entry.getLinkName())) {
                entry.setLinkName(tablespaceMap.get(entry.getLinkName()).toString());
                extract(entry, tar, target, buffer);
            } else {
                Optional<FilePart> part = FilePart.of(entry, piece.key());
                if (part.isPresent()) {
                    write(entry, tar, pathOf(entry, target), part.get().offset(), false, buffer);
                    ranged.merge(rangeKey(piece, entry), new Coverage(part.get().fileSize(), entry.getSize()), Coverage::merge);
                } else {
                    extract(entry, tar, target, buffer);
                }
            }
        });
    }

    private static Path pathOf(TarArchiveEntry entry, Path root) throws CorruptObjectException {
        Path path = root.resolve(entry.getName()).normalize();
        if (!path.startsWith(root)) {
            throw new CorruptObjectException("backup entry " + entry.getName() + " points outside the target directory");
        }
        return path;
    }

    private static void extract(TarArchiveEntry entry, InputStream data, Path root, byte[] buffer) throws IOException {
        Path path = pathOf(entry, root);
        if (entry.isDirectory()) {
            Files.createDirectories(path);
            Files.setPosixFilePermissions(path, FileModes.permissions(entry.getMode() | 0700));
        } else if (entry.isSymbolicLink()) {
            Files.createDirectories(path.getParent());
            Files.deleteIfExists(path);
            Files.createSymbolicLink(path, Path.of(entry.getLinkName()));
        } else if (entry.isFile()) {
            write(entry, data, path, 0, true, buffer);
        }
    }

    /**
     * Writes an entry's data into {@code path} from {@code offset} on, in large writes. A range
     * ({@code whole} false) leaves the rest of the file alone: other threads may be writing
     * its other ranges, and the file may still be shorter than the offset.
     */
    private static void write(TarArchiveEntry entry, InputStream data, Path path, long offset, boolean whole, byte[] buffer)
            throws IOException {
        Files.createDirectories(path.getParent());
        Set<StandardOpenOption> options = whole
                ? EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)
                : EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try (FileChannel file = FileChannel.open(path, options)) {
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
        Files.setPosixFilePermissions(path, FileModes.permissions(entry.getMode() | 0600));
    }

    private void copyContent(String key, Path file) throws IOException {
        InputStream stored = store.get(key).orElseThrow(() -> new CorruptObjectException(key + " is missing from the repository"));
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, stored); InputStream content = opened.content()) {
            Path temp = file.resolveSibling(file.getFileName() + ".pgvault-tmp");
            Files.copy(content, temp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
    }

}

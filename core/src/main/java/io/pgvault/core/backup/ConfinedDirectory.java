package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.util.FileModes;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.Set;

/**
 * A directory that a restore writes entries of an untrusted tar stream into, and nothing
 * outside it. A name is refused unless it is relative and free of {@code ..}; every
 * directory on the way to an entry is checked or created one component at a time without
 * following a link; files are opened and their modes set with {@code O_NOFOLLOW}. So a link
 * an entry put inside, or one that was there before the restore, can never carry a later
 * entry, a mode change or a write elsewhere: the operation is refused instead, naming the entry.
 *
 * <p>A directory is checked once: nothing a restore writes turns a directory into a link (a
 * link is made only where nothing was, see {@link #createLink}), so the next entry under it
 * costs no system call for it. Restoring a cluster's thousand small files, the checks had
 * cost a failed {@code mkdir}, its exception and an {@code lstat} per component per file.
 * Another process that may write inside the root while the restore runs is not guarded
 * against, with or without this (a path is checked, then used): the data directory is made
 * 0700 first; tablespace targets should be writable by the restoring user alone.
 */
final class ConfinedDirectory {

    private static final LinkOption[] NO_FOLLOW = {LinkOption.NOFOLLOW_LINKS};

    private final Path root;
    /** Directories under the root made or found to be real directories, by any thread of the restore. */
    private final Set<Path> directories = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** @param root an existing directory the caller chose (the data directory or a validated tablespace target) */
    ConfinedDirectory(Path root) {
        this.root = root;
    }

    Path root() {
        return root;
    }

    /**
     * The path, relative to a restore's root, that a tar entry names.
     *
     * @throws CorruptObjectException for an absolute name, a {@code ..} component or an empty name
     */
    static Path relative(String name, String piece) throws CorruptObjectException {
        if (name.isEmpty() || name.startsWith("/") || name.indexOf('\0') >= 0) {
            throw refused(piece, name, "is absolute or empty");
        }
        Path path = null;
        for (String component : name.split("/")) {
            if (component.isEmpty() || component.equals(".")) {
                continue;
            }
            if (component.equals("..")) {
                throw refused(piece, name, "climbs out with '..'");
            }
            try {
                path = path == null ? Path.of(component) : path.resolve(component);
            } catch (InvalidPathException e) {
                throw refused(piece, name, "is not a valid file name");
            }
        }
        if (path == null) {
            throw refused(piece, name, "names no file");
        }
        return path;
    }

    /** Creates {@code dir} and every missing directory between the root and it; none of them may be a link. */
    void createDirectories(Path dir, String piece, String entry) throws IOException {
        Path at = root;
        if (directories.contains(dir)) {
            return;
        }
        for (Path component : root.relativize(dir)) {
            at = at.resolve(component);
            if (directories.contains(at)) {
                continue;
            }
            try {
                Files.createDirectory(at, PosixFilePermissions.asFileAttribute(FileModes.permissions(0700)));
            } catch (FileAlreadyExistsException e) {
                // Another thread or entry made it, or it was there: fine only if it is a real directory.
                if (!Files.isDirectory(at, NO_FOLLOW)) {
                    throw refused(piece, entry, "would be written through " + root.relativize(at)
                            + ", which is not a directory (a link or a file)");
                }
            }
            directories.add(at);
        }
    }

    /** Opens a file for writing, creating it and its directories; never through a link. */
    FileChannel openForWrite(Path file, boolean truncate, String piece, String entry) throws IOException {
        createDirectories(file.getParent(), piece, entry);
        Set<OpenOption> options = new HashSet<>(Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS));
        if (truncate) {
            options.add(StandardOpenOption.TRUNCATE_EXISTING);
        }
        try {
            return FileChannel.open(file, options, PosixFilePermissions.asFileAttribute(FileModes.permissions(0600)));
        } catch (IOException e) {
            if (Files.isSymbolicLink(file)) {
                throw refused(piece, entry, "is a link in the target, which pgvault never writes through");
            }
            throw e;
        }
    }

    /** Sets the permission bits (at most 0777) of a file or directory inside, never of what a link points to. */
    void setMode(Path path, int mode, String piece, String entry) throws IOException {
        if (Files.isSymbolicLink(path)) {
            throw refused(piece, entry, "is a link in the target: its mode is not changed");
        }
        Files.getFileAttributeView(path, PosixFileAttributeView.class, NO_FOLLOW).setPermissions(FileModes.permissions(mode & 0777));
    }

    /** Creates a symbolic link; an entry already there (a duplicate, or a directory) is refused rather than replaced. */
    void createLink(Path link, Path target, String piece, String entry) throws IOException {
        createDirectories(link.getParent(), piece, entry);
        try {
            Files.createSymbolicLink(link, target);
        } catch (FileAlreadyExistsException e) {
            throw refused(piece, entry, "already exists in the target: a link is never made over another entry");
        }
    }

    static CorruptObjectException refused(String piece, String entry, String why) {
        return new CorruptObjectException(piece + ": entry '" + entry + "' " + why + ": refused, nothing is written outside the "
                + "restore's targets (the repository's content is damaged or was crafted)");
    }
}

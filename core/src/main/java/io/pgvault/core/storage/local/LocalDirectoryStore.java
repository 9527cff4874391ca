package io.pgvault.core.storage.local;

import io.pgvault.core.storage.ExactLengthInputStream;
import io.pgvault.core.storage.ObjectKeys;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.StorageException;
import io.pgvault.core.storage.StorageFeature;
import io.pgvault.core.storage.StorageFullException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * An {@link ObjectStore} in a local directory (or a mounted file system). A put writes a
 * temporary file next to the target, fsyncs it, renames it into place and fsyncs the
 * directory, so a crash leaves either the old state or the whole new object.
 * {@link #putIfAbsent} links the temporary file to the target, which fails atomically
 * when the target exists.
 *
 * <p>The repository holds base backups and the clusters' conninfo, so it is private to
 * the user that writes it: every file is created 0600 and every directory this store
 * makes (the root and its missing parents included) 0700, whatever the umask. A reader
 * running as another user (PostgreSQL's restore_command) reads through a pgvault server
 * ({@code --server}). Directories that already exist keep the mode they have.
 */
public final class LocalDirectoryStore implements ObjectStore {

    /** Keys cannot contain '~', so no temporary file can be mistaken for an object. */
    private static final String TEMP_MARK = "~tmp-";

    private static final Set<PosixFilePermission> PRIVATE_DIRECTORY = PosixFilePermissions.fromString("rwx------");
    /** Given at creation, so no other user can open the file in between; a umask can only narrow it. */
    private static final FileAttribute<Set<PosixFilePermission>> PRIVATE_FILE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private final Path root;
    private final boolean posix;

    public LocalDirectoryStore(Path root) throws IOException {
        this.root = root.toAbsolutePath().normalize();
        this.posix = this.root.getFileSystem().supportedFileAttributeViews().contains("posix");
        try {
            createDirectories(this.root);
        } catch (IOException e) {
            throw new StorageException("cannot create repository directory " + this.root + ": " + e.getMessage()
                    + " (check that the path is writable by the user running pgvault)", e);
        }
    }

    public Path root() {
        return root;
    }

    @Override
    public Set<StorageFeature> features() {
        return EnumSet.of(StorageFeature.CONDITIONAL_CREATE, StorageFeature.READ_AFTER_WRITE);
    }

    @Override
    public String describe() {
        return root.toUri().toString();
    }

    @Override
    public void put(String key, InputStream data, long length) throws IOException {
        Path target = pathOf(key);
        Path temp = writeTemp(key, target, data, length);
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            fsyncDirectory(target.getParent());
        } catch (IOException e) {
            Files.deleteIfExists(temp);
            throw translate("store " + key, e);
        }
    }

    @Override
    public void putFile(String key, Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            put(key, in, Files.size(file));
        }
    }

    @Override
    public boolean putIfAbsent(String key, InputStream data, long length) throws IOException {
        Path target = pathOf(key);
        if (Files.exists(target)) {
            return false;
        }
        Path temp = writeTemp(key, target, data, length);
        try {
            Files.createLink(target, temp);
            fsyncDirectory(target.getParent());
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } catch (IOException e) {
            throw translate("store " + key, e);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    @Override
    public Optional<InputStream> get(String key) throws IOException {
        Path path = pathOf(key);
        try {
            if (Files.isDirectory(path)) {
                return Optional.empty();
            }
            return Optional.of(Files.newInputStream(path));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw translate("read " + key, e);
        }
    }

    @Override
    public Optional<ObjectStat> stat(String key) throws IOException {
        Path path = pathOf(key);
        try {
            BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
            if (!attributes.isRegularFile()) {
                return Optional.empty();
            }
            return Optional.of(new ObjectStat(key, attributes.size(), attributes.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw translate("stat " + key, e);
        }
    }

    @Override
    public List<ObjectStat> list(String prefix) throws IOException {
        ObjectKeys.checkPrefix(prefix);
        int slash = prefix.lastIndexOf('/');
        Path start = slash < 0 ? root : root.resolve(prefix.substring(0, slash));
        if (!Files.isDirectory(start)) {
            return List.of();
        }
        List<ObjectStat> result = new ArrayList<>();
        try {
            // Not Files.walk: a directory that retention empties and removes while we walk must be
            // skipped, as a deleted file is, not fail the whole listing (seen in BackupIT).
            Files.walkFileTree(start, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path path, BasicFileAttributes attributes) {
                    String key = keyOf(path);
                    if (attributes.isRegularFile() && key.startsWith(prefix) && !key.contains(TEMP_MARK)) {
                        result.add(new ObjectStat(key, attributes.size(), attributes.lastModifiedTime().toInstant()));
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path path, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE;
                    }
                    throw e;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                    if (e != null && !(e instanceof NoSuchFileException)) {
                        throw e;
                    }
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (NoSuchFileException startDeletedMeanwhile) {
            return List.of();
        } catch (IOException e) {
            throw translate("list " + prefix, e);
        }
        result.sort(Comparator.comparing(ObjectStat::key));
        return result;
    }

    @Override
    public void delete(Collection<String> keys) throws IOException {
        Set<Path> directories = new HashSet<>();
        for (String key : keys) {
            Path path = pathOf(key);
            try {
                if (Files.deleteIfExists(path)) {
                    directories.add(path.getParent());
                }
            } catch (IOException e) {
                throw translate("delete " + key, e);
            }
        }
        for (Path directory : directories) {
            fsyncDirectory(directory);
        }
    }

    @Override
    public void close() {
    }

    private Path pathOf(String key) {
        return root.resolve(ObjectKeys.check(key));
    }

    private String keyOf(Path path) {
        return root.relativize(path).toString().replace(path.getFileSystem().getSeparator(), "/");
    }

    private Path writeTemp(String key, Path target, InputStream data, long length) throws IOException {
        createParents(target.getParent());
        Path temp = target.resolveSibling(target.getFileName() + TEMP_MARK + UUID.randomUUID());
        InputStream source = length >= 0 ? new ExactLengthInputStream(data, key, length) : data;
        Set<StandardOpenOption> options = EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try (FileChannel channel = posix ? FileChannel.open(temp, options, PRIVATE_FILE) : FileChannel.open(temp, options)) {
            OutputStream out = Channels.newOutputStream(channel);
            source.transferTo(out);
            channel.force(true);
        } catch (IOException e) {
            Files.deleteIfExists(temp);
            throw translate("store " + key, e);
        }
        return temp;
    }

    /** Creates missing directories and fsyncs each parent, so a new directory survives a crash too. */
    private void createParents(Path directory) throws IOException {
        try {
            createDirectories(directory);
        } catch (IOException e) {
            throw translate("create directory " + keyOf(directory), e);
        }
    }

    /**
     * Creates the missing directories of {@code directory}'s path one at a time, each 0700,
     * and fsyncs each parent. Not {@link Files#createDirectories} with an attribute: that
     * leaves the mode of each to the umask.
     */
    private void createDirectories(Path directory) throws IOException {
        if (Files.isDirectory(directory)) {
            return;
        }
        createDirectories(directory.getParent());
        try {
            if (posix) {
                Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(PRIVATE_DIRECTORY));
                // Never wider than 0700 from its creation on; this only restores owner bits a umask such as 0277 took.
                if (!Files.getPosixFilePermissions(directory).equals(PRIVATE_DIRECTORY)) {
                    Files.setPosixFilePermissions(directory, PRIVATE_DIRECTORY);
                }
            } else {
                Files.createDirectory(directory);
            }
        } catch (FileAlreadyExistsException concurrent) {
            return;
        }
        fsyncDirectory(directory.getParent());
    }

    private static void fsyncDirectory(Path directory) throws IOException {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    private StorageException translate(String action, IOException e) {
        if (e instanceof StorageException storage) {
            return storage;
        }
        String message = String.valueOf(e.getMessage());
        if (message.contains("No space left") || message.contains("Disk quota exceeded")) {
            return new StorageFullException("cannot " + action + " in " + describe() + ": the file system is full ("
                    + message + "); free space or move the repository, nothing was stored", e);
        }
        return new StorageException("cannot " + action + " in " + describe() + ": " + e.getClass().getSimpleName() + ": " + message, e);
    }
}

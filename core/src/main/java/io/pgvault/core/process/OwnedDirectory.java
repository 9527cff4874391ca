package io.pgvault.core.process;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * A directory that one background process at a time owns and PostgreSQL's calls read without
 * a JVM: the prefetch spool of {@code restore_command} and the push spool of
 * {@code archive_command}. What both share: the directory must be the caller's own (what is in
 * it is handed to PostgreSQL), the owner holds {@value #LOCK} for its life (the kernel releases
 * the lock on kill -9) and names itself in {@value #OWNER} as a {@link ProcessIdentity}, and a
 * one-line file is replaced whole, never seen half written.
 */
public final class OwnedDirectory {

    /** The owner's identity: {@code PID START_TIME BOOT_ID}, see {@link ProcessIdentity}. */
    public static final String OWNER = ".pid";
    /** Held (fcntl lock) by the owner for its life: one owner per directory. */
    public static final String LOCK = ".lock";
    private static final String TEMP_SUFFIX = ".tmp";

    private final Path dir;
    private final String caller;

    /** @param caller who reads the directory, for messages ("restore_command", "archive_command") */
    public OwnedDirectory(Path dir, String caller) {
        this.dir = dir;
        this.caller = caller;
    }

    public Path path() {
        return dir;
    }

    /**
     * Refuses a directory that is not this user's own (a link, or another user's): what is in
     * it is handed to PostgreSQL, or answers for the repository, so nobody else may write it.
     */
    public void checkOwnDirectory() throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(dir + " is not a directory (a symbolic link is not accepted as the spool)");
        }
        String user = System.getProperty("user.name");
        String owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName();
        if (!owner.equals(user)) {
            throw new IOException(dir + " belongs to " + owner + ", not to " + user + ", who runs " + caller);
        }
    }

    /** Whether the process named in {@value #OWNER} runs: that pid, in this boot, with the start time it recorded. */
    public boolean ownerAlive() {
        try {
            String line = Files.readString(dir.resolve(OWNER), StandardCharsets.US_ASCII);
            return ProcessIdentity.parse(line).filter(ProcessIdentity::alive).isPresent();
        } catch (IOException e) {
            return false;
        }
    }

    /** Writes a one-line file as a temp file renamed over it: a reader never sees half a line. */
    public void replaceLine(String name, String line) throws IOException {
        Path temp = dir.resolve(name + TEMP_SUFFIX);
        Files.writeString(temp, line + "\n", StandardCharsets.UTF_8);
        Files.move(temp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Removes the files (not directories, nor what links point to) whose names {@code remove} accepts. */
    public void removeFiles(Predicate<String> remove) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                if (remove.test(f.getFileName().toString()) && !Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS)) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }

    /** Publishes this process as the owner; called once the previous owner's leftovers are gone. */
    public void publishOwner(ProcessIdentity self) throws IOException {
        replaceLine(OWNER, self.line());
    }

    /**
     * Takes {@value #LOCK} (creating the directory, which must then be the caller's own).
     *
     * @return empty when another process (or this JVM) holds it
     */
    public Optional<Lock> tryLock() throws IOException {
        Files.createDirectories(dir);
        checkOwnDirectory();
        FileChannel channel = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // this JVM owns it already
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            return Optional.empty();
        }
        return Optional.of(new Lock(channel, lock));
    }

    /** The owner's hold on {@value #LOCK}; released on close, or by the kernel when the process dies. */
    public static final class Lock implements AutoCloseable {
        private final FileChannel channel;
        private final FileLock lock;

        private Lock(FileChannel channel, FileLock lock) {
            this.channel = channel;
            this.lock = lock;
        }

        @Override
        public void close() {
            try {
                lock.release();
                channel.close();
            } catch (IOException e) {
                // the lock goes with the process
            }
        }
    }
}

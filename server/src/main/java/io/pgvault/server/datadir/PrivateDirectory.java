package io.pgvault.server.datadir;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * A directory only the user running pgvault may enter: created 0700 one component at a
 * time (so no umask widens one), or an existing one narrowed to 0700.
 */
final class PrivateDirectory {

    static final Set<PosixFilePermission> MODE = PosixFilePermissions.fromString("rwx------");

    private PrivateDirectory() {
    }

    /** What {@link #ensure} did, for the log. */
    enum Outcome { CREATED, ALREADY_PRIVATE, NARROWED }

    /**
     * @param setting the configuration key that names the directory, for the messages
     * @throws IllegalStateException when the directory cannot be made private; the message says what to do
     */
    static Outcome ensure(Path directory, String setting) throws IOException {
        if (Files.notExists(directory, LinkOption.NOFOLLOW_LINKS)) {
            create(directory);
            return Outcome.CREATED;
        }
        if (!Files.isDirectory(directory)) {
            throw new IllegalStateException(setting + " names " + directory + ", which is not a directory: point it at a directory pgvault "
                    + "may keep to itself (it creates a missing one 0700)");
        }
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(directory);
        if (mode.equals(MODE)) {
            return Outcome.ALREADY_PRIVATE;
        }
        if (mode.contains(PosixFilePermission.OTHERS_WRITE)) {
            // A shared directory such as /tmp: narrowing it would break other users, and anyone could plant files in it.
            throw new IllegalStateException(setting + " names " + directory + ", which every user may write to ("
                    + PosixFilePermissions.toString(mode) + "): point it at a directory of pgvault's own (it creates a missing one 0700)");
        }
        try {
            Files.setPosixFilePermissions(directory, MODE);
        } catch (IOException e) {
            throw new IllegalStateException(setting + " names " + directory + ", which is " + PosixFilePermissions.toString(mode)
                    + ", and pgvault (running as " + System.getProperty("user.name") + ") cannot make it rwx------: " + e.getMessage()
                    + "; run chmod 700 " + directory + " as its owner, or point it at another directory", e);
        }
        return Outcome.NARROWED;
    }

    /** Creates the missing directories of the path, each 0700 whatever the umask. */
    private static void create(Path directory) throws IOException {
        Path parent = directory.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            create(parent);
        }
        try {
            Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(MODE));
        } catch (FileAlreadyExistsException concurrent) {
            return;
        }
        // Never wider than 0700 from its creation on; this restores owner bits a umask such as 0277 took.
        if (!Files.getPosixFilePermissions(directory).equals(MODE)) {
            Files.setPosixFilePermissions(directory, MODE);
        }
    }
}

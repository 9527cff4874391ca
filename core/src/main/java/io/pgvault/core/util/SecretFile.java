package io.pgvault.core.util;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * A file holding a secret (S3 keys, a bearer token): the way secrets reach pgvault's
 * restore_command instead of its arguments (any SQL role can {@code SHOW restore_command},
 * any local user can read a process's arguments) or the data directory (every later base
 * backup of the cluster would copy it). Like libpq's {@code .pgpass}, one that other users
 * can read is refused.
 */
public final class SecretFile {

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private SecretFile() {
    }

    /**
     * @param what what the file holds, for messages ("the S3 keys")
     * @throws IllegalArgumentException when it cannot be read, or group or others may read or write it
     */
    public static String read(Path file, String what) {
        try {
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
            if (!Files.isRegularFile(file) || mode.stream().anyMatch(p -> !p.name().startsWith("OWNER"))) {
                throw new IllegalArgumentException(file + " holds " + what + " but " + (Files.isRegularFile(file)
                        ? "other users may read it (" + PosixFilePermissions.toString(mode) + "): run chmod 600 " + file
                        : "is not a regular file"));
            }
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + what + " from " + file + ": " + e, e);
        }
    }

    /** Writes (or replaces) the file readable by its owner only: created 0600, then renamed into place. */
    public static void write(Path file, String content) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Path temp = Files.createTempFile(parent, "." + file.getFileName(), ".tmp", PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        try {
            Files.writeString(temp, content, StandardCharsets.UTF_8);
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** Whether {@code file} lies inside {@code directory} (links resolved as far as they exist). */
    public static boolean isInside(Path file, Path directory) {
        Path f = file.toAbsolutePath().normalize();
        Path d = directory.toAbsolutePath().normalize();
        try {
            if (Files.exists(d, LinkOption.NOFOLLOW_LINKS)) {
                d = d.toRealPath();
            }
            if (Files.exists(f.getParent())) {
                f = f.getParent().toRealPath().resolve(f.getFileName());
            }
        } catch (IOException e) {
            // compare the paths as given
        }
        return f.startsWith(d);
    }
}

package io.pgvault.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.ArrayList;
import java.util.List;

/**
 * The unprivileged OS user PostgreSQL runs as when the tests run as root (initdb and
 * postgres refuse root). {@code .ci/run} creates it; {@code -Dpgvault.test.osUser} names another.
 */
public final class OsUser {

    private static final String NAME = System.getProperty("pgvault.test.osUser", "pgvault");
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    private OsUser() {
    }

    public static boolean switching() {
        return ROOT;
    }

    public static String name() {
        return ROOT ? NAME : System.getProperty("user.name");
    }

    /** True when the tests run as root, and PostgreSQL as the unprivileged server user. */
    public static boolean isRoot() {
        return ROOT;
    }

    /** The command line that runs {@code command} as the server user. */
    public static List<String> wrap(List<String> command) {
        if (!ROOT) {
            return command;
        }
        principal();
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", NAME, "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    /**
     * A new temporary directory outside any test's own, private (0700) and given to the server
     * user: what a PostgreSQL server of a test writes into (its archive, a tablespace).
     */
    public static Path ownedTempDirectory(String name) throws IOException {
        Path dir = Files.createTempDirectory("pgvault-" + name + "-");
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        own(dir);
        return dir;
    }

    /**
     * Gives {@code root} and everything below it to the server user. A file that goes away
     * meanwhile is passed over: a data directory handed over right after {@code recover} may
     * hold the prefetcher's spool, whose temporary files come and go while it works.
     */
    public static void own(Path root) {
        if (!ROOT) {
            return;
        }
        UserPrincipal user = principal();
        try {
            Files.walkFileTree(root, new java.nio.file.SimpleFileVisitor<>() {
                @Override
                public java.nio.file.FileVisitResult preVisitDirectory(Path dir, java.nio.file.attribute.BasicFileAttributes attrs)
                        throws IOException {
                    return give(dir);
                }

                @Override
                public java.nio.file.FileVisitResult visitFile(Path file, java.nio.file.attribute.BasicFileAttributes attrs) throws IOException {
                    return give(file);
                }

                @Override
                public java.nio.file.FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                    if (e instanceof java.nio.file.NoSuchFileException) {
                        return java.nio.file.FileVisitResult.CONTINUE;
                    }
                    throw e;
                }

                private java.nio.file.FileVisitResult give(Path p) throws IOException {
                    try {
                        Files.setOwner(p, user);
                    } catch (java.nio.file.NoSuchFileException gone) {
                        // removed since it was listed
                    }
                    return java.nio.file.FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static UserPrincipal principal() {
        try {
            return FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(NAME);
        } catch (UserPrincipalNotFoundException e) {
            throw new IllegalStateException("tests run as root, so PostgreSQL must run as an unprivileged user, but user '" + NAME
                    + "' does not exist: create it (useradd --system --no-create-home " + NAME + ") or run .ci/run, which does");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

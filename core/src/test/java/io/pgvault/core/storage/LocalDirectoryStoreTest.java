package io.pgvault.core.storage;

import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.ObjectStoreContract;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

class LocalDirectoryStoreTest extends ObjectStoreContract {

    @Override
    protected ObjectStore openStore() throws Exception {
        return new LocalDirectoryStore(temp.resolve("repo"));
    }

    @Test
    void aFailedPutLeavesNoTemporaryFileBehind() throws Exception {
        try {
            store.put("x/y", new ByteArrayInputStream(new byte[3]), 10);
        } catch (StorageException expected) {
            // the point of the test is what is left on disk
        }
        try (Stream<java.nio.file.Path> files = Files.walk(temp.resolve("repo"))) {
            assertThat(files.filter(Files::isRegularFile)).isEmpty();
        }
    }

    @Test
    void listingSkipsDirectoriesThatAreDeletedWhileItWalks() throws Exception {
        // Retention deletes old WAL (and the emptied directories) while a status request lists the WAL.
        store.put("wal/keep/a", new ByteArrayInputStream(new byte[1]), 1);
        AtomicBoolean churning = new AtomicBoolean(true);
        AtomicReference<Exception> churnFailure = new AtomicReference<>();
        Thread churn = new Thread(() -> {
            try {
                for (int round = 0; churning.get(); round++) {
                    List<String> keys = new ArrayList<>();
                    for (int d = 0; d < 20; d++) {
                        String key = "wal/dir" + (round % 4) + "-" + d + "/f";
                        store.put(key, new ByteArrayInputStream(new byte[1]), 1);
                        keys.add(key);
                    }
                    store.delete(keys);
                }
            } catch (Exception e) {
                churnFailure.set(e);
            }
        });
        churn.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (System.nanoTime() < deadline) {
                assertThat(store.list("wal/")).extracting(ObjectStat::key).contains("wal/keep/a");
            }
        } finally {
            churning.set(false);
            churn.join();
        }
        assertThat(churnFailure.get()).isNull();
    }

    private static String mode(Path path) {
        try {
            return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every path below {@code root} (and root itself) with its mode. */
    private static Map<String, String> modes(Path root) throws IOException {
        Map<String, String> modes = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(root)) {
            paths.forEach(p -> modes.put(root.relativize(p).toString(), mode(p)));
        }
        return modes;
    }

    @Test
    void objectsAre0600AndEveryDirectoryTheStoreMakes0700() throws Exception {
        // Run under the usual umask 022, which would leave 0644 and 0755.
        Path root = temp.resolve("srv/pgvault/repo");
        try (LocalDirectoryStore repo = new LocalDirectoryStore(root)) {
            repo.put("pgvault-format.json", new ByteArrayInputStream(new byte[2]), 2);
            repo.put("clusters/main/cluster.json", new ByteArrayInputStream(new byte[3]), 3);
            repo.put("clusters/main/backups/20261125T020000Z-1a2b3c/pieces/base.tar.00000", new ByteArrayInputStream(new byte[4]), 4);
            assertThat(repo.putIfAbsent("clusters/main/wal/0000000100000000/000000010000000000000001",
                    new ByteArrayInputStream(new byte[5]), 5)).isTrue();
            Path file = Files.writeString(temp.resolve("spooled"), "piece");
            repo.putFile("clusters/main/backups/20261125T020000Z-1a2b3c/manifest.json", file);
        }
        Map<String, String> modes = modes(temp.resolve("srv"));
        // The root's missing parents too: they were made to hold the repository.
        assertThat(modes).containsKeys("", "pgvault", "pgvault/repo", "pgvault/repo/clusters/main/wal/0000000100000000",
                "pgvault/repo/clusters/main/wal/0000000100000000/000000010000000000000001",
                "pgvault/repo/clusters/main/backups/20261125T020000Z-1a2b3c/pieces/base.tar.00000",
                "pgvault/repo/clusters/main/backups/20261125T020000Z-1a2b3c/manifest.json");
        assertThat(modes).allSatisfy((path, mode) -> {
            boolean directory = Files.isDirectory(temp.resolve("srv").resolve(path));
            assertThat(mode).as(path).isEqualTo(directory ? "rwx------" : "rw-------");
        });
    }

    @Test
    void anExistingRootKeepsItsModeAndWhatTheStoreMakesInsideIsPrivate() throws Exception {
        Path root = Files.createDirectory(temp.resolve("shared"));
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-x---"));
        try (LocalDirectoryStore repo = new LocalDirectoryStore(root)) {
            repo.put("a/b/c", new ByteArrayInputStream(new byte[1]), 1);
        }
        assertThat(modes(root)).containsExactly(Map.entry("", "rwxr-x---"), Map.entry("a", "rwx------"), Map.entry("a/b", "rwx------"),
                Map.entry("a/b/c", "rw-------"));
    }

    @Test
    void theTemporaryFileIsPrivateFromItsCreationNotOnlyOnceRenamed() throws Exception {
        Path directory = temp.resolve("repo/clusters/main");
        List<String> seen = new ArrayList<>();
        // Looks at the temporary file while the store writes it, as another user could try to open it.
        InputStream watching = new InputStream() {
            private int left = 3;

            @Override
            public int read() throws IOException {
                if (left == 0) {
                    return -1;
                }
                if (left-- == 1) {
                    try (Stream<Path> files = Files.list(directory)) {
                        files.filter(f -> f.getFileName().toString().contains("~tmp-")).forEach(f -> seen.add(mode(f)));
                    }
                }
                return 'x';
            }
        };
        store.put("clusters/main/cluster.json", watching, 3);
        assertThat(seen).containsExactly("rw-------");
        assertThat(mode(directory.resolve("cluster.json"))).isEqualTo("rw-------");
    }
}

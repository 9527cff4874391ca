package io.pgvault.core.storage;

import io.pgvault.core.storage.local.LocalDirectoryStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A real full file system: a 1 MiB tmpfs, mounted when the tests run as root (CI does). */
class LocalDiskFullTest {

    private Path mount;

    @BeforeEach
    void mountTinyFileSystem() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tiny tmpfs needs root; skipped");
        mount = Files.createTempDirectory("pgvault-full-");
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount.toString()).inheritIO().start();
        assumeTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, "this machine does not allow mounting a tmpfs; skipped");
    }

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            // Lazy, so a stream a failed assertion left open cannot keep the mount alive.
            new ProcessBuilder("umount", "-l", mount.toString()).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
            Files.deleteIfExists(mount);
        }
    }

    @Test
    void aFullDiskIsReportedAsSuchAndLeavesNothingBehind() throws IOException {
        try (LocalDirectoryStore store = new LocalDirectoryStore(mount.resolve("repo"))) {
            store.put("small", new ByteArrayInputStream(new byte[1000]), 1000);
            byte[] big = new byte[2 << 20];
            assertThatThrownBy(() -> store.put("big", new ByteArrayInputStream(big), big.length))
                    .isInstanceOf(StorageFullException.class)
                    .hasMessageContaining("full")
                    .hasMessageContaining("big");
            assertThatThrownBy(() -> store.putIfAbsent("other", new ByteArrayInputStream(big), big.length))
                    .isInstanceOf(StorageFullException.class);
            assertThat(store.list("")).extracting(ObjectStat::key).containsExactly("small");
            try (var files = Files.walk(mount)) {
                assertThat(files.filter(Files::isRegularFile).map(f -> f.getFileName().toString())).containsExactly("small");
            }
            try (var in = store.get("small").orElseThrow()) {
                assertThat(in.readAllBytes()).hasSize(1000);
            }
        }
    }
}

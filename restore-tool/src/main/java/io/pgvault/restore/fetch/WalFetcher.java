package io.pgvault.restore.fetch;

import io.pgvault.core.archive.WalSource;
import io.pgvault.core.wal.WalFileName;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;

/**
 * Copies one WAL file from a source to where PostgreSQL wants it. The file appears under
 * its final name only after every byte was read and checked (temp name, then rename), so
 * a failed or cut fetch never leaves a file PostgreSQL could replay.
 */
public final class WalFetcher {

    private final WalSource source;

    public WalFetcher(WalSource source) {
        this.source = source;
    }

    /** @return false when the file is definitely not archived */
    public boolean fetch(WalFileName name, Path target) throws IOException {
        Optional<InputStream> in = source.open(name);
        if (in.isEmpty()) {
            return false;
        }
        Path temp = target.resolveSibling(target.getFileName() + ".pgvault-tmp");
        try (InputStream content = in.get()) {
            Files.copy(content, temp, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(temp);
            throw e;
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return true;
    }
}

package io.pgvault.restore.fetch;

import io.pgvault.core.wal.WalFileName;

import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;

/**
 * Where {@code wal-fetch} gets WAL: the repository itself, or a pgvault server. The
 * stream is the raw file; it fails its last read if the content does not match the
 * checksum it was stored with, so nothing unverified reaches PostgreSQL.
 */
public interface WalSource extends AutoCloseable {

    /**
     * @return empty only when the file is definitely not archived
     * @throws IOException when the answer is unknown (unreachable, refused, damaged): never "absent"
     */
    Optional<InputStream> open(WalFileName name) throws IOException;

    String describe();

    @Override
    void close() throws IOException;
}

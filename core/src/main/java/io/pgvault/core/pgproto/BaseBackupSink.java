package io.pgvault.core.pgproto;

import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;

import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.Optional;

/**
 * Receives a base backup as PostgreSQL streams it: its start, its tablespaces, one tar
 * archive after another, and the manifest. Streams handed out are closed by the client
 * when their archive ends.
 */
public interface BaseBackupSink {

    /** A tablespace of the backup; the main data directory has neither oid nor location. */
    record Tablespace(Optional<Long> oid, Optional<String> location, Optional<Long> sizeKb) {
    }

    void started(Lsn start, TimelineId timeline) throws IOException;

    void tablespaces(List<Tablespace> tablespaces) throws IOException;

    /**
     * @param name {@code base.tar} or {@code <oid>.tar}
     * @param tablespaceLocation empty for the main data directory
     */
    OutputStream archive(String name, Optional<String> tablespaceLocation) throws IOException;

    OutputStream manifest() throws IOException;
}

package io.pgvault.core.stream;

import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;

import java.io.IOException;

/**
 * Where a {@link WalReceiver} puts what it receives. Every method returns only once the
 * data is stored durably: the receiver then reports it flushed to PostgreSQL.
 */
public interface WalSink {

    /** A complete segment, through the same checks as archive_command's; identical content already stored is fine. */
    void segment(WalFileName name, byte[] content) throws IOException;

    /**
     * The received head ({@code length} bytes) of an unfinished segment; replaces the stored
     * head of that segment when longer, and leaves a longer stored one alone (it holds this
     * one and more).
     */
    void partial(WalFileName segment, byte[] content, int length) throws IOException;

    /** A timeline's history file, fetched from the server when streaming crossed onto it. */
    void history(TimelineId timeline, byte[] content) throws IOException;
}

package io.pgvault.server.backup;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

/**
 * A backup as {@code pgvault backups} shows it.
 *
 * @param status {@code complete}: restorable; {@code incomplete}: stored, but WAL from its
 *     start to its end is not all in the repository yet ({@code reason} names the first missing
 *     segment); {@code running}; {@code failed} ({@code reason} says why; nothing was kept)
 * @param receivedBytes while it runs: what PostgreSQL has sent so far
 * @param estimatedBytes while it runs: PostgreSQL's estimate of the whole (its PROGRESS sizes), once known
 * @param type {@code full} or {@code incremental}
 * @param parent the backup an incremental one builds on (while it runs, once chosen)
 */
@Serdeable
public record BackupView(String id, String status, @Nullable String reason, String startedAt, @Nullable String finishedAt,
                         @Nullable Double durationSeconds, @Nullable String startLsn, @Nullable String endLsn, @Nullable Long timeline,
                         @Nullable Long rawBytes, @Nullable Long storedBytes, @Nullable Integer pieces,
                         @Nullable Long receivedBytes, @Nullable Long estimatedBytes, @Nullable String type, @Nullable String parent) {
}

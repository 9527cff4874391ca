package io.pgvault.server.catalog;

import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.wal.Lsn;

import java.time.Instant;

/**
 * A backup in the catalog's history.
 *
 * @param status {@code running}, {@code stored} (its manifest is in the repository) or {@code failed}
 * @param reason why it failed; null otherwise
 */
public record BackupRow(String id, String status, String reason, Instant startedAt, Instant finishedAt, Long startLsn, Long endLsn,
                        Long timeline, Long walSegmentSize, Long rawBytes, Long storedBytes, Integer pieces) {

    public static final String RUNNING = "running";
    public static final String STORED = "stored";
    public static final String FAILED = "failed";

    public static BackupRow running(String id, Instant startedAt) {
        return new BackupRow(id, RUNNING, null, startedAt, null, null, null, null, null, null, null, null);
    }

    /** A stored backup as its manifest describes it. */
    public static BackupRow stored(BackupManifest m) {
        return new BackupRow(m.backupId(), STORED, null, Instant.parse(m.startedAt()), Instant.parse(m.finishedAt()),
                Lsn.parse(m.startLsn()).value(), Lsn.parse(m.endLsn()).value(), m.endTimeline(), m.walSegmentSize(), m.rawBytes(),
                m.storedBytes(), m.pieces().size());
    }

    public boolean isStored() {
        return STORED.equals(status);
    }
}

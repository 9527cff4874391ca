package io.pgvault.server.catalog;

import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.wal.Lsn;

import java.time.Instant;

/**
 * A backup in the catalog's history.
 *
 * @param status {@code running}, {@code stored} (its manifest is in the repository) or {@code failed}
 * @param reason why it failed; null otherwise
 * @param type {@code full} or {@code incremental} once stored; null before
 * @param parentId the backup an incremental one builds on
 */
public record BackupRow(String id, String status, String reason, Instant startedAt, Instant finishedAt, Long startLsn, Long endLsn,
                        Long timeline, Long walSegmentSize, Long rawBytes, Long storedBytes, Integer pieces, String type, String parentId) {

    public BackupRow(String id, String status, String reason, Instant startedAt, Instant finishedAt, Long startLsn, Long endLsn,
                     Long timeline, Long walSegmentSize, Long rawBytes, Long storedBytes, Integer pieces) {
        this(id, status, reason, startedAt, finishedAt, startLsn, endLsn, timeline, walSegmentSize, rawBytes, storedBytes, pieces, null, null);
    }

    public static final String RUNNING = "running";
    public static final String STORED = "stored";
    public static final String FAILED = "failed";

    public static BackupRow running(String id, Instant startedAt) {
        return running(id, startedAt, null, null);
    }

    /** A running backup of a known type ({@code full} or {@code incremental}) and, once chosen, parent. */
    public static BackupRow running(String id, Instant startedAt, String type, String parentId) {
        return new BackupRow(id, RUNNING, null, startedAt, null, null, null, null, null, null, null, null, type, parentId);
    }

    /** A stored backup as its manifest describes it. */
    public static BackupRow stored(BackupManifest m) {
        return new BackupRow(m.backupId(), STORED, null, Instant.parse(m.startedAt()), Instant.parse(m.finishedAt()),
                Lsn.parse(m.startLsn()).value(), Lsn.parse(m.endLsn()).value(), m.endTimeline(), m.walSegmentSize(), m.rawBytes(),
                m.storedBytes(), m.pieces().size(), m.type(), m.isIncremental() ? m.parent().backupId() : null);
    }

    public boolean isStored() {
        return STORED.equals(status);
    }
}

package io.pgvault.server.backup;

import io.pgvault.core.backup.BackupChain;
import io.pgvault.core.backup.BackupFileIndex;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.IncrementalFile;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.TimelineId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Prepares an incremental backup on a replication connection: checks that the cluster can
 * take one, picks its parent (the cluster's newest stored backup) and, on PostgreSQL 17+,
 * uploads the parent's {@code backup_manifest} for PostgreSQL's own incremental backup. On
 * PostgreSQL 14-16 the backup is a full one in which pgvault references the files unchanged
 * since the parent ({@link #parentFiles}, {@link io.pgvault.core.backup.FileReference}). Every
 * refusal says what to change, before PostgreSQL has sent a byte.
 */
final class IncrementalParent {

    private static final Logger LOG = LoggerFactory.getLogger(IncrementalParent.class);

    /** The first major whose incremental backups pgvault takes (by file references before 17). */
    static final int FILE_REFERENCES_SINCE = 14;

    private IncrementalParent() {
    }

    /** Why an incremental backup cannot be taken now; the backup fails with this message. */
    static final class RefusedException extends IOException {
        RefusedException(String message) {
            super(message);
        }
    }

    /**
     * @return the parent; on PostgreSQL 17+ PostgreSQL now holds its manifest for the next {@code BASE_BACKUP ... INCREMENTAL} on
     *     {@code rc}, before 17 the backup references the parent's unchanged files ({@link #parentFiles})
     * @throws RefusedException when the server or the repository cannot give an incremental backup, saying what to do
     */
    static BackupManifest prepare(ReplicationConnection rc, ReplicationConnection.SystemIdentity identity, ObjectStore store, String cluster)
            throws IOException {
        if (rc.serverMajor() < FILE_REFERENCES_SINCE) {
            throw new RefusedException("cluster '" + cluster + "' runs PostgreSQL " + rc.serverMajor()
                    + ", and pgvault takes incremental backups of PostgreSQL " + FILE_REFERENCES_SINCE + " or later: take a full backup");
        }
        if (isNative(rc)) {
            checkWalSummaries(rc, cluster);
        }
        BackupManifest parent = newestStored(store, cluster).orElseThrow(() -> new RefusedException("cluster '" + cluster
                + "' has no stored backup for an incremental backup to build on: take a full backup first"));
        String why = !parent.systemIdentifier().equals(identity.systemIdentifier())
                ? "is of system " + parent.systemIdentifier() + ", the cluster is now system " + identity.systemIdentifier()
                : parent.pgMajor() != rc.serverMajor() ? "is of PostgreSQL " + parent.pgMajor() + ", the cluster now runs " + rc.serverMajor()
                : parent.pgManifestSha256() == null && isNative(rc) ? "has no backup_manifest"
                : offTheHistory(rc, identity, parent);
        if (why != null) {
            throw new RefusedException("the newest backup of '" + cluster + "', " + parent.backupId() + ", " + why
                    + ": an incremental backup cannot build on it; take a full backup");
        }
        if (isNative(rc)) {
            uploadManifest(rc, store, cluster, parent);
        }
        return parent;
    }

    /**
     * Why the parent is not a state the cluster passed through, or null when it is. After a
     * failover or a recovery the cluster is on a new timeline, and a backup taken on an
     * ancestor is still a good parent if it ended before the history left that timeline: the
     * cluster's pages then descend from the parent's. One that ended later (the old primary
     * went on writing after the standby was promoted), or on a timeline the history does not
     * hold, describes pages this cluster never had; so does one that started before its
     * timeline began on this history (two promotions chose the same timeline number).
     *
     * <p>This check is the only guard against the old primary's later backup on every major:
     * PostgreSQL 17 checks the parent's last timeline only against the new backup's start, and
     * reads WAL summaries of that timeline up to where this cluster left it, so the pages the old
     * primary changed afterwards would be taken from the parent as unchanged. On 14-16 a wrong
     * parent would only cost deduplication (a file is referenced only when its SHA-256 matches).
     */
    private static String offTheHistory(ReplicationConnection rc, ReplicationConnection.SystemIdentity identity, BackupManifest parent)
            throws IOException {
        TimelineId now = identity.timeline();
        TimelineId taken = new TimelineId(parent.endTimeline());
        String taking = "was taken on timeline " + taken.value() + " and ended at " + parent.endLsn() + ", and the cluster is now on timeline "
                + now.value();
        if (now.equals(TimelineId.FIRST)) {
            return taken.equals(now) ? null : taking + ", which has no ancestors (a backup of another lineage of this system)";
        }
        TimelineHistory history = TimelineHistory.parse(now, rc.timelineHistory(now));
        TimelineId started = new TimelineId(parent.startTimeline());
        Optional<Lsn> begun = history.beginOf(started);
        if (begun.isPresent() && Lsn.parse(parent.startLsn()).isBefore(begun.get())) {
            return "started at " + parent.startLsn() + " on timeline " + started.value() + ", before this cluster's timeline " + started.value()
                    + " began (at " + begun.get() + "): it is of another lineage (two promotions chose timeline " + started.value() + ")";
        }
        if (taken.equals(now)) {
            return null;
        }
        Optional<Lsn> left = history.switchPointOf(taken);
        if (left.isEmpty()) {
            return taking + ", whose history does not hold timeline " + taken.value();
        }
        if (Lsn.parse(parent.endLsn()).isAfter(left.get())) {
            return taking + ", whose history left timeline " + taken.value() + " at " + left.get()
                    + " (the old primary went on writing after the failover)";
        }
        return null;
    }

    /** Whether PostgreSQL itself takes the incremental backup ({@code BASE_BACKUP ... INCREMENTAL}, 17+), rather than pgvault by file references. */
    static boolean isNative(ReplicationConnection rc) {
        return rc.serverMajor() >= 17;
    }

    /**
     * For an incremental backup by file references (PostgreSQL 14-16): the parent's file index,
     * checked against the parent's chain, which every entry must be held by.
     *
     * @throws RefusedException when the parent has no index (taken by an older pgvault)
     * @throws CorruptObjectException when the parent's chain or index is damaged
     */
    static BackupFileIndex parentFiles(ObjectStore store, String cluster, BackupManifest parent) throws IOException {
        List<BackupManifest> chain = BackupChain.of(parent, id -> BackupManifest.read(store, cluster, id));
        Set<String> ids = new HashSet<>();
        chain.forEach(b -> ids.add(b.backupId()));
        return BackupFileIndex.read(store, parent, ids).orElseThrow(() -> new RefusedException("the newest backup of '" + cluster + "', "
                + parent.backupId() + ", has no file index (it was taken by an older pgvault): an incremental backup cannot build on it; "
                + "take a full backup"));
    }

    /**
     * The parent's file index as a new backup may build on it. The pieces it names become the new backup's references,
     * and a restore copies those pieces' bytes without hashing them again, trusting their checksums: so the index must be
     * the one this server wrote, as its catalog recorded it ({@code recorded}, kept outside the repository), not merely one
     * that is well formed. Without a record (a backup the catalog learnt from the repository) the pieces are dropped, and
     * the new backup's references carry only their bytes' SHA-256, which a restore checks as it copies them.
     *
     * @throws RefusedException when the index differs from the one recorded: it was changed in the repository
     */
    static BackupFileIndex vouchedFor(BackupFileIndex index, Optional<String> recorded, String cluster) throws RefusedException {
        if (recorded.isEmpty()) {
            LOG.info("The catalog has no record of the file index of backup {} of {} (it was listed from the repository): the "
                    + "incremental backup's references will be checked by their own checksums on restore", index.backupId(), cluster);
            return index.withoutPieces();
        }
        if (!recorded.get().equals(index.sha256())) {
            throw new RefusedException("the file index of backup " + index.backupId() + " of '" + cluster + "' (files.json) has SHA-256 "
                    + index.sha256() + ", but this server stored it with SHA-256 " + recorded.get() + ": it was changed in the repository, "
                    + "and an incremental backup cannot build on it; check who can write the repository, then take a full backup");
        }
        return index;
    }

    private static void checkWalSummaries(ReplicationConnection rc, String cluster) throws IOException {
        String summarize = rc.simpleQuery("SHOW summarize_wal").get(0).value(0, "summarize_wal");
        if (!"on".equals(summarize)) {
            throw new RefusedException("summarize_wal is " + summarize + " on cluster '" + cluster + "', and incremental backups need "
                    + "PostgreSQL's WAL summaries: set it (ALTER SYSTEM SET summarize_wal = on; SELECT pg_reload_conf()), then take a full "
                    + "backup, which the next incremental backup can build on");
        }
        String blockSize = rc.simpleQuery("SHOW block_size").get(0).value(0, "block_size");
        if (!Integer.toString(IncrementalFile.BLOCK_SIZE).equals(blockSize)) {
            throw new RefusedException("cluster '" + cluster + "' was built with " + blockSize + "-byte blocks; pgvault takes incremental "
                    + "backups of clusters with PostgreSQL's default of " + IncrementalFile.BLOCK_SIZE + ": take full backups");
        }
    }

    private static void uploadManifest(ReplicationConnection rc, ObjectStore store, String cluster, BackupManifest parent) throws IOException {
        String key = RepositoryLayout.pgBackupManifest(cluster, parent.backupId());
        InputStream stored = store.get(key).orElseThrow(() -> new CorruptObjectException(key + " is missing: backup " + parent.backupId()
                + " cannot be the parent of an incremental backup; take a full backup"));
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, stored); InputStream manifest = opened.content()) {
            rc.uploadManifest(manifest);
            // The rest of the payload, so its checksum is checked: a damaged manifest must not become a parent.
            manifest.transferTo(java.io.OutputStream.nullOutputStream());
        }
    }

    /**
     * The newest backup of the cluster whose manifest can be read; a damaged newer one is
     * skipped, and logged. Ids sort by the second a backup started and then by a random
     * suffix, so among backups started in the same second the newest is the one whose end
     * is latest in WAL (LSNs only grow, across timelines too): by id alone an incremental
     * backup taken within the second of its parent was passed over for that parent.
     */
    static Optional<BackupManifest> newestStored(ObjectStore store, String cluster) throws IOException {
        // (A folder under backups/ that is not a backup's is no candidate.)
        List<String> ids = BackupManifest.idsInRepository(store, cluster).stream().filter(RepositoryLayout::isBackupId).toList();
        BackupManifest newest = null;
        for (int i = ids.size() - 1; i >= 0; i--) {
            if (newest != null && !RepositoryLayout.backupStartSecond(ids.get(i)).equals(RepositoryLayout.backupStartSecond(newest.backupId()))) {
                break;
            }
            try {
                Optional<BackupManifest> m = BackupManifest.read(store, cluster, ids.get(i));
                if (m.isPresent() && (newest == null || Lsn.parse(m.get().endLsn()).isAfter(Lsn.parse(newest.endLsn())))) {
                    newest = m.get();
                }
            } catch (CorruptObjectException e) {
                LOG.warn("Backup {} of {} cannot be the parent of an incremental backup: {}", ids.get(i), cluster, e.getMessage());
            }
        }
        return Optional.ofNullable(newest);
    }
}

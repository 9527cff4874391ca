package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A backup and the backups it builds on, newest first, down to a full backup: what a
 * restore of an incremental backup reads. Each link must be the parent its child names
 * (same cluster and system, started where the child says its parent started), so a manifest
 * replaced in the repository cannot splice another backup into the chain.
 */
public final class BackupChain {

    /** No chain is longer: a loop or a crafted parent list ends here, not in a stack overflow. */
    static final int MAX_LENGTH = 1000;

    private BackupChain() {
    }

    /** Finds a backup by id: empty when the repository has no readable manifest for it. */
    public interface Lookup {
        Optional<BackupManifest> find(String backupId) throws IOException;
    }

    /**
     * The chain of {@code newest}.
     *
     * @throws CorruptObjectException naming the missing or wrong link
     */
    public static List<BackupManifest> of(BackupManifest newest, Lookup lookup) throws IOException {
        List<BackupManifest> chain = new ArrayList<>();
        chain.add(newest);
        for (BackupManifest b = newest; b.parent() != null; ) {
            String parentId = b.parent().backupId();
            BackupManifest child = b;
            b = lookup.find(parentId).orElseThrow(() -> new CorruptObjectException("backup " + child.backupId() + " is incremental on backup "
                    + parentId + ", which is not in the repository (deleted, or its manifest is damaged): " + child.backupId()
                    + " cannot be restored"));
            chain.add(b);
            if (chain.size() > MAX_LENGTH) {
                throw new CorruptObjectException("backup " + newest.backupId() + " builds on more than " + MAX_LENGTH + " backups: refused");
            }
        }
        check(chain);
        return List.copyOf(chain);
    }

    /**
     * @throws CorruptObjectException when a link is not the parent its child names, or the chain does not end in a full backup
     */
    public static void check(List<BackupManifest> chain) throws CorruptObjectException {
        for (int i = 0; i + 1 < chain.size(); i++) {
            BackupManifest child = chain.get(i);
            BackupManifest parent = chain.get(i + 1);
            if (child.parent() == null) {
                throw new CorruptObjectException("backup " + child.backupId() + " is a full backup but is followed by " + parent.backupId()
                        + " in its chain");
            }
            String why = !child.parent().backupId().equals(parent.backupId()) ? "names parent " + child.parent().backupId()
                    : !child.cluster().equals(parent.cluster()) ? "is of cluster " + child.cluster() + ", its parent of " + parent.cluster()
                    : !child.systemIdentifier().equals(parent.systemIdentifier()) ? "is of system " + child.systemIdentifier()
                            + ", its parent of system " + parent.systemIdentifier()
                    : !child.parent().startLsn().equals(parent.startLsn()) || child.parent().startTimeline() != parent.startTimeline()
                            ? "builds on a parent that started at " + child.parent().startLsn() + " but " + parent.backupId() + " started at "
                            + parent.startLsn()
                    : null;
            if (why != null) {
                throw new CorruptObjectException("backup " + child.backupId() + " " + why + ": the chain to " + parent.backupId()
                        + " is broken (the repository's content is damaged or was crafted)");
            }
        }
        BackupManifest last = chain.get(chain.size() - 1);
        if (last.parent() != null) {
            throw new CorruptObjectException("the chain of backup " + chain.get(0).backupId() + " ends in incremental backup " + last.backupId()
                    + " instead of a full backup");
        }
    }

    /** The raw bytes a restore of the chain reads. */
    public static long rawBytes(List<BackupManifest> chain) {
        return chain.stream().mapToLong(BackupManifest::rawBytes).sum();
    }
}

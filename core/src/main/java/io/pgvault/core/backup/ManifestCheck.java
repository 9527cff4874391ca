package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.WalSegmentSize;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The checks a backup manifest read from the repository must pass before anything is
 * restored from it: it is untrusted input. It must be the manifest of the backup and cluster
 * its key names; every piece key must be the one the layout gives that piece (so a manifest
 * cannot send a restore to another cluster's or another backup's objects); archives, indexes,
 * locations, sizes and checksums must be well formed and add up.
 */
final class ManifestCheck {

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    static final Pattern ARCHIVE = Pattern.compile("base\\.tar|[1-9][0-9]{0,9}\\.tar");
    static final String BASE_ARCHIVE = "base.tar";

    private ManifestCheck() {
    }

    /**
     * @param cluster the cluster whose repository prefix the manifest was read from
     * @param backupId the backup id its key names
     * @throws CorruptObjectException naming the manifest and the first thing wrong
     */
    static void check(BackupManifest m, String cluster, String backupId) throws CorruptObjectException {
        String where = "the manifest of backup " + backupId + " of cluster " + cluster;
        List<String> wrong = new ArrayList<>();
        if (m.formatVersion() < 1) {
            wrong.add("format version " + m.formatVersion());
        }
        if (!cluster.equals(m.cluster()) || !backupId.equals(m.backupId())) {
            wrong.add("it names backup " + m.backupId() + " of cluster " + m.cluster() + " (a manifest copied from elsewhere)");
        }
        try {
            new WalSegmentSize(m.walSegmentSize());
            Lsn start = Lsn.parse(m.startLsn());
            Lsn end = Lsn.parse(m.endLsn());
            if (end.compareTo(start) < 0 || m.startTimeline() < 1 || m.endTimeline() < m.startTimeline()) {
                wrong.add("it ends (" + m.endTimeline() + ", " + m.endLsn() + ") before it starts (" + m.startTimeline() + ", " + m.startLsn() + ")");
            }
        } catch (IllegalArgumentException e) {
            wrong.add(e.getMessage());
        }
        try {
            java.time.Instant.parse(m.startedAt());
            java.time.Instant.parse(m.finishedAt());
        } catch (RuntimeException e) {
            // Listings sort and planners compare by these: one bad manifest must be left out, not end every restore of the cluster.
            wrong.add("its start or finish time ('" + m.startedAt() + "', '" + m.finishedAt() + "') is not a timestamp");
        }
        if (m.pgFinishedAt() != null) {
            try {
                java.time.Instant.parse(m.pgFinishedAt());
            } catch (RuntimeException e) {
                wrong.add("the time PostgreSQL's clock read at its end ('" + m.pgFinishedAt() + "') is not a timestamp");
            }
        }
        if (m.parent() != null) {
            checkParent(m, wrong);
        }
        if (m.pgManifestSha256() != null && !SHA256.matcher(m.pgManifestSha256()).matches()) {
            wrong.add("backup_manifest checksum '" + m.pgManifestSha256() + "' is not a SHA-256");
        }
        if (m.pieces() == null || m.pieces().isEmpty()) {
            wrong.add("it lists no pieces");
        } else {
            checkPieces(m, cluster, backupId, wrong);
        }
        if (!wrong.isEmpty()) {
            throw new CorruptObjectException(where + " is refused: " + String.join("; ", wrong)
                    + " (the repository's content is damaged or was crafted; nothing was restored)");
        }
    }

    /** An incremental backup names an older backup of the same cluster, which started before it on its timeline or an earlier one. */
    private static void checkParent(BackupManifest m, List<String> wrong) {
        BackupManifest.Parent p = m.parent();
        if (m.formatVersion() < 3) {
            wrong.add("it names a parent but has format " + m.formatVersion() + " (incremental backups have format 3)");
        }
        if (m.pgManifestSha256() == null) {
            wrong.add("it is incremental but has no backup_manifest");
        }
        try {
            RepositoryLayout.backupPrefix(m.cluster(), p.backupId());
            // Parent and child are ordered by where they start in WAL, which also keeps a chain from looping: not by
            // their ids, whose seconds come from the clocks of the servers that took them, and whose random suffixes
            // order backups of the same second by chance.
            if (p.backupId().equals(m.backupId())) {
                wrong.add("it names itself as its parent");
            }
            if (Lsn.parse(p.startLsn()).compareTo(Lsn.parse(m.startLsn())) >= 0 || p.startTimeline() < 1
                    || p.startTimeline() > m.startTimeline()) {
                wrong.add("its parent starts at (" + p.startTimeline() + ", " + p.startLsn() + "), not before the backup (" + m.startTimeline()
                        + ", " + m.startLsn() + ")");
            }
        } catch (IllegalArgumentException | NullPointerException e) {
            wrong.add("its parent is malformed: " + e.getMessage());
        }
    }

    private static void checkPieces(BackupManifest m, String cluster, String backupId, List<String> wrong) {
        Map<String, TreeSet<Integer>> indexes = new HashMap<>();
        Map<String, String> locationOf = new HashMap<>();
        Map<String, String> archiveAt = new HashMap<>();
        long raw = 0;
        long stored = 0;
        for (BackupManifest.Piece p : m.pieces()) {
            String archive = p.archive() == null ? "" : p.archive();
            if (!ARCHIVE.matcher(archive).matches()) {
                wrong.add("piece archive '" + p.archive() + "' is neither base.tar nor <tablespace oid>.tar");
                continue;
            }
            String expectedKey = RepositoryLayout.backupPiece(cluster, backupId, archive, p.index());
            if (p.index() < 0 || !expectedKey.equals(p.key())) {
                wrong.add("piece " + archive + " #" + p.index() + " has key " + p.key() + " where " + expectedKey + " belongs");
            }
            if (!indexes.computeIfAbsent(archive, a -> new TreeSet<>()).add(p.index())) {
                wrong.add("piece " + archive + " #" + p.index() + " is listed twice");
            }
            checkLocation(archive, p.tablespaceLocation(), locationOf, archiveAt, wrong);
            if (p.rawSize() < 0 || p.storedSize() < 0 || p.files() < 0) {
                wrong.add("piece " + p.key() + " has a negative size or count");
            } else {
                try {
                    raw = Math.addExact(raw, p.rawSize());
                    stored = Math.addExact(stored, p.storedSize());
                } catch (ArithmeticException e) {
                    wrong.add("piece sizes overflow");
                }
            }
            if (p.sha256() == null || !SHA256.matcher(p.sha256()).matches()) {
                wrong.add("piece " + p.key() + " has checksum '" + p.sha256() + "', not a SHA-256");
            }
        }
        if (!indexes.containsKey(BASE_ARCHIVE)) {
            wrong.add("it has no piece of base.tar (the data directory)");
        }
        indexes.forEach((archive, seen) -> {
            if (!seen.isEmpty() && (seen.first() != 0 || seen.last() != seen.size() - 1)) {
                wrong.add("pieces of " + archive + " are numbered " + seen + ": a piece is missing from the list");
            }
        });
        if (raw != m.rawBytes() || stored != m.storedBytes()) {
            wrong.add("its totals (" + m.rawBytes() + " raw, " + m.storedBytes() + " stored bytes) are not the sums of its pieces ("
                    + raw + ", " + stored + ")");
        }
    }

    /** base.tar has no location; a tablespace one absolute, normalized location, not shared with another tablespace. */
    private static void checkLocation(String archive, String location, Map<String, String> locationOf, Map<String, String> archiveAt,
                                      List<String> wrong) {
        if (archive.equals(BASE_ARCHIVE)) {
            if (location != null) {
                wrong.add("a piece of base.tar names a tablespace location");
            }
            return;
        }
        if (!isPlainAbsolute(location)) {
            wrong.add("tablespace " + archive + " has location '" + location + "': expected an absolute path without '.' or '..'");
            return;
        }
        String known = locationOf.putIfAbsent(archive, location);
        if (known != null && !known.equals(location)) {
            wrong.add("tablespace " + archive + " names two locations, " + known + " and " + location);
        }
        String other = archiveAt.putIfAbsent(location, archive);
        if (other != null && !other.equals(archive)) {
            wrong.add("tablespaces " + other + " and " + archive + " both live at " + location);
        }
    }

    static boolean isPlainAbsolute(String location) {
        if (location == null || !location.startsWith("/") || location.equals("/") || location.indexOf('\0') >= 0
                || location.indexOf('\n') >= 0 || location.indexOf('\r') >= 0) {
            return false;
        }
        try {
            Path path = Path.of(location);
            return path.normalize().toString().equals(location);
        } catch (InvalidPathException e) {
            return false;
        }
    }
}

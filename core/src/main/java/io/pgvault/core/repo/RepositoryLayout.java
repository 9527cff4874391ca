package io.pgvault.core.repo;

import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where each kind of object lives in a repository (docs/repository-format.md). The only
 * place that builds keys, so the layout can be read here in one screen.
 *
 * <pre>
 *   pgvault-format.json
 *   clusters/{cluster}/cluster.json
 *   clusters/{cluster}/wal/{timeline}{logId}/{walFile}          segments, .partial, .backup
 *   clusters/{cluster}/wal/timelines/{timeline}.history
 *   clusters/{cluster}/wal-index/{timeline}{logId}/{segment}.json  what each segment holds for recovery targets
 *   clusters/{cluster}/backups/{backupId}/...
 * </pre>
 */
public final class RepositoryLayout {

    private static final Pattern CLUSTER = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

    private RepositoryLayout() {
    }

    /**
     * @throws IllegalArgumentException naming the text and the allowed form
     */
    public static String checkCluster(String cluster) {
        if (cluster == null || !CLUSTER.matcher(cluster).matches()) {
            throw new IllegalArgumentException("'" + cluster + "' is not a valid cluster name: expected 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit");
        }
        return cluster;
    }

    public static String clusterPrefix(String cluster) {
        return "clusters/" + checkCluster(cluster) + "/";
    }

    public static String clusterDescriptor(String cluster) {
        return clusterPrefix(cluster) + "cluster.json";
    }

    public static String walPrefix(String cluster) {
        return clusterPrefix(cluster) + "wal/";
    }

    /** Key of a WAL file: segments are grouped by timeline and log id, as PostgreSQL numbers them. */
    public static String walKey(String cluster, WalFileName file) {
        if (file.isHistory()) {
            return walPrefix(cluster) + "timelines/" + file;
        }
        return walPrefix(cluster) + file.toString().substring(0, 16) + "/" + file;
    }

    /**
     * The streamed head of a segment not finished yet, as one stream writes it ({@code
     * wal/streaming/{segment}.{token}.partial}): kept apart from the {@code .partial} files
     * PostgreSQL archives at a promotion, which are final and never overwritten; this one is
     * replaced as that stream goes on. Each stream (each lease on the cluster, see {@link
     * StreamedHeads}) writes under its own token, so no stream ever replaces another's head.
     */
    public static String streamingHead(String cluster, WalFileName segment, long token) {
        if (token < 0) {
            throw new IllegalArgumentException("a stream's token is not negative: " + token);
        }
        return streamingPrefix(cluster) + segment.segmentName() + "." + token + ".partial";
    }

    /** The streamed head as pgvault wrote it before streams had tokens ({@code wal/streaming/{segment}.partial}): still read. */
    public static String streamingPartial(String cluster, WalFileName segment) {
        return streamingPrefix(cluster) + segment.segmentName() + ".partial";
    }

    public static String streamingPrefix(String cluster) {
        return walPrefix(cluster) + "streaming/";
    }

    public static boolean isStreamingPartial(String key) {
        return key.contains("/wal/streaming/");
    }

    public static String walIndexPrefix(String cluster) {
        return clusterPrefix(cluster) + "wal-index/";
    }

    /** Key of a segment's index ({@code WalSegmentIndex}): beside the segments, grouped the same way. */
    public static String walIndexKey(String cluster, WalFileName segment) {
        return walIndexPrefix(cluster) + segment.toString().substring(0, 16) + "/" + segment + ".json";
    }

    /** The segment a key under {@link #walIndexPrefix} indexes, if it is such a key. */
    public static Optional<WalFileName> indexedSegment(String key) {
        if (!key.endsWith(".json")) {
            return Optional.empty();
        }
        String file = key.substring(key.lastIndexOf('/') + 1, key.length() - ".json".length());
        return WalFileName.tryParse(file).filter(n -> n.kind() == WalFileName.Kind.SEGMENT);
    }

    public static String historyKey(String cluster, TimelineId timeline) {
        return walKey(cluster, WalFileName.history(timeline));
    }

    public static String backupsPrefix(String cluster) {
        return clusterPrefix(cluster) + "backups/";
    }

    /** A backup id: its start time to the second, then a random suffix. Compiled once: every piece key and file reference is checked. */
    private static final Pattern BACKUP_ID = Pattern.compile("[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}");

    /** Whether {@code name} has the form of a backup id: its start time to the second, then a random suffix. */
    public static boolean isBackupId(String name) {
        return name != null && BACKUP_ID.matcher(name).matches();
    }

    public static String backupPrefix(String cluster, String backupId) {
        if (!isBackupId(backupId)) {
            throw new IllegalArgumentException("'" + backupId + "' is not a backup id: expected e.g. 20261125T020000Z-1a2b3c");
        }
        return backupsPrefix(cluster) + backupId + "/";
    }

    /**
     * The second a backup started, from its id (the part before its random suffix). Ids of
     * backups started in the same second sort by that suffix, not by age.
     */
    public static String backupStartSecond(String backupId) {
        backupPrefix("x", backupId);
        return backupId.substring(0, backupId.lastIndexOf('-'));
    }

    /** pgvault's manifest of a backup: written last, so its presence means every piece is stored. */
    public static String backupManifest(String cluster, String backupId) {
        return backupPrefix(cluster, backupId) + "manifest.json";
    }

    /** PostgreSQL's own backup_manifest, enveloped like the pieces. */
    public static String pgBackupManifest(String cluster, String backupId) {
        return backupPrefix(cluster, backupId) + "backup_manifest";
    }

    /**
     * The backup's file index ({@code BackupFileIndex}): the SHA-256 of each file it holds, so
     * the next incremental backup on PostgreSQL 14-16 can reference an unchanged file instead of storing it.
     */
    public static String backupFileIndex(String cluster, String backupId) {
        return backupPrefix(cluster, backupId) + "files.json";
    }

    public static String backupPiece(String cluster, String backupId, String archive, int index) {
        return backupPrefix(cluster, backupId) + "pieces/" + archive + "." + String.format(java.util.Locale.ROOT, "%05d", index);
    }
}

package io.pgvault.core.repo;

import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;

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

    public static String historyKey(String cluster, TimelineId timeline) {
        return walKey(cluster, WalFileName.history(timeline));
    }

    public static String backupPrefix(String cluster, String backupId) {
        return clusterPrefix(cluster) + "backups/" + backupId + "/";
    }
}

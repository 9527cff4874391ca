package io.pgvault.core.pgproto;

/**
 * How to run {@code BASE_BACKUP}.
 *
 * @param label the backup label PostgreSQL records
 * @param fastCheckpoint request an immediate checkpoint instead of a spread one
 * @param manifest ask for PostgreSQL's {@code backup_manifest}, with CRC32C file checksums (PostgreSQL's
 *     default and the cheapest for the primary; pgvault checks every piece with its own SHA-256)
 * @param progress ask for each tablespace's size up front (PROGRESS, as {@code pg_basebackup -P}): the server
 *     walks the data directory once more before sending it, and progress can be shown against a total
 * @param incremental send only what changed since the manifest uploaded before on the same connection
 *     ({@link ReplicationConnection#uploadManifest}, PostgreSQL 17+)
 */
public record BaseBackupOptions(String label, boolean fastCheckpoint, boolean manifest, int maxRateKbPerSecond, boolean progress,
                                boolean incremental) {

    public BaseBackupOptions {
        if (label == null || label.isEmpty() || label.length() > 1000) {
            throw new IllegalArgumentException("backup label must be 1 to 1000 characters");
        }
        if (maxRateKbPerSecond != 0 && (maxRateKbPerSecond < 32 || maxRateKbPerSecond > 1048576)) {
            throw new IllegalArgumentException("backup max rate " + maxRateKbPerSecond + " kB/s is out of range: PostgreSQL accepts 32 to 1048576, or 0 for no limit");
        }
    }

    public BaseBackupOptions(String label, boolean fastCheckpoint, boolean manifest, int maxRateKbPerSecond) {
        this(label, fastCheckpoint, manifest, maxRateKbPerSecond, false, false);
    }

    public BaseBackupOptions(String label, boolean fastCheckpoint, boolean manifest) {
        this(label, fastCheckpoint, manifest, 0);
    }

    public BaseBackupOptions withProgress() {
        return new BaseBackupOptions(label, fastCheckpoint, manifest, maxRateKbPerSecond, true, incremental);
    }

    public BaseBackupOptions withIncremental(boolean incremental) {
        return new BaseBackupOptions(label, fastCheckpoint, manifest, maxRateKbPerSecond, progress, incremental);
    }

    /**
     * The replication command for a server of {@code major}: the parenthesised option list
     * from PostgreSQL 15 on, the keyword form before. WAL archiving is never waited for:
     * pgvault checks itself that all WAL of the backup is in the repository.
     */
    public String command(int major) {
        if (incremental && major < 17) {
            throw new IllegalArgumentException("PostgreSQL " + major + " has no incremental backups (they come with 17)");
        }
        String quoted = "'" + label.replace("'", "''") + "'";
        if (major >= 15) {
            return "BASE_BACKUP (LABEL " + quoted + ", CHECKPOINT '" + (fastCheckpoint ? "fast" : "spread") + "', WAIT false, "
                    + (manifest ? "MANIFEST 'yes', MANIFEST_CHECKSUMS 'CRC32C', " : "MANIFEST 'no', ")
                    + (maxRateKbPerSecond > 0 ? "MAX_RATE " + maxRateKbPerSecond + ", " : "") + (progress ? "PROGRESS true, " : "")
                    + (incremental ? "INCREMENTAL true, " : "") + "TABLESPACE_MAP true)";
        }
        return "BASE_BACKUP LABEL " + quoted + (fastCheckpoint ? " FAST" : "") + " NOWAIT"
                + (manifest ? " MANIFEST 'yes' MANIFEST_CHECKSUMS 'CRC32C'" : "")
                + (maxRateKbPerSecond > 0 ? " MAX_RATE " + maxRateKbPerSecond : "") + (progress ? " PROGRESS" : "") + " TABLESPACE_MAP";
    }
}

package io.pgvault.core.pgproto;

/**
 * How to run {@code BASE_BACKUP}.
 *
 * @param label the backup label PostgreSQL records
 * @param fastCheckpoint request an immediate checkpoint instead of a spread one
 * @param manifest ask for PostgreSQL's {@code backup_manifest} (with SHA-256 file checksums)
 */
public record BaseBackupOptions(String label, boolean fastCheckpoint, boolean manifest) {

    public BaseBackupOptions {
        if (label == null || label.isEmpty() || label.length() > 1000) {
            throw new IllegalArgumentException("backup label must be 1 to 1000 characters");
        }
    }

    /**
     * The replication command for a server of {@code major}: the parenthesised option list
     * from PostgreSQL 15 on, the keyword form before. WAL archiving is never waited for:
     * pgvault checks itself that all WAL of the backup is in the repository.
     */
    public String command(int major) {
        String quoted = "'" + label.replace("'", "''") + "'";
        if (major >= 15) {
            return "BASE_BACKUP (LABEL " + quoted + ", CHECKPOINT '" + (fastCheckpoint ? "fast" : "spread") + "', WAIT false, "
                    + (manifest ? "MANIFEST 'yes', MANIFEST_CHECKSUMS 'SHA256', " : "MANIFEST 'no', ") + "TABLESPACE_MAP true)";
        }
        return "BASE_BACKUP LABEL " + quoted + (fastCheckpoint ? " FAST" : "") + " NOWAIT"
                + (manifest ? " MANIFEST 'yes' MANIFEST_CHECKSUMS 'SHA256'" : "") + " TABLESPACE_MAP";
    }
}

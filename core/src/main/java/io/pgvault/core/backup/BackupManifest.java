package io.pgvault.core.backup;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.repo.UnsupportedFormatException;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * pgvault's record of one base backup ({@code backups/{id}/manifest.json}): where it
 * starts and ends in WAL, and every piece with its checksum. Written after the last piece,
 * so a backup without it was interrupted and is not a backup.
 *
 * @param startLsn the backup's start (from BASE_BACKUP), text form
 * @param endLsn the backup's consistency point: recovery must replay WAL at least to here
 * @param parent for an incremental backup, the backup it holds the changes since (PostgreSQL 17+), or whose unchanged
 *     files it references (14-16, {@link FileReference}); null for a full backup
 * @param finishedAt pgvault's clock when the manifest was written
 * @param pgFinishedAt PostgreSQL's clock just after the backup ended, read from the walsender of the server it was taken
 *     from: taken from a primary, every commit before {@link #endLsn} carries an earlier time by that clock, so this, not
 *     {@code finishedAt}, says whether the backup can serve a recovery target time whatever pgvault's clock says (from a
 *     standby, the primary's clock stamped them, and the planner also reads the last commit in the backup's WAL). Null when
 *     it could not be read (and for backups taken before pgvault read it); {@link #consistentBy()} then falls back to
 *     {@code finishedAt}
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record BackupManifest(
        int formatVersion,
        String backupId,
        String cluster,
        String label,
        String systemIdentifier,
        int pgMajor,
        long walSegmentSize,
        long startTimeline,
        String startLsn,
        long endTimeline,
        String endLsn,
        String startedAt,
        String finishedAt,
        String codec,
        long rawBytes,
        long storedBytes,
        List<Piece> pieces,
        String pgManifestSha256,
        Parent parent,
        String pgFinishedAt) {

    /**
     * 2: a piece may hold a range of a file ({@link FilePart}) instead of whole files only;
     * a reader of format 1 would restore such a file truncated, so it must refuse.
     * 3: an incremental backup ({@link #parent}); a reader of format 2 would restore PostgreSQL's
     * {@code INCREMENTAL.*} files as they are, so it must refuse. Full backups are still written as 2.
     * 4: an incremental backup of PostgreSQL 14-16 whose pieces may hold {@link FileReference}s; a reader
     * of format 3 would refuse them only as malformed ranges. Native incremental backups are still written as 3.
     */
    public static final int FORMAT = 4;
    static final int FULL_FORMAT = 2;
    static final int NATIVE_INCREMENTAL_FORMAT = 3;
    static final int FILE_REFERENCES_FORMAT = 4;

    /**
     * The backup an incremental one builds on: PostgreSQL sent only what changed since that
     * backup started, so a restore needs it (and its own parent, down to a full backup).
     *
     * @param startLsn where the parent started: PostgreSQL's {@code INCREMENTAL FROM LSN}
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Parent(String backupId, String startLsn, long startTimeline) {
    }

    /** Jackson reads a manifest through the canonical constructor, never the shorter one below. */
    @JsonCreator
    public BackupManifest {
    }

    /** A full backup: one without a parent. */
    public BackupManifest(int formatVersion, String backupId, String cluster, String label, String systemIdentifier, int pgMajor,
                          long walSegmentSize, long startTimeline, String startLsn, long endTimeline, String endLsn, String startedAt,
                          String finishedAt, String codec, long rawBytes, long storedBytes, List<Piece> pieces, String pgManifestSha256) {
        this(formatVersion, backupId, cluster, label, systemIdentifier, pgMajor, walSegmentSize, startTimeline, startLsn, endTimeline, endLsn,
                startedAt, finishedAt, codec, rawBytes, storedBytes, pieces, pgManifestSha256, null);
    }

    /** A backup whose PostgreSQL clock was not read. */
    public BackupManifest(int formatVersion, String backupId, String cluster, String label, String systemIdentifier, int pgMajor,
                          long walSegmentSize, long startTimeline, String startLsn, long endTimeline, String endLsn, String startedAt,
                          String finishedAt, String codec, long rawBytes, long storedBytes, List<Piece> pieces, String pgManifestSha256,
                          Parent parent) {
        this(formatVersion, backupId, cluster, label, systemIdentifier, pgMajor, walSegmentSize, startTimeline, startLsn, endTimeline, endLsn,
                startedAt, finishedAt, codec, rawBytes, storedBytes, pieces, pgManifestSha256, parent, null);
    }

    /**
     * A time by which every commit the backup needs replayed to be consistent had happened, on
     * the clock that stamped those commits when it is known ({@link #pgFinishedAt}), else on
     * pgvault's ({@link #finishedAt}, right only while the two clocks agree). A recovery to a
     * target time can start from this backup only if the target is not before it.
     */
    @JsonIgnore
    public java.time.Instant consistentBy() {
        return java.time.Instant.parse(pgFinishedAt != null ? pgFinishedAt : finishedAt);
    }

    @JsonIgnore
    public boolean isIncremental() {
        return parent != null;
    }

    /** Whether it may hold PostgreSQL's own incremental files ({@code INCREMENTAL.*}, 17+): an incremental backup that is not by file references. */
    @JsonIgnore
    public boolean holdsIncrementalFiles() {
        return parent != null && formatVersion == NATIVE_INCREMENTAL_FORMAT;
    }

    /** Whether pieces may hold {@link FileReference}s to older backups of the chain (PostgreSQL 14-16 incremental backups). */
    @JsonIgnore
    public boolean mayReferenceFiles() {
        return parent != null && formatVersion >= FILE_REFERENCES_FORMAT;
    }

    /** {@code full} or {@code incremental}, as listings show it. */
    @JsonIgnore
    public String type() {
        return parent == null ? "full" : "incremental";
    }
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * One piece: a standalone tar holding files of one archive ({@code base.tar} or a
     * tablespace's {@code <oid>.tar}), whole or, for a file larger than a piece, a range
     * of it, so pieces can be fetched and unpacked in parallel.
     *
     * @param tablespaceLocation where the tablespace lived on the source, null for the data directory
     * @param sha256 the checksum the piece's object header carries ({@link io.pgvault.core.repo.ObjectHeader#checksum()}):
     *     of its stored payload (of its raw tar in backups taken before payload checksums existed)
     * @param files the members it holds: files, directories, links and file ranges
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Piece(String archive, String tablespaceLocation, int index, String key, long rawSize, long storedSize, String sha256,
                        int files) {
    }

    public void write(ObjectStore store) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(this);
        // A body the store can send again: one SlowDown on the object that makes the backup visible must not cost the backup.
        store.put(RepositoryLayout.backupManifest(cluster, backupId), () -> new ByteArrayInputStream(bytes), bytes.length);
    }

    /** The ids of the cluster's backups that have any object in the repository, manifest or not (an interrupted one has pieces only). */
    public static SortedSet<String> idsInRepository(ObjectStore store, String cluster) throws IOException {
        String prefix = RepositoryLayout.backupsPrefix(cluster);
        SortedSet<String> ids = new TreeSet<>();
        for (ObjectStat o : store.list(prefix)) {
            ids.add(o.key().substring(prefix.length()).split("/")[0]);
        }
        return ids;
    }

    public static Optional<BackupManifest> read(ObjectStore store, String cluster, String backupId) throws IOException {
        String key = RepositoryLayout.backupManifest(cluster, backupId);
        Optional<InputStream> in = store.get(key);
        if (in.isEmpty()) {
            return Optional.empty();
        }
        BackupManifest m;
        try (InputStream stream = in.get()) {
            m = JSON.readValue(stream, BackupManifest.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new CorruptObjectException(key + " is not a readable backup manifest: " + e.getOriginalMessage(), e);
        }
        if (m.formatVersion() > FORMAT) {
            throw new UnsupportedFormatException(key + " has manifest format " + m.formatVersion() + "; this pgvault reads up to "
                    + FORMAT + ": upgrade pgvault");
        }
        m.check(cluster, backupId);
        return Optional.of(m);
    }

    /**
     * Refuses a manifest that is not what its key says or does not add up ({@link ManifestCheck}):
     * its content is untrusted input, checked before any reader acts on it.
     *
     * @throws CorruptObjectException naming what is wrong
     */
    public void check(String cluster, String backupId) throws CorruptObjectException {
        ManifestCheck.check(this, cluster, backupId);
    }
}

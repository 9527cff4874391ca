package io.pgvault.core.backup;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.util.Sha256;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A backup's file index ({@code backups/{id}/files.json}): for each file or file range of at
 * least {@link FileReference#MIN_BYTES} the backup holds, the SHA-256 of its bytes and the
 * backup whose pieces hold them (itself, or the older backup a {@link FileReference} points
 * to). The next incremental backup on PostgreSQL 14-16 reads its parent's index to decide
 * which members are unchanged; it is written before the manifest, so every backup has one.
 *
 * <p>The index only decides what a new backup references, and names the piece holding each
 * member's bytes (with the piece's checksum), which the reference then carries: a restore
 * never reads an index. It is read as untrusted input: bounded in size by what the backup
 * stores, every field checked; its checksum catches damage, and in an encrypted repository
 * it is authenticated. In an unencrypted one a bucket writer can forge it, as any backup
 * (docs/repository-format.md, "Trust").
 */
public final class BackupFileIndex {

    static final int FORMAT = 1;
    /**
     * The range size of an index that does not record one: what every pgvault cut files into
     * before the size was recorded (and before it became 4 MiB).
     */
    static final long UNRECORDED_RANGE_BYTES = 8L << 20;
    /**
     * A range is whole tar blocks, at least what a reference is worth, and at most what any
     * pgvault cut: a backup built on it holds each member in memory while it hashes it, so a
     * crafted index must not make a server hold more.
     */
    private static final long MIN_RANGE_BYTES = FileReference.MIN_BYTES;
    private static final long MAX_RANGE_BYTES = UNRECORDED_RANGE_BYTES;
    /** A member of a piece takes at least one 512-byte tar header: no backup has more entries than this many of its raw bytes. */
    private static final long BYTES_PER_ENTRY = 512;
    /** No entry's JSON is longer: names of at most 1 KiB, numbers, two ids, a checksum. */
    private static final long MAX_ENTRY_JSON = 2048;
    private static final int MAX_NAME = 1024;
    /** Read into memory whole: 1 GiB is the index of a cluster of hundreds of terabytes. */
    private static final long MAX_INDEX_BYTES = 1L << 30;
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param archive {@code base.tar} or a tablespace's {@code <oid>.tar}
     * @param name the tar member's name
     * @param offset where the bytes start in the file: 0 for a whole file, else the {@link FilePart}'s offset
     * @param length how many bytes the member holds
     * @param fileSize the whole file's size
     * @param sha256 of the member's bytes
     * @param heldBy the backup whose pieces hold the bytes
     * @param piece the key of the piece of {@code heldBy} holding them; null in indexes written before it was recorded
     * @param pieceSha256 that piece's checksum, as its backup's manifest lists it; null with {@code piece}
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Entry(String archive, String name, long offset, long length, long fileSize, String sha256, String heldBy, String piece,
                        String pieceSha256) {

        /** An entry that does not say which piece holds the bytes, as indexes before it was recorded. */
        public Entry(String archive, String name, long offset, long length, long fileSize, String sha256, String heldBy) {
            this(archive, name, offset, length, fileSize, sha256, heldBy, null, null);
        }

        Entry inPiece(String pieceSha) {
            return new Entry(archive, name, offset, length, fileSize, sha256, heldBy, piece, pieceSha);
        }

        /** The same bytes, in a file now {@code size} long: a range of a table that grew since is the same bytes. */
        Entry withFileSize(long size) {
            return new Entry(archive, name, offset, length, size, sha256, heldBy, piece, pieceSha256);
        }

        /** The reference a backup built on this index makes to these bytes: naming their piece, when this entry knows it. */
        FileReference reference() {
            return new FileReference(heldBy, offset, length, fileSize, sha256, piece, pieceSha256);
        }
    }

    /**
     * The stored document.
     *
     * @param rangeBytes the size of the ranges this backup cut large files into; null in indexes written before it was recorded
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record Document(int formatVersion, String backupId, Long rangeBytes, List<Entry> files) {
    }

    /** What makes two members the same place in a file. */
    private record Member(String archive, String name, long offset) {
    }

    private final String backupId;
    private final long rangeBytes;
    private final Map<Member, Entry> entries;
    private final String sha256;

    private BackupFileIndex(String backupId, long rangeBytes, Map<Member, Entry> entries, String sha256) {
        this.backupId = backupId;
        this.rangeBytes = rangeBytes;
        this.entries = entries;
        this.sha256 = sha256;
    }

    /** The SHA-256 of the index's JSON as read: what {@link BackupWriter#fileIndexSha256} said when it was written, unless it was changed. */
    public String sha256() {
        return sha256;
    }

    /**
     * The same index with no entry naming its piece: for an index whose origin cannot be
     * vouched for, so that a backup built on it references bytes that a restore hashes.
     */
    public BackupFileIndex withoutPieces() {
        Map<Member, Entry> plain = new HashMap<>();
        entries.forEach((m, e) -> plain.put(m, new Entry(e.archive(), e.name(), e.offset(), e.length(), e.fileSize(), e.sha256(), e.heldBy())));
        return new BackupFileIndex(backupId, rangeBytes, plain, sha256);
    }

    public String backupId() {
        return backupId;
    }

    /**
     * The size of the ranges the backup cut its large files into: a backup built on it cuts
     * the same ones, or none of its ranges would match (a chain keeps the range size of its full backup).
     */
    public long rangeBytes() {
        return rangeBytes;
    }

    public int size() {
        return entries.size();
    }

    /**
     * The entry of the same member (archive, name, offset) with the same length, if the backup has
     * one. The file's size may differ: a range of a table that grew since is the same bytes.
     */
    public Optional<Entry> find(String archive, String name, long offset, long length) {
        Entry e = entries.get(new Member(archive, name, offset));
        return e != null && e.length() == length ? Optional.of(e) : Optional.empty();
    }

    static byte[] json(String backupId, long rangeBytes, List<Entry> files) throws IOException {
        return JSON.writeValueAsBytes(new Document(FORMAT, backupId, rangeBytes, files));
    }

    /**
     * The index of {@code backup}, checked: every entry well formed, and held by a backup of {@code chain}.
     *
     * @param chain the ids of the backups of {@code backup}'s chain, itself included: what its entries may name
     * @return empty when the backup has no index (taken by a pgvault without file references)
     * @throws CorruptObjectException naming the index and what is wrong with it
     */
    public static Optional<BackupFileIndex> read(ObjectStore store, BackupManifest backup, Set<String> chain) throws IOException {
        String key = RepositoryLayout.backupFileIndex(backup.cluster(), backup.backupId());
        Optional<InputStream> stored = store.get(key);
        if (stored.isEmpty()) {
            return Optional.empty();
        }
        long maxEntries = backup.rawBytes() / BYTES_PER_ENTRY + 1;
        long maxBytes = Math.min(MAX_INDEX_BYTES, 4096 + maxEntries * MAX_ENTRY_JSON);
        Document document;
        String sha256;
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, stored.get()); InputStream content = opened.content()) {
            if (opened.header().rawSize() > maxBytes) {
                throw new CorruptObjectException(key + " is " + opened.header().rawSize() + " bytes, more than the index of a backup of "
                        + backup.rawBytes() + " bytes can be: refused (the repository's content is damaged or was crafted)");
            }
            byte[] bytes = content.readNBytes((int) maxBytes + 1);
            if (bytes.length > maxBytes) {
                throw new CorruptObjectException(key + " is longer than its header says: refused");
            }
            // To the end, so the payload's checksum is checked before the index is used.
            content.transferTo(java.io.OutputStream.nullOutputStream());
            document = JSON.readValue(bytes, Document.class);
            sha256 = Sha256.of(bytes);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new CorruptObjectException(key + " is not a readable file index: " + e.getOriginalMessage(), e);
        }
        return Optional.of(check(key, backup, chain, document, maxEntries, sha256));
    }

    private static BackupFileIndex check(String key, BackupManifest backup, Set<String> chain, Document d, long maxEntries, String sha256)
            throws CorruptObjectException {
        if (d.formatVersion() != FORMAT) {
            throw new CorruptObjectException(key + " has index format " + d.formatVersion() + "; this pgvault reads " + FORMAT
                    + ": take a full backup (or upgrade pgvault)");
        }
        if (!backup.backupId().equals(d.backupId()) || d.files() == null) {
            throw new CorruptObjectException(key + " names backup " + d.backupId() + " or lists no files: refused (an index copied from "
                    + "elsewhere, or damaged)");
        }
        long rangeBytes = d.rangeBytes() == null ? UNRECORDED_RANGE_BYTES : d.rangeBytes();
        if (rangeBytes < MIN_RANGE_BYTES || rangeBytes > MAX_RANGE_BYTES || rangeBytes % 512 != 0) {
            throw new CorruptObjectException(key + " records ranges of " + rangeBytes + " bytes; expected whole 512-byte blocks from "
                    + MIN_RANGE_BYTES + " to " + MAX_RANGE_BYTES + ": refused (the repository's content is damaged or was crafted); "
                    + "take a full backup");
        }
        if (d.files().size() > maxEntries) {
            throw new CorruptObjectException(key + " lists " + d.files().size() + " files, more than backup " + backup.backupId()
                    + " can hold: refused (the repository's content is damaged or was crafted)");
        }
        Map<Member, Entry> entries = new HashMap<>();
        for (Entry e : d.files()) {
            String why = problem(e, backup, chain);
            if (why == null && entries.put(new Member(e.archive(), e.name(), e.offset()), e) != null) {
                why = "it is listed twice";
            }
            if (why != null) {
                throw new CorruptObjectException(key + ": the entry of " + (e == null ? "?" : e.archive() + ":" + e.name() + " at " + e.offset())
                        + " is refused: " + why + " (the repository's content is damaged or was crafted); take a full backup");
            }
        }
        return new BackupFileIndex(d.backupId(), rangeBytes, entries, sha256);
    }

    private static String problem(Entry e, BackupManifest backup, Set<String> chain) {
        if (e == null || e.archive() == null || e.name() == null) {
            return "a field is missing";
        }
        if (!ManifestCheck.ARCHIVE.matcher(e.archive()).matches()) {
            return "'" + e.archive() + "' is not an archive name";
        }
        if (e.name().length() > MAX_NAME) {
            return "the name is longer than " + MAX_NAME;
        }
        try {
            ConfinedDirectory.relative(e.name(), e.archive());
        } catch (CorruptObjectException bad) {
            return "the name is not a relative file name";
        }
        if (e.offset() < 0 || e.length() < 0 || e.fileSize() < 0) {
            return "negative offset, length or size";
        }
        if (e.offset() > e.fileSize() - e.length()) {
            return "the bytes end beyond the file";
        }
        if (e.sha256() == null || !SHA256.matcher(e.sha256()).matches()) {
            return "'" + e.sha256() + "' is not a SHA-256";
        }
        if (e.heldBy() == null || !RepositoryLayout.isBackupId(e.heldBy())) {
            return "'" + e.heldBy() + "' is not a backup id";
        }
        // The chain was checked link by link (start LSNs): ids of backups of the same second do not sort by age.
        if (!chain.contains(e.heldBy())) {
            return "it is held by backup " + e.heldBy() + ", which is not " + backup.backupId() + " or a backup it builds on";
        }
        if ((e.piece() == null) != (e.pieceSha256() == null)) {
            return "it names " + (e.piece() == null ? "a piece checksum but no piece" : "a piece but no piece checksum");
        }
        if (e.piece() != null && !e.piece().matches(Pattern.quote(RepositoryLayout.backupPrefix(backup.cluster(), e.heldBy()) + "pieces/"
                + e.archive() + ".") + "[0-9]{5}")) {
            return "'" + e.piece() + "' is not a piece of " + e.archive() + " of backup " + e.heldBy();
        }
        if (e.pieceSha256() != null && !SHA256.matcher(e.pieceSha256()).matches()) {
            return "'" + e.pieceSha256() + "' is not a SHA-256";
        }
        return null;
    }

    /** For a new backup's own index: its entries in a stable order. */
    static List<Entry> sorted(List<Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(java.util.Comparator.comparing(Entry::archive).thenComparing(Entry::name).thenComparingLong(Entry::offset));
        return sorted;
    }
}

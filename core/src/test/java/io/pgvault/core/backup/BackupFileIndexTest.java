package io.pgvault.core.backup;

import io.pgvault.core.compress.ZstdCodec;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A backup's file index is read back as untrusted input: every field checked, its size bounded by the backup's. */
class BackupFileIndexTest {

    private static final String FULL = "20261205T010000Z-aaaaaa";
    private static final String INC = "20261205T020000Z-bbbbbb";
    private static final String SHA = "ab".repeat(32);

    @TempDir
    Path temp;

    private static BackupManifest backup(String id, long rawBytes) {
        return new BackupManifest(4, id, "main", id, "1", 15, 16 << 20, 1, "0/2000028", 1, "0/2000100", "t", "t", "zstd", rawBytes,
                rawBytes, List.of(), null, null);
    }

    private void storeIndex(ObjectStore store, String id, String json) throws Exception {
        Path file = temp.resolve("payload-" + System.nanoTime());
        try (OutputStream out = new ZstdCodec(1).compress(Files.newOutputStream(file))) {
            out.write(json.getBytes(StandardCharsets.UTF_8));
        }
        ObjectEnvelope.store(store, RepositoryLayout.backupFileIndex("main", id), new ObjectHeader("backup-file-index", "files.json",
                json.length(), sha(json), "zstd", null, null, 0, 0, "test", "t", null), file, false);
    }

    private static String sha(String text) {
        java.security.MessageDigest digest = io.pgvault.core.util.Sha256.newDigest();
        digest.update(text.getBytes(StandardCharsets.UTF_8));
        return io.pgvault.core.util.Sha256.hex(digest);
    }

    private static String entry(String archive, String name, long offset, long length, long fileSize, String sha, String heldBy) {
        return "{\"archive\":\"" + archive + "\",\"name\":\"" + name + "\",\"offset\":" + offset + ",\"length\":" + length + ",\"fileSize\":"
                + fileSize + ",\"sha256\":\"" + sha + "\",\"heldBy\":\"" + heldBy + "\"}";
    }

    /** An entry naming the piece that holds its bytes, and that piece's checksum. */
    private static String inPiece(String entry, String piece, String pieceSha) {
        return entry.substring(0, entry.length() - 1) + (piece == null ? "" : ",\"piece\":\"" + piece + "\"")
                + (pieceSha == null ? "" : ",\"pieceSha256\":\"" + pieceSha + "\"") + "}";
    }

    private static String document(String id, String... entries) {
        return "{\"formatVersion\":1,\"backupId\":\"" + id + "\",\"files\":[" + String.join(",", entries) + "]}";
    }

    @Test
    void aWellFormedIndexIsFound() throws Exception {
        try (ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            storeIndex(store, INC, document(INC, entry("base.tar", "base/5/16384", 0, 65536, 65536, SHA, FULL),
                    entry("16400.tar", "PG_15_202209061/5/16390", 262144, 262144, 600000, SHA, INC)));
            BackupFileIndex index = BackupFileIndex.read(store, backup(INC, 1 << 20), Set.of(INC, FULL)).orElseThrow();
            assertThat(index.size()).isEqualTo(2);
            assertThat(index.find("base.tar", "base/5/16384", 0, 65536)).map(BackupFileIndex.Entry::heldBy).contains(FULL);
            assertThat(index.find("base.tar", "base/5/16384", 0, 8192)).as("another length is another member").isEmpty();
            assertThat(index.find("16400.tar", "PG_15_202209061/5/16390", 0, 262144)).isEmpty();
            assertThat(BackupFileIndex.read(store, backup(FULL, 1 << 20), Set.of(FULL))).as("a backup without an index").isEmpty();
            assertThat(index.find("base.tar", "base/5/16384", 0, 65536).orElseThrow().reference().pinned())
                    .as("an entry from before pieces were recorded makes a reference that names none").isFalse();

            String piece = RepositoryLayout.backupPiece("main", FULL, "base.tar", 3);
            storeIndex(store, INC, document(INC, inPiece(entry("base.tar", "base/5/16384", 0, 65536, 65536, SHA, FULL), piece, "cd".repeat(32))));
            FileReference ref = BackupFileIndex.read(store, backup(INC, 1 << 20), Set.of(INC, FULL)).orElseThrow()
                    .find("base.tar", "base/5/16384", 0, 65536).orElseThrow().reference();
            assertThat(ref.pinned()).isTrue();
            assertThat(ref.piece()).isEqualTo(piece);
            assertThat(ref.pieceSha256()).isEqualTo("cd".repeat(32));
        }
    }

    /**
     * Two backups started in the same second have ids that sort by their random suffixes, not
     * by age: an entry held by the parent is the chain's whichever way the ids sort (a
     * chain of file references was once refused here as damaged).
     */
    @Test
    void anEntryHeldByAParentOfTheSameSecondIsFound() throws Exception {
        String parent = "20261205T010000Z-ffffff";
        String child = "20261205T010000Z-000000";
        try (ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            storeIndex(store, child, document(child, entry("base.tar", "base/5/16384", 0, 65536, 65536, SHA, parent)));
            assertThat(BackupFileIndex.read(store, backup(child, 1 << 20), Set.of(child, parent)).orElseThrow()
                    .find("base.tar", "base/5/16384", 0, 65536)).map(BackupFileIndex.Entry::heldBy).contains(parent);
            assertThatThrownBy(() -> BackupFileIndex.read(store, backup(child, 1 << 20), Set.of(child)))
                    .as("held by a backup outside the chain").isInstanceOf(CorruptObjectException.class).hasMessageContaining(parent);
        }
    }

    @Test
    void theRangeSizeIsReadAndAnIndexWithoutOneIsAnOlderPgvaultsEightMebibytes() throws Exception {
        try (ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            String entry = entry("base.tar", "base/5/16384", 0, 65536, 65536, SHA, FULL);
            storeIndex(store, INC, document(INC, entry));
            assertThat(BackupFileIndex.read(store, backup(INC, 1 << 20), Set.of(INC, FULL)).orElseThrow().rangeBytes()).isEqualTo(8L << 20);
            storeIndex(store, INC, document(INC, entry).replace("\"files\"", "\"rangeBytes\":2097152,\"files\""));
            assertThat(BackupFileIndex.read(store, backup(INC, 1 << 20), Set.of(INC, FULL)).orElseThrow().rangeBytes()).isEqualTo(2L << 20);
            // A range is held in memory while it is hashed: a crafted size must not make the next backup hold a gigabyte per file.
            for (String crafted : List.of("1073741824", "16777216", "1000000", "0", "-4096")) {
                storeIndex(store, INC, document(INC, entry).replace("\"files\"", "\"rangeBytes\":" + crafted + ",\"files\""));
                assertThatThrownBy(() -> BackupFileIndex.read(store, backup(INC, 1 << 20), Set.of(INC, FULL)))
                        .as(crafted).isInstanceOf(CorruptObjectException.class).hasMessageContaining("records ranges of " + crafted + " bytes");
            }
        }
    }

    @Test
    void aCraftedIndexIsRefused() throws Exception {
        List<String[]> cases = List.of(
                new String[] {entry("base.tar", "../../etc/passwd", 0, 65536, 65536, SHA, FULL), "not a relative file name"},
                new String[] {entry("evil.tar", "base/5/1", 0, 65536, 65536, SHA, FULL), "not an archive name"},
                new String[] {entry("base.tar", "base/5/1", -1, 65536, 65536, SHA, FULL), "negative"},
                new String[] {entry("base.tar", "base/5/1", 8192, 65536, 65536, SHA, FULL), "beyond the file"},
                new String[] {entry("base.tar", "base/5/1", 0, 65536, 65536, "xyz", FULL), "not a SHA-256"},
                new String[] {entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, "../x"), "not a backup id"},
                new String[] {entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, "20261204T000000Z-cccccc"), "not " + INC + " or a backup"},
                new String[] {entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, FULL) + "," + entry("base.tar", "base/5/1", 0, 65536, 65536,
                        SHA, FULL), "listed twice"},
                // The piece named must be one of the backup holding the bytes: a reference built on it is satisfied by that piece alone.
                new String[] {inPiece(entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, FULL),
                        RepositoryLayout.backupPiece("main", INC, "base.tar", 0), SHA), "is not a piece of base.tar of backup " + FULL},
                new String[] {inPiece(entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, FULL),
                        RepositoryLayout.backupPiece("other", FULL, "base.tar", 0), SHA), "is not a piece of base.tar of backup " + FULL},
                new String[] {inPiece(entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, FULL),
                        RepositoryLayout.backupPiece("main", FULL, "16400.tar", 0), SHA), "is not a piece of base.tar of backup " + FULL},
                new String[] {inPiece(entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, FULL),
                        RepositoryLayout.backupPrefix("main", FULL) + "pieces/../x", SHA), "is not a piece of base.tar of backup " + FULL},
                new String[] {inPiece(entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, FULL),
                        RepositoryLayout.backupPiece("main", FULL, "base.tar", 0), null), "a piece but no piece checksum"},
                new String[] {inPiece(entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, FULL), null, SHA), "a piece checksum but no piece"},
                new String[] {inPiece(entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, FULL),
                        RepositoryLayout.backupPiece("main", FULL, "base.tar", 0), "xyz"), "'xyz' is not a SHA-256"});
        try (ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            for (String[] c : cases) {
                storeIndex(store, INC, document(INC, c[0]));
                assertThatThrownBy(() -> BackupFileIndex.read(store, backup(INC, 1 << 20), Set.of(INC, FULL)))
                        .as(c[1]).isInstanceOf(CorruptObjectException.class).hasMessageContaining(c[1]);
            }
            storeIndex(store, INC, document(FULL, entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, FULL)));
            assertThatThrownBy(() -> BackupFileIndex.read(store, backup(INC, 1 << 20), Set.of(INC, FULL)))
                    .isInstanceOf(CorruptObjectException.class).hasMessageContaining("names backup " + FULL);
            // More entries than a backup of that size can hold members.
            storeIndex(store, INC, document(INC, entry("base.tar", "base/5/1", 0, 65536, 65536, SHA, FULL),
                    entry("base.tar", "base/5/2", 0, 65536, 65536, SHA, FULL), entry("base.tar", "base/5/3", 0, 65536, 65536, SHA, FULL)));
            assertThatThrownBy(() -> BackupFileIndex.read(store, backup(INC, 600), Set.of(INC, FULL)))
                    .isInstanceOf(CorruptObjectException.class).hasMessageContaining("refused");
        }
    }
}

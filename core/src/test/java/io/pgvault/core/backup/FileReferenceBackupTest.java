package io.pgvault.core.backup;

import io.pgvault.core.compress.ZstdCodec;
import io.pgvault.core.pgproto.BaseBackupOptions;
import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Incremental backups of PostgreSQL 14-16 by file references: a full backup, then two
 * incremental ones that reference the files (and ranges of files) unchanged since their
 * parent, with updates, inserts, a new table and a dropped table between them. A file
 * changed in place (same size) is stored, never referenced. The chain restores to exactly
 * the rows committed at a restore point after the newest backup; a reference naming a backup
 * outside the chain, bytes beyond its file, or bytes the older backup does not hold is refused.
 */
class FileReferenceBackupTest {

    private static final int MAJOR = 15;
    private static final String ROWS = "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM ("
            + "SELECT 'u' || id || v AS t FROM unchanged_rows UNION ALL SELECT 'p' || id || v FROM updated_rows UNION ALL "
            + "SELECT 'i' || id || v FROM inplace_rows UNION ALL SELECT 'g' || id || v FROM growing_rows) all_rows";
    private static final String CREATED_LATER = "SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM created_later";

    @TempDir
    Path temp;

    /** One stored member of a backup: its size, and the reference it is, if it is one. */
    private record Member(String name, long offset, long size, Optional<FileReference> reference) {
    }

    private static BackupManifest backup(PgCluster pg, ObjectStore store, String id, List<BackupManifest> parentChain, Path spool)
            throws Exception {
        try (ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres"),
                "pgvault")) {
            String sysid = rc.identifySystem().systemIdentifier();
            // Small pieces: the larger relation files are stored in ranges, and a range can be referenced alone.
            BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), "main", id, spool, 256 * 1024, "test", Clock.systemUTC());
            BackupManifest parent = parentChain == null ? null : parentChain.get(0);
            if (parent != null) {
                Set<String> ids = new HashSet<>();
                parentChain.forEach(b -> ids.add(b.backupId()));
                writer.referenceUnchangedFiles(BackupFileIndex.read(store, parent, ids).orElseThrow());
            }
            ReplicationConnection.BaseBackupResult result = rc.baseBackup(new BaseBackupOptions(id, true, true), writer);
            return writer.finish(id, sysid, pg.major(), 16 << 20, result.end(), result.endTimeline(),
                    parent == null ? null : new BackupManifest.Parent(parent.backupId(), parent.startLsn(), parent.startTimeline()));
        }
    }

    private static List<Member> members(ObjectStore store, BackupManifest backup) throws Exception {
        List<Member> members = new ArrayList<>();
        for (BackupManifest.Piece piece : backup.pieces()) {
            try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(piece.key(), store.get(piece.key()).orElseThrow());
                 TarArchiveInputStream tar = new TarArchiveInputStream(opened.content())) {
                for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                    Optional<FileReference> ref = FileReference.isReference(e) ? Optional.of(FileReference.of(e, piece.key(), Long.MAX_VALUE))
                            : Optional.empty();
                    long offset = ref.isPresent() ? ref.get().offset() : FilePart.of(e, piece.key(), Long.MAX_VALUE).map(FilePart::offset).orElse(0L);
                    members.add(new Member(e.getName(), offset, e.getSize(), ref));
                }
            }
        }
        return members;
    }

    private static List<Member> of(List<Member> members, String file) {
        return members.stream().filter(m -> m.name().equals(file)).toList();
    }

    @Test
    void unchangedFilesAreReferencedAndTheChainRestores() throws Exception {
        Path archive = Files.createTempDirectory("pgvault-wal-");
        Files.setPosixFilePermissions(archive, PosixFilePermissions.fromString("rwx------"));
        OsUser.own(archive);
        try (PgCluster pg = PgCluster.builder(MAJOR)
                .setting("archive_mode", "on")
                .setting("archive_command", "cp %p " + archive + "/%f")
                // No background rewrites of unchanged tables' pages (hint bits, pruning) between the backups.
                .setting("autovacuum", "off")
                .start();
             ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            pg.execute("CREATE TABLE unchanged_rows (id int primary key, v text)",
                    "CREATE TABLE updated_rows (id int primary key, v text)",
                    // Room in every page: an update of a row stays in its page, and the file keeps its size.
                    "CREATE TABLE inplace_rows (id int primary key, v text) WITH (fillfactor = 50)",
                    "CREATE TABLE growing_rows (id int primary key, v text)",
                    "CREATE TABLE dropped_later (id int, v text)",
                    "INSERT INTO unchanged_rows SELECT g, md5(g::text) FROM generate_series(1, 40000) g",
                    "INSERT INTO updated_rows SELECT g, md5(g::text) FROM generate_series(1, 40000) g",
                    "INSERT INTO inplace_rows SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 1500) g",
                    "INSERT INTO growing_rows SELECT g, md5(g::text) FROM generate_series(1, 5000) g",
                    "INSERT INTO dropped_later SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
            pg.execute("VACUUM FREEZE");
            pg.execute("CHECKPOINT");
            String unchangedFile = pg.queryValue("SELECT pg_relation_filepath('unchanged_rows')");
            String updatedFile = pg.queryValue("SELECT pg_relation_filepath('updated_rows')");
            String inplaceFile = pg.queryValue("SELECT pg_relation_filepath('inplace_rows')");
            String droppedFile = pg.queryValue("SELECT pg_relation_filepath('dropped_later')");
            Path spool = temp.resolve("spool");

            BackupManifest full = backup(pg, store, "20261205T010000Z-aaaaaa", null, spool);
            pg.execute("UPDATE updated_rows SET v = 'one' WHERE id <= 300",
                    "UPDATE inplace_rows SET v = 'changed in place' WHERE id = 700",
                    "INSERT INTO growing_rows SELECT g, 'new' FROM generate_series(5001, 6000) g",
                    "DROP TABLE dropped_later");
            pg.execute("CHECKPOINT");
            BackupManifest first = backup(pg, store, "20261205T020000Z-bbbbbb", List.of(full), spool);

            pg.execute("UPDATE updated_rows SET v = 'two' WHERE id > 39700",
                    "CREATE TABLE created_later (id int, v text)",
                    "INSERT INTO created_later SELECT g, md5(g::text) FROM generate_series(1, 3000) g");
            pg.execute("CHECKPOINT");
            BackupManifest second = backup(pg, store, "20261205T030000Z-cccccc", List.of(first, full), spool);
            pg.execute("UPDATE growing_rows SET v = 'three' WHERE id < 50");
            pg.execute("SELECT pg_create_restore_point('after_second')");
            String expected = pg.queryValue(ROWS) + " " + pg.queryValue(CREATED_LATER);
            pg.queryValue("SELECT pg_switch_wal()");
            pg.execute("CHECKPOINT");

            assertThat(full.formatVersion()).isEqualTo(2);
            assertThat(first.formatVersion()).isEqualTo(4);
            assertThat(first.mayReferenceFiles()).isTrue();
            assertThat(BackupManifest.read(store, "main", second.backupId())).contains(second);
            assertThat(first.storedBytes()).as("the first incremental stores far less than the full").isLessThan(full.storedBytes() / 3);
            assertThat(second.storedBytes()).as("the second incremental stores far less than the full").isLessThan(full.storedBytes() / 3);

            List<Member> fullMembers = members(store, full);
            List<Member> firstMembers = members(store, first);
            List<Member> secondMembers = members(store, second);
            assertThat(of(firstMembers, unchangedFile)).isNotEmpty().allSatisfy(m -> {
                assertThat(m.reference()).as("an unchanged file is referenced").isPresent();
                assertThat(m.reference().get().heldBy()).isEqualTo(full.backupId());
                assertThat(m.size()).isZero();
            });
            assertThat(of(secondMembers, unchangedFile)).isNotEmpty().allSatisfy(m -> assertThat(m.reference().get().heldBy())
                    .as("a reference names the backup holding the bytes, never another reference").isEqualTo(full.backupId()));
            // ... and the piece of it that holds them, with that piece's checksum, so a restore need not hash the bytes again.
            Map<String, String> fullPieces = new java.util.HashMap<>();
            full.pieces().forEach(p -> fullPieces.put(p.key(), p.sha256()));
            assertThat(secondMembers).filteredOn(m -> m.reference().isPresent()).isNotEmpty().allSatisfy(m -> {
                FileReference ref = m.reference().get();
                assertThat(ref.pinned()).isTrue();
                BackupManifest holder = ref.heldBy().equals(full.backupId()) ? full : first;
                assertThat(holder.pieces()).as(m.name()).anyMatch(p -> p.key().equals(ref.piece()) && p.sha256().equals(ref.pieceSha256()));
            });
            assertThat(fullPieces).containsKey(of(secondMembers, unchangedFile).get(0).reference().get().piece());
            // A row updated in its page: the file keeps its size and changed, so it is stored, never skipped.
            assertThat(of(firstMembers, inplaceFile).stream().mapToLong(m -> m.reference().map(FileReference::length).orElse(m.size())).sum())
                    .isEqualTo(of(fullMembers, inplaceFile).stream().mapToLong(Member::size).sum());
            assertThat(of(firstMembers, inplaceFile)).as("the file changed in place").anyMatch(m -> m.reference().isEmpty() && m.size() > 0);
            // A large file of which a few pages changed: its changed ranges are stored, the others referenced.
            assertThat(of(firstMembers, updatedFile)).anyMatch(m -> m.reference().isPresent()).anyMatch(m -> m.reference().isEmpty());
            assertThat(of(secondMembers, updatedFile)).anyMatch(m -> m.reference().map(r -> r.heldBy().equals(first.backupId())).orElse(false))
                    .anyMatch(m -> m.reference().map(r -> r.heldBy().equals(full.backupId())).orElse(false))
                    .anyMatch(m -> m.reference().isEmpty());

            pg.awaitCurrentSegmentArchived();
            List<BackupManifest> chain = BackupChain.of(second, id -> Optional.of(id.equals(full.backupId()) ? full : first));
            assertThat(chain).containsExactly(second, first, full);
            try (PgCluster restored = PgCluster.builder(MAJOR)
                    .setting("archive_mode", "off")
                    .setting("restore_command", "cp " + archive + "/%f %p")
                    .setting("recovery_target_name", "after_second")
                    .setting("recovery_target_action", "promote")
                    .adopt(data -> {
                        new BackupRestorer(store, 3).restore(chain, data, TablespacePlan.of(second, Map.of(), data), n -> { });
                        assertThat(data.resolve(droppedFile)).as("a file the newest backup does not hold is not restored").doesNotExist();
                        assertThat(Files.size(data.resolve(unchangedFile))).isEqualTo(of(fullMembers, unchangedFile).stream()
                                .mapToLong(Member::size).sum());
                    })) {
                restored.touch("recovery.signal");
                restored.start();
                restored.awaitRecoveryEnd(Duration.ofMinutes(2));
                assertThat(restored.queryValue(ROWS) + " " + restored.queryValue(CREATED_LATER)).as("rows at after_second").isEqualTo(expected);
                assertThat(restored.queryValue("SELECT count(*) FROM pg_class WHERE relname = 'dropped_later'")).isEqualTo("0");
            }

            // Crafted references on top of the chain: each is refused, naming what is wrong.
            FileReference real = of(secondMembers, unchangedFile).get(0).reference().orElseThrow();
            BackupManifest outside = crafted(store, "20261205T040000Z-dddddd", second, unchangedFile,
                    new FileReference("20261204T000000Z-eeeeee", real.offset(), real.length(), real.fileSize(), real.sha256()));
            assertRefused(store, outside, List.of(outside, second, first, full), "not in the chain being restored");
            BackupManifest beyond = crafted(store, "20261205T050000Z-dddddd", second, unchangedFile,
                    new FileReference(full.backupId(), real.fileSize(), real.length(), real.fileSize(), real.sha256()));
            assertRefused(store, beyond, List.of(beyond, second, first, full), "the bytes end beyond the file");
            // A whole file the chain holds, referenced with other bytes than the full backup has, by a reference that names no
            // piece (as before pieces were recorded): its bytes are hashed as they are copied.
            Member whole = secondMembers.stream().filter(m -> m.reference().map(r -> r.offset() == 0 && r.length() == r.fileSize()
                    && r.heldBy().equals(full.backupId())).orElse(false)).findFirst().orElseThrow();
            FileReference wholeRef = whole.reference().get();
            BackupManifest otherBytes = crafted(store, "20261205T060000Z-dddddd", second, whole.name(),
                    new FileReference(full.backupId(), 0, wholeRef.length(), wholeRef.fileSize(), "0".repeat(64)));
            assertRefused(store, otherBytes, List.of(otherBytes, second, first, full), "but the newest backup references the bytes 0 to");
            // Pinned to another piece of the full backup, or to the right piece with another checksum: refused.
            String otherPiece = full.pieces().stream().map(BackupManifest.Piece::key).filter(k -> !k.equals(wholeRef.piece())).findFirst()
                    .orElseThrow();
            BackupManifest wrongPiece = crafted(store, "20261205T071000Z-dddddd", second, whole.name(), new FileReference(full.backupId(), 0,
                    wholeRef.length(), wholeRef.fileSize(), wholeRef.sha256(), otherPiece, fullPieces.get(otherPiece)));
            assertRefused(store, wrongPiece, List.of(wrongPiece, second, first, full), "but the newest backup references them in " + otherPiece);
            assertThat(new BackupRestorer(store, 2).verify(wrongPiece, List.of(wrongPiece, second, first, full), n -> { }))
                    .as("a genuine piece of the full backup with its own checksum: only a restore, reading it, finds the bytes elsewhere")
                    .isEmpty();
            BackupManifest wrongChecksum = crafted(store, "20261205T072000Z-dddddd", second, whole.name(), new FileReference(full.backupId(), 0,
                    wholeRef.length(), wholeRef.fileSize(), wholeRef.sha256(), wholeRef.piece(), "0".repeat(64)));
            assertRefused(store, wrongChecksum, List.of(wrongChecksum, second, first, full), "with SHA-256 " + "0".repeat(64));
            assertThat(new BackupRestorer(store, 2).verify(wrongChecksum, List.of(wrongChecksum, second, first, full), n -> { }))
                    .singleElement().asString().contains("references its bytes in " + wholeRef.piece() + " with SHA-256 " + "0".repeat(64))
                    .contains("is not the same or not of backup " + full.backupId()).contains("the chain is damaged");
            assertThat(new BackupRestorer(store, 2).verify(second, List.of(second, first, full), n -> { })).as("the real chain").isEmpty();
            BackupManifest badKey = crafted(store, "20261205T073000Z-dddddd", second, whole.name(), new FileReference(full.backupId(), 0,
                    wholeRef.length(), wholeRef.fileSize(), wholeRef.sha256(), wholeRef.piece() + "/../x\n", wholeRef.pieceSha256()));
            assertRefused(store, badKey, List.of(badKey, second, first, full), "is not a piece key");
            BackupManifest missing = crafted(store, "20261205T070000Z-dddddd", second, "base/1/999999",
                    new FileReference(first.backupId(), 0, real.length(), real.length(), real.sha256()));
            assertRefused(store, missing, List.of(missing, second, first, full), "does not hold them: the chain is damaged");
            BackupManifest fullWithReference = crafted(store, "20261205T080000Z-dddddd", null, unchangedFile, real);
            assertRefused(store, fullWithReference, List.of(fullWithReference), "is a file reference, which only an incremental backup");
        } finally {
            io.pgvault.testkit.Fixtures.deleteTree(archive);
        }
    }

    @Test
    void anIncrementalBackupCutsTheRangesOfItsChainsFullBackup() throws Exception {
        byte[] data = new byte[10 << 20];
        new java.util.Random(7).nextBytes(data);
        try (ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            // The full backup's pieces were 3000000 bytes, so it cut ranges of 2999808 (whole tar blocks); 16 MiB pieces alone
            // would cut 4 MiB ones, none of which its index holds: the whole file would be stored again (as after an upgrade
            // from 8 MiB ranges).
            BackupManifest full = synthetic(store, "20261205T010000Z-aaaaaa", null, 3_000_000, data);
            assertThat(BackupFileIndex.read(store, full, Set.of(full.backupId())).orElseThrow().rangeBytes()).isEqualTo(2_999_808L);
            BackupManifest incremental = synthetic(store, "20261205T020000Z-bbbbbb", full, 16 << 20, data);
            List<Member> file = of(members(store, incremental), "base/5/16384");
            assertThat(file).hasSize(4).allMatch(m -> m.reference().map(r -> r.heldBy().equals(full.backupId())).orElse(false));
            assertThat(file).extracting(m -> m.reference().orElseThrow().length()).containsExactly(2_999_808L, 2_999_808L, 2_999_808L,
                    (long) data.length - 3 * 2_999_808L);
            assertThat(BackupFileIndex.read(store, incremental, Set.of(full.backupId(), incremental.backupId())).orElseThrow().rangeBytes())
                    .as("and its own index says so, for the next one").isEqualTo(2_999_808L);
            Path target = temp.resolve("restored");
            new BackupRestorer(store, 2).restore(List.of(incremental, full), target, TablespacePlan.of(incremental, Map.of(), target), n -> { });
            assertThat(Files.mismatch(target.resolve("base/5/16384"), writeTemp(data))).isEqualTo(-1);
        }
    }

    @Test
    void aParentsTinyRangesDoNotMakeAnIncrementalCutTinyOnes() throws Exception {
        byte[] data = new byte[3 << 20];
        new java.util.Random(11).nextBytes(data);
        try (ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            // 256 KiB ranges (as a crafted index could claim 64 KiB): an incremental with large pieces cuts 1 MiB ranges at the
            // least, so an index cannot make the server keep an entry per 64 KiB of a cluster. It references nothing here.
            BackupManifest full = synthetic(store, "20261205T010000Z-aaaaaa", null, 256 << 10, data);
            BackupManifest incremental = synthetic(store, "20261205T020000Z-bbbbbb", full, 16 << 20, data);
            assertThat(BackupFileIndex.read(store, incremental, Set.of(full.backupId(), incremental.backupId())).orElseThrow().rangeBytes())
                    .isEqualTo(1L << 20);
            assertThat(of(members(store, incremental), "base/5/16384")).hasSize(3).allMatch(m -> m.reference().isEmpty());
        }
    }

    private Path writeTemp(byte[] data) throws Exception {
        return Files.write(temp.resolve("expected-" + System.nanoTime()), data);
    }

    /** A backup of one file, {@code base/5/16384}, holding {@code data}; incremental on {@code parent} unless it is null. */
    private BackupManifest synthetic(ObjectStore store, String id, BackupManifest parent, long pieceBytes, byte[] data) throws Exception {
        BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), "main", id, temp.resolve("spool"), pieceBytes, "test", Clock.systemUTC());
        // As the server calls it: with no index for a full backup.
        writer.referenceUnchangedFiles(parent == null ? null : BackupFileIndex.read(store, parent, Set.of(parent.backupId())).orElseThrow());
        Lsn at = Lsn.parse(parent == null ? "0/9000000" : "0/A000000");
        writer.started(at, TimelineId.FIRST);
        io.pgvault.testkit.Fixtures.oneFileBackup(writer, "base/5/16384", data);
        return writer.finish(id, "1", MAJOR, 16 << 20, at, TimelineId.FIRST,
                parent == null ? null : new BackupManifest.Parent(parent.backupId(), parent.startLsn(), parent.startTimeline()));
    }

    /** An incremental backup on {@code parent} (a full backup if null) whose one piece holds nothing but {@code reference} as {@code name}. */
    private BackupManifest crafted(ObjectStore store, String id, BackupManifest parent, String name, FileReference reference) throws Exception {
        BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), "main", id, temp.resolve("spool"), 256 * 1024, "test", Clock.systemUTC());
        if (parent != null) {
            Set<String> ids = Set.of(parent.backupId(), parent.parent().backupId(), "20261205T010000Z-aaaaaa");
            writer.referenceUnchangedFiles(BackupFileIndex.read(store, parent, ids).orElseThrow());
        }
        Lsn at = Lsn.parse(parent == null ? "0/9000000" : parent.endLsn());
        writer.started(at, TimelineId.FIRST);
        TarArchiveEntry file = new TarArchiveEntry(name);
        file.setMode(0600);
        byte[] header = new byte[512];
        file.writeEntryHeader(header);
        try (OutputStream out = writer.archive("base.tar", Optional.empty())) {
            out.write(reference.headers(header));
            out.write(new byte[1024]);
        }
        try (OutputStream manifest = writer.manifest()) {
            manifest.write("{}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        return writer.finish(id, parent == null ? "1" : parent.systemIdentifier(), MAJOR, 16 << 20, at, TimelineId.FIRST,
                parent == null ? null : new BackupManifest.Parent(parent.backupId(), parent.startLsn(), parent.startTimeline()));
    }

    private void assertRefused(ObjectStore store, BackupManifest newest, List<BackupManifest> chain, String why) {
        Path target = temp.resolve("refused-" + newest.backupId());
        assertThatThrownBy(() -> new BackupRestorer(store, 2).restore(chain, target, TablespacePlan.of(newest, Map.of(), target), n -> { }))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining(why);
    }

}

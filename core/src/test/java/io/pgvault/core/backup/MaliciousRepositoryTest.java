package io.pgvault.core.backup;

import io.pgvault.core.compress.ZstdCodec;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The repository's content is untrusted: whoever can write the bucket, or a compromised
 * database host that authors the tar stream, must not make a restore write outside its
 * targets. Each crafted piece or manifest here is stored through the real backup writer
 * (or written beside it), restored, and refused with a message naming the piece and entry;
 * a sentinel directory outside the targets is byte-identical afterwards.
 */
class MaliciousRepositoryTest {

    private static final String CLUSTER = "main";

    @TempDir
    Path temp;

    private ObjectStore store;
    private Path sentinel;
    private Path data;
    private java.util.Set<java.nio.file.attribute.PosixFilePermission> sentinelMode;
    private int backups;

    @BeforeEach
    void setUp() throws IOException {
        store = new LocalDirectoryStore(temp.resolve("repo"));
        sentinel = Files.createDirectories(temp.resolve("sentinel"));
        Files.writeString(sentinel.resolve("secret"), "untouched");
        sentinelMode = Files.getPosixFilePermissions(sentinel.resolve("secret"));
        data = temp.resolve("data");
    }

    @AfterEach
    void sentinelIsUntouched() throws IOException {
        try (Stream<Path> files = Files.list(sentinel)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("secret");
        }
        assertThat(Files.isSymbolicLink(sentinel.resolve("secret"))).isFalse();
        assertThat(sentinel.resolve("secret")).hasContent("untouched");
        assertThat(Files.getPosixFilePermissions(sentinel.resolve("secret"))).isEqualTo(sentinelMode);
        store.close();
    }

    /** A tar stream written entry by entry, as a database host (or anyone) could author it. */
    private static final class CraftedTar {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes);

        CraftedTar() {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        }

        CraftedTar directory(String name) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name + "/", TarConstants.LF_DIR, true);
            e.setMode(040700);
            return put(e, new byte[0]);
        }

        CraftedTar file(String name, String content) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name, true);
            e.setMode(0100600);
            return put(e, content.getBytes(StandardCharsets.UTF_8));
        }

        CraftedTar range(String name, String content, String offset, String fileSize) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name, true);
            e.setMode(0100600);
            e.addPaxHeader(FilePart.OFFSET_KEY, offset);
            e.addPaxHeader(FilePart.SIZE_KEY, fileSize);
            return put(e, content.getBytes(StandardCharsets.UTF_8));
        }

        CraftedTar link(String name, byte type, String target) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name, type, true);
            e.setLinkName(target);
            return put(e, new byte[0]);
        }

        private CraftedTar put(TarArchiveEntry e, byte[] content) throws IOException {
            e.setSize(content.length);
            tar.putArchiveEntry(e);
            tar.write(content);
            tar.closeArchiveEntry();
            return this;
        }

        byte[] bytes() throws IOException {
            tar.finish();
            return bytes.toByteArray();
        }
    }

    /** Stores a backup through the real writer: base.tar, then each tablespace archive (location → tar). */
    private BackupManifest store(byte[] base, Map<String, byte[]> tablespaces) throws IOException {
        String id = String.format("20261204T0300%02dZ-abcdef", backups++);
        BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), CLUSTER, id, temp.resolve("spool"), 1 << 20, "test",
                Clock.systemUTC());
        writer.started(Lsn.parse("0/2000028"), new TimelineId(1));
        write(writer, "base.tar", Optional.empty(), base);
        int oid = 16384;
        for (Map.Entry<String, byte[]> t : tablespaces.entrySet()) {
            write(writer, (oid++) + ".tar", Optional.of(t.getKey()), t.getValue());
        }
        return writer.finish("crafted", "7000000000000000001", 17, 16 << 20, Lsn.parse("0/2000100"), new TimelineId(1));
    }

    private static void write(BackupWriter writer, String archive, Optional<String> location, byte[] tar) throws IOException {
        try (OutputStream out = writer.archive(archive, location)) {
            out.write(tar);
        }
    }

    private BackupManifest storeBase(CraftedTar base) throws IOException {
        return store(base.bytes(), Map.of());
    }

    private void restore(BackupManifest backup, Map<String, Path> map) throws IOException {
        new BackupRestorer(store, 2).restore(backup, data, map, n -> { });
    }

    private static String firstPiece(BackupManifest backup) {
        return backup.pieces().get(0).key();
    }

    @Test
    void aBenignCraftedBackupRestores() throws IOException {
        BackupManifest ok = storeBase(new CraftedTar().directory("base").file("base/1", "rows").file("PG_VERSION", "17\n"));
        restore(ok, Map.of());
        assertThat(data.resolve("base/1")).hasContent("rows");
    }

    @Test
    void aSymbolicLinkOutsidePgTblspcIsRefusedAndNothingIsWrittenThroughIt() throws IOException {
        BackupManifest backup = storeBase(new CraftedTar().link("escape", TarConstants.LF_SYMLINK, sentinel.toString())
                .file("escape/secret", "overwritten").file("escape/planted", "planted"));
        assertThatThrownBy(() -> restore(backup, Map.of())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining(firstPiece(backup)).hasMessageContaining("'escape'").hasMessageContaining("symbolic link");
    }

    @Test
    void aTablespaceLinkToAPlaceThatIsNotATablespaceOfTheBackupIsRefused() throws IOException {
        BackupManifest backup = storeBase(new CraftedTar().directory("pg_tblspc").link("pg_tblspc/16384", TarConstants.LF_SYMLINK,
                sentinel.toString()).file("pg_tblspc/16384/planted", "planted"));
        assertThatThrownBy(() -> restore(backup, Map.of())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("pg_tblspc/16384").hasMessageContaining("not a tablespace of this backup");
    }

    @Test
    void namesThatClimbOutOrAreAbsoluteAreRefused() throws IOException {
        BackupManifest climbing = storeBase(new CraftedTar().file("base/../../sentinel/secret", "overwritten"));
        assertThatThrownBy(() -> restore(climbing, Map.of())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining(firstPiece(climbing)).hasMessageContaining("base/../../sentinel/secret").hasMessageContaining("'..'");
        BackupManifest absolute = storeBase(new CraftedTar().file(sentinel.resolve("planted").toString(), "planted"));
        assertThatThrownBy(() -> restore(absolute, Map.of())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining(sentinel.resolve("planted").toString()).hasMessageContaining("absolute");
    }

    @Test
    void hardLinksAndDevicesAreRefused() throws IOException {
        BackupManifest hard = storeBase(new CraftedTar().link("global/pg_control", TarConstants.LF_LINK, sentinel.resolve("secret").toString()));
        assertThatThrownBy(() -> restore(hard, Map.of())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("global/pg_control").hasMessageContaining("hard link");
        BackupManifest device = storeBase(new CraftedTar().link("dev", TarConstants.LF_CHR, ""));
        assertThatThrownBy(() -> restore(device, Map.of())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("'dev'").hasMessageContaining("device");
    }

    @Test
    void rangesBeyondTheirFileOverflowingOrOverlappingAreRefused() throws IOException {
        BackupManifest beyond = storeBase(new CraftedTar().range("base/1", "0123456789", "100", "50"));
        assertThatThrownBy(() -> restore(beyond, Map.of())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining(firstPiece(beyond)).hasMessageContaining("base/1").hasMessageContaining("beyond its file");
        BackupManifest overflow = storeBase(new CraftedTar().range("base/2", "0123456789", Long.toString(Long.MAX_VALUE - 5),
                Long.toString(Long.MAX_VALUE)));
        assertThatThrownBy(() -> restore(overflow, Map.of())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("base/2").hasMessageContaining("larger than the whole backup");
        BackupManifest overlapping = storeBase(new CraftedTar().range("base/3", "0123456789", "0", "15")
                .range("base/3", "abcdefghij", "5", "15"));
        assertThatThrownBy(() -> restore(overlapping, Map.of())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("base/3").hasMessageContaining("overlaps");
        BackupManifest gap = storeBase(new CraftedTar().range("base/4", "0123456789", "0", "30").range("base/4", "abcdefghij", "20", "30"));
        assertThatThrownBy(() -> restore(gap, Map.of())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("holds 20 bytes of base/4, which has 30");
    }

    @Test
    void aTablespaceMapNamingAPlaceOutsideTheBackupIsRefused() throws IOException {
        Path tablespace = temp.resolve("ts");
        BackupManifest backup = store(new CraftedTar().file("tablespace_map", "16384 " + tablespace + "\n16385 " + sentinel + "\n").bytes(),
                Map.of(tablespace.toString(), new CraftedTar().directory("PG_17_202406281").bytes()));
        assertThatThrownBy(() -> restore(backup, Map.of(tablespace.toString(), temp.resolve("ts-copy"))))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("tablespace_map").hasMessageContaining(sentinel.toString());
        assertThat(temp.resolve("ts-copy")).as("a failed restore removes the tablespace target it created").doesNotExist();
    }

    @Test
    void tablespaceMapAndLinksAreWrittenFromThePlan() throws IOException {
        Path tablespace = temp.resolve("ts");
        BackupManifest backup = store(new CraftedTar().file("tablespace_map", "16384 " + tablespace + "\n").directory("pg_tblspc").bytes(),
                Map.of(tablespace.toString(), new CraftedTar().directory("PG_17_202406281").file("PG_17_202406281/5/1", "ts rows").bytes()));
        restore(backup, Map.of(tablespace.toString(), temp.resolve("ts-copy")));
        assertThat(data.resolve("tablespace_map")).hasContent("16384 " + temp.resolve("ts-copy"));
        assertThat(temp.resolve("ts-copy/PG_17_202406281/5/1")).hasContent("ts rows");
        assertThat(tablespace).doesNotExist();
    }

    @Test
    void aTablespaceLocationThatExistsAndIsNotEmptyIsRefused() throws IOException {
        BackupManifest etc = store(new CraftedTar().directory("base").bytes(),
                Map.of("/etc", new CraftedTar().file("PG_17_202406281/passwd", "root::0:0::/:/bin/sh").bytes()));
        assertThatThrownBy(() -> restore(etc, Map.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("/etc").hasMessageContaining("is not empty").hasMessageContaining("--tablespace-map /etc=NEW");
        assertThat(data).as("refused before the data directory is written").satisfiesAnyOf(
                d -> assertThat(d).doesNotExist(), d -> assertThat(d).isEmptyDirectory());
        BackupManifest live = store(new CraftedTar().directory("base").bytes(),
                Map.of(sentinel.toString(), new CraftedTar().file("secret", "overwritten").bytes()));
        assertThatThrownBy(() -> restore(live, Map.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(sentinel.toString()).hasMessageContaining("is not empty");
        assertThatThrownBy(() -> restore(live, Map.of("/srv/not-a-tablespace", temp.resolve("x")))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has no tablespace at /srv/not-a-tablespace").hasMessageContaining("its tablespaces are at: " + sentinel);
    }

    /** Writes a manifest as given, under the key of backup {@code id}, as anyone who can write the bucket could. */
    private void plant(String id, BackupManifest manifest) throws IOException {
        byte[] json = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsBytes(manifest);
        store.put(RepositoryLayout.backupManifest(CLUSTER, id), new java.io.ByteArrayInputStream(json), json.length);
    }

    private static BackupManifest withPieces(BackupManifest m, Function<BackupManifest.Piece, BackupManifest.Piece> change) {
        List<BackupManifest.Piece> pieces = new ArrayList<>();
        m.pieces().forEach(p -> pieces.add(change.apply(p)));
        return new BackupManifest(m.formatVersion(), m.backupId(), m.cluster(), m.label(), m.systemIdentifier(), m.pgMajor(),
                m.walSegmentSize(), m.startTimeline(), m.startLsn(), m.endTimeline(), m.endLsn(), m.startedAt(), m.finishedAt(), m.codec(),
                m.rawBytes(), m.storedBytes(), pieces, m.pgManifestSha256());
    }

    /**
     * A parent starts before its child in WAL. Its id may sort either way: two backups of the
     * same second sort by their ids' random suffixes (a recovery once refused such a chain),
     * and the seconds come from the clocks of the servers that took them. It is never the
     * backup itself, nor one starting where the backup starts or later, or on a later timeline.
     */
    @Test
    void aParentStartsEarlierInWalWhateverItsIdSays() throws IOException {
        BackupManifest stored = storeBase(new CraftedTar().file("PG_VERSION", "17\n"));
        String second = stored.backupId().substring(0, stored.backupId().lastIndexOf('-'));
        for (String parentId : List.of(second + "-ffffff", second + "-000000", "20261204T025959Z-ffffff", "20261204T030001Z-000000")) {
            plant(stored.backupId(), incrementalOn(stored, parentId, "0/1000028", 1));
            assertThat(BackupManifest.read(store, CLUSTER, stored.backupId())).as(parentId).isPresent();
        }
        plant(stored.backupId(), incrementalOn(stored, stored.backupId(), "0/1000028", 1));
        assertThatThrownBy(() -> BackupManifest.read(store, CLUSTER, stored.backupId())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("it names itself as its parent");
        for (String start : List.of(stored.startLsn(), "0/3000028")) {
            plant(stored.backupId(), incrementalOn(stored, second + "-ffffff", start, 1));
            assertThatThrownBy(() -> BackupManifest.read(store, CLUSTER, stored.backupId())).as(start).isInstanceOf(CorruptObjectException.class)
                    .hasMessageContaining("its parent starts at (1, " + start + "), not before the backup");
        }
        plant(stored.backupId(), incrementalOn(stored, second + "-ffffff", "0/1000028", 2));
        assertThatThrownBy(() -> BackupManifest.read(store, CLUSTER, stored.backupId())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("its parent starts at (2, 0/1000028)");
    }

    private static BackupManifest incrementalOn(BackupManifest m, String parentId, String parentStart, long parentTimeline) {
        return new BackupManifest(3, m.backupId(), m.cluster(), m.label(), m.systemIdentifier(), m.pgMajor(), m.walSegmentSize(),
                m.startTimeline(), m.startLsn(), m.endTimeline(), m.endLsn(), m.startedAt(), m.finishedAt(), m.codec(), m.rawBytes(),
                m.storedBytes(), m.pieces(), "0".repeat(64), new BackupManifest.Parent(parentId, parentStart, parentTimeline));
    }

    @Test
    void manifestsAreCheckedAgainstTheirKeyBeforeAnythingIsRead() throws IOException {
        BackupManifest victim = storeBase(new CraftedTar().file("PG_VERSION", "17\n"));
        BackupManifest other = storeBase(new CraftedTar().file("PG_VERSION", "17\n"));

        // A piece key under another cluster.
        plant(other.backupId(), withPieces(other, p -> new BackupManifest.Piece(p.archive(), p.tablespaceLocation(), p.index(),
                p.key().replace("clusters/main/", "clusters/payroll/"), p.rawSize(), p.storedSize(), p.sha256(), p.files())));
        assertThatThrownBy(() -> BackupManifest.read(store, CLUSTER, other.backupId())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("clusters/payroll/").hasMessageContaining("where " + firstPiece(other) + " belongs");

        // A manifest naming another backup's pieces.
        plant(other.backupId(), withPieces(other, p -> new BackupManifest.Piece(p.archive(), p.tablespaceLocation(), p.index(),
                firstPiece(victim), p.rawSize(), p.storedSize(), p.sha256(), p.files())));
        assertThatThrownBy(() -> BackupManifest.read(store, CLUSTER, other.backupId())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining(firstPiece(victim));

        // Another backup's manifest copied under this key.
        plant(other.backupId(), victim);
        assertThatThrownBy(() -> BackupManifest.read(store, CLUSTER, other.backupId())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("it names backup " + victim.backupId());

        // A tablespace location that is relative or climbs.
        plant(other.backupId(), withPieces(other, p -> new BackupManifest.Piece("16384.tar", "/srv/../etc", p.index(),
                RepositoryLayout.backupPiece(CLUSTER, other.backupId(), "16384.tar", p.index()), p.rawSize(), p.storedSize(), p.sha256(),
                p.files())));
        assertThatThrownBy(() -> BackupManifest.read(store, CLUSTER, other.backupId())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("location '/srv/../etc'").hasMessageContaining("no piece of base.tar");

        // Totals that do not add up, and a negative size.
        plant(other.backupId(), withPieces(other, p -> new BackupManifest.Piece(p.archive(), p.tablespaceLocation(), p.index(), p.key(),
                -1, p.storedSize(), p.sha256(), p.files())));
        assertThatThrownBy(() -> BackupManifest.read(store, CLUSTER, other.backupId())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("negative size");

        // PostgreSQL's clock reading, which picks the backup of a target time, that is no time.
        plant(other.backupId(), new BackupManifest(other.formatVersion(), other.backupId(), other.cluster(), other.label(),
                other.systemIdentifier(), other.pgMajor(), other.walSegmentSize(), other.startTimeline(), other.startLsn(), other.endTimeline(),
                other.endLsn(), other.startedAt(), other.finishedAt(), other.codec(), other.rawBytes(), other.storedBytes(), other.pieces(),
                other.pgManifestSha256(), null, "yesterday"));
        assertThatThrownBy(() -> BackupManifest.read(store, CLUSTER, other.backupId())).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("PostgreSQL's clock read at its end ('yesterday') is not a timestamp");

        // An in-memory manifest is checked by the restorer too, before the data directory is made.
        BackupManifest foreign = withPieces(victim, p -> new BackupManifest.Piece(p.archive(), p.tablespaceLocation(), p.index(),
                "clusters/payroll/backups/" + victim.backupId() + "/pieces/base.tar.00000", p.rawSize(), p.storedSize(), p.sha256(), p.files()));
        assertThatThrownBy(() -> restore(foreign, Map.of())).isInstanceOf(CorruptObjectException.class).hasMessageContaining("payroll");
        assertThat(data).doesNotExist();
        assertThat(BackupManifest.read(store, CLUSTER, victim.backupId())).contains(victim);
    }

    @Test
    void aLinkAlreadyInTheTargetIsNeverWrittenOrChmodedThrough() throws IOException {
        Path root = Files.createDirectories(temp.resolve("confined"));
        Files.createSymbolicLink(root.resolve("dir"), sentinel);
        Files.createSymbolicLink(root.resolve("file"), sentinel.resolve("secret"));
        ConfinedDirectory confined = new ConfinedDirectory(root);
        assertThatThrownBy(() -> confined.openForWrite(root.resolve("dir/secret"), true, "piece", "dir/secret"))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("'dir/secret'").hasMessageContaining("not a directory");
        assertThatThrownBy(() -> confined.openForWrite(root.resolve("file"), true, "piece", "file"))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("never writes through");
        assertThatThrownBy(() -> confined.setMode(root.resolve("file"), 0777, "piece", "file"))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("mode is not changed");
        assertThatThrownBy(() -> confined.createDirectories(root.resolve("dir/sub"), "piece", "dir/sub/"))
                .isInstanceOf(CorruptObjectException.class);
    }
}

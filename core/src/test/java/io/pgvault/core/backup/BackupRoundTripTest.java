package io.pgvault.core.backup;

import io.pgvault.core.compress.ZstdCodec;
import io.pgvault.core.pgproto.BaseBackupOptions;
import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A base backup taken over the replication protocol while rows are being written, stored
 * as pieces, restored into a fresh directory (tablespace moved elsewhere), recovered with
 * the archived WAL by a real PostgreSQL: the rows match. On 14 (one CopyOut per
 * tablespace) and 17 (typed CopyData).
 */
class BackupRoundTripTest {

    @TempDir
    Path temp;


    private static boolean holdsRange(ObjectStore store, BackupManifest.Piece piece) throws Exception {
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(piece.key(), store.get(piece.key()).orElseThrow());
             TarArchiveInputStream tar = new TarArchiveInputStream(opened.content())) {
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                if (FilePart.of(e, piece.key(), Long.MAX_VALUE).isPresent()) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Every file under a directory, by name, size and content. */
    private static String treeDigest(Path root) throws Exception {
        java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
        try (java.util.stream.Stream<Path> files = Files.walk(root)) {
            for (Path f : files.sorted().toList()) {
                sha.update(root.relativize(f).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                if (Files.isRegularFile(f)) {
                    sha.update(Files.readAllBytes(f));
                }
            }
        }
        return java.util.HexFormat.of().formatHex(sha.digest());
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {14, 17})
    void backupRestoreRecoverGivesTheCommittedRows(int major) throws Exception {
        Path archive = OsUser.ownedTempDirectory("wal");
        Path tablespace = OsUser.ownedTempDirectory("ts");
        Path restoredTablespace = OsUser.ownedTempDirectory("ts-restored");
        try (PgCluster pg = PgCluster.builder(major)
                .setting("archive_mode", "on")
                .setting("archive_command", "cp %p " + archive + "/%f")
                .start();
             ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            pg.execute("CREATE TABLESPACE elsewhere LOCATION '" + tablespace + "'",
                    "CREATE TABLE base_rows (id int primary key, v text)",
                    "CREATE TABLE ts_rows (id int primary key, v text) TABLESPACE elsewhere",
                    "INSERT INTO base_rows SELECT g, md5(g::text) FROM generate_series(1, 20000) g",
                    "INSERT INTO ts_rows SELECT g, md5(g::text) FROM generate_series(1, 5000) g");

            // Keep committing while the backup runs.
            AtomicBoolean writing = new AtomicBoolean(true);
            AtomicInteger next = new AtomicInteger(100000);
            Thread writer = new Thread(() -> {
                while (writing.get()) {
                    int id = next.incrementAndGet();
                    pg.execute("INSERT INTO base_rows VALUES (" + id + ", 'during')", "INSERT INTO ts_rows VALUES (" + id + ", 'during')");
                }
            });
            writer.start();
            BackupManifest manifest;
            String sysid;
            try (ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres"), "pgvault")) {
                sysid = rc.identifySystem().systemIdentifier();
                BackupWriter writerSink = new BackupWriter(store, new ZstdCodec(1), "main", "20261125T070000Z-abcdef", temp.resolve("spool"),
                        256 * 1024, "test", Clock.systemUTC());
                ReplicationConnection.BaseBackupResult result = rc.baseBackup(new BaseBackupOptions("round trip", true, true), writerSink);
                manifest = writerSink.finish("round trip", sysid, major, 16 << 20, result.end(), result.endTimeline());
            } finally {
                writing.set(false);
                writer.join();
            }
            pg.execute("INSERT INTO base_rows VALUES (-1, 'after the backup')");
            String expected = pg.queryValue("SELECT (SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM base_rows) || "
                    + "(SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM ts_rows)");
            pg.queryValue("SELECT pg_switch_wal()");
            Thread.sleep(1500);

            assertThat(manifest.pieces().stream().map(BackupManifest.Piece::archive).distinct()).hasSize(2);
            assertThat(manifest.pieces().size()).as("small pieces: several per archive").isGreaterThan(4);
            assertThat(BackupManifest.read(store, "main", manifest.backupId())).contains(manifest);

            // A point-in-time copy on the primary's own host without a map: refused before a byte is written,
            // and the live tablespace is byte-identical afterwards.
            pg.execute("CHECKPOINT");
            String live = treeDigest(tablespace);
            Path sameHost = temp.resolve("same-host");
            assertThatThrownBy(() -> new BackupRestorer(store, 4).restore(manifest, sameHost, Map.of(), n -> { }))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(tablespace.toString()).hasMessageContaining("is not empty")
                    .hasMessageContaining("--tablespace-map " + tablespace + "=NEW");
            assertThat(treeDigest(tablespace)).isEqualTo(live);
            assertThat(sameHost).doesNotExist();

            try (PgCluster restored = PgCluster.builder(major)
                    .setting("archive_mode", "off")
                    .setting("restore_command", "cp " + archive + "/%f %p")
                    .adopt(data -> {
                        new BackupRestorer(store, 4).restore(manifest, data, Map.of(tablespace.toString(), restoredTablespace), n -> { });
                        OsUser.own(restoredTablespace);
                    })) {
                restored.touch("recovery.signal");
                restored.start();
                restored.awaitRecoveryEnd(Duration.ofMinutes(2));
                String actual = restored.queryValue("SELECT (SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM base_rows) || "
                        + "(SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM ts_rows)");
                assertThat(actual).isEqualTo(expected);
                assertThat(Files.list(restoredTablespace).count()).isPositive();
            }

            // The tables' files are larger than a piece: stored in ranges. Without a piece holding one, the restore is refused.
            List<BackupManifest.Piece> ranged = new ArrayList<>();
            for (BackupManifest.Piece piece : manifest.pieces()) {
                if (holdsRange(store, piece)) {
                    ranged.add(piece);
                }
            }
            assertThat(ranged).as("pieces holding a range of a file").hasSizeGreaterThan(1);
            for (BackupManifest.Piece missing : List.of(ranged.get(0), ranged.get(ranged.size() - 1))) {
                List<BackupManifest.Piece> pieces = new ArrayList<>(manifest.pieces());
                pieces.remove(missing);
                BackupManifest incomplete = new BackupManifest(manifest.formatVersion(), manifest.backupId(), manifest.cluster(),
                        manifest.label(), manifest.systemIdentifier(), manifest.pgMajor(), manifest.walSegmentSize(), manifest.startTimeline(),
                        manifest.startLsn(), manifest.endTimeline(), manifest.endLsn(), manifest.startedAt(), manifest.finishedAt(),
                        manifest.codec(), manifest.rawBytes(), manifest.storedBytes(), pieces, manifest.pgManifestSha256());
                assertThatThrownBy(() -> new BackupRestorer(store, 2).restore(incomplete, temp.resolve("incomplete-" + missing.index()),
                        Map.of(), n -> { })).isInstanceOf(CorruptObjectException.class).hasMessageContaining("a piece is missing from the list");
            }

            // A damaged piece is refused by name.
            BackupManifest.Piece victim = manifest.pieces().get(1);
            Path file = temp.resolve("repo").resolve(victim.key());
            byte[] bytes = Files.readAllBytes(file);
            bytes[bytes.length - 20] ^= 0x10;
            Files.write(file, bytes);
            Path brokenTablespace = temp.resolve("broken-ts");
            assertThatThrownBy(() -> new BackupRestorer(store, 2).restore(manifest, temp.resolve("broken"),
                    Map.of(tablespace.toString(), brokenTablespace), n -> { }))
                    .isInstanceOf(CorruptObjectException.class).hasMessageContaining(victim.key());
            assertThat(brokenTablespace).as("a failed restore removes the tablespace target it created").doesNotExist();
        } finally {
            io.pgvault.testkit.Fixtures.deleteTree(archive);
            io.pgvault.testkit.Fixtures.deleteTree(tablespace);
            io.pgvault.testkit.Fixtures.deleteTree(restoredTablespace);
        }
    }
}

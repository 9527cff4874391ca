package io.pgvault.core.backup;

import io.pgvault.core.compress.ZstdCodec;
import io.pgvault.core.pgproto.BaseBackupOptions;
import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.PgServerException;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * PostgreSQL's own incremental backups (17+), taken over the replication protocol with the
 * parent's backup_manifest uploaded, stored as pieces and restored as a chain straight into a
 * data directory: a full backup, then two incremental ones, with updates, inserts, a new
 * table, a dropped table, a table VACUUM truncated and a tablespace between them. Recovery
 * from each chain to a restore point after its newest backup gives exactly the rows
 * committed before that point.
 */
class IncrementalBackupTest {

    private static final String ROWS = "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM ("
            + "SELECT 'a' || id || v AS t FROM base_rows UNION ALL SELECT 'b' || id || v FROM ts_rows UNION ALL "
            + "SELECT 'c' || id || pad FROM shrinking) all_rows";
    private static final String CREATED_LATER = "SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM created_later";

    @TempDir
    Path temp;


    private static BackupManifest backup(PgCluster pg, ObjectStore store, String id, BackupManifest parent, Path spool) throws Exception {
        return backup(pg, store, id, parent, spool, () -> { });
    }

    /** Runs {@code beforeFinish} once PostgreSQL has sent the backup, before its manifest is written. */
    private static BackupManifest backup(PgCluster pg, ObjectStore store, String id, BackupManifest parent, Path spool, Step beforeFinish)
            throws Exception {
        try (ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres"),
                "pgvault")) {
            String sysid = rc.identifySystem().systemIdentifier();
            if (parent != null) {
                String key = RepositoryLayout.pgBackupManifest("main", parent.backupId());
                try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, store.get(key).orElseThrow()); InputStream in = opened.content()) {
                    rc.uploadManifest(in);
                }
            }
            // Small pieces: the full backup's larger relation files are stored in ranges.
            BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), "main", id, spool, 256 * 1024, "test", Clock.systemUTC());
            ReplicationConnection.BaseBackupResult result = rc.baseBackup(new BaseBackupOptions(id, true, true).withIncremental(parent != null),
                    writer);
            beforeFinish.run();
            try {
                return writer.finish(id, sysid, pg.major(), 16 << 20, result.end(), result.endTimeline(),
                        parent == null ? null : new BackupManifest.Parent(parent.backupId(), parent.startLsn(), parent.startTimeline()));
            } catch (java.io.IOException e) {
                writer.abandon();
                assertThat(store.list(RepositoryLayout.backupPrefix("main", id))).as("nothing of a refused backup is kept").isEmpty();
                throw e;
            }
        }
    }

    interface Step {
        void run() throws Exception;
    }

    private static void incrementalCutMidStream(PgCluster pg, ObjectStore store, BackupManifest parent, Path spool) throws Exception {
        String id = "20261205T033000Z-ffffff";
        Thread killer = new Thread(() -> {
            for (int i = 0; i < 200; i++) {
                if ("1".equals(pg.queryValue("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        + "WHERE application_name = 'pgvault-cut' AND backend_type = 'walsender'"))) {
                    return;
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        try (ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres"),
                "pgvault-cut")) {
            String key = RepositoryLayout.pgBackupManifest("main", parent.backupId());
            try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, store.get(key).orElseThrow()); InputStream in = opened.content()) {
                rc.uploadManifest(in);
            }
            BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), "main", id, spool, 256 * 1024, "test", Clock.systemUTC());
            killer.start();
            // Throttled to the least PostgreSQL allows, so the backup is still streaming when it is cut.
            assertThatThrownBy(() -> rc.baseBackup(new BaseBackupOptions(id, true, true, 32).withIncremental(true), writer))
                    .isInstanceOf(java.io.IOException.class);
            writer.abandon();
        } finally {
            killer.join();
        }
        assertThat(store.list(RepositoryLayout.backupPrefix("main", id))).isEmpty();
        assertThat(BackupManifest.read(store, "main", parent.backupId())).contains(parent);
    }

    private static List<String> members(ObjectStore store, BackupManifest backup) throws Exception {
        List<String> names = new ArrayList<>();
        for (BackupManifest.Piece piece : backup.pieces()) {
            try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(piece.key(), store.get(piece.key()).orElseThrow());
                 TarArchiveInputStream tar = new TarArchiveInputStream(opened.content())) {
                for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                    names.add(e.getName());
                }
            }
        }
        return names;
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {17, 18})
    void aChainRestoresToTheRowsCommittedAtEachPoint(int major) throws Exception {
        Path archive = OsUser.ownedTempDirectory("wal");
        Path tablespace = OsUser.ownedTempDirectory("ts");
        List<Path> restoredTablespaces = new ArrayList<>();
        try (PgCluster pg = PgCluster.builder(major)
                .setting("archive_mode", "on")
                .setting("archive_command", "cp %p " + archive + "/%f")
                .setting("summarize_wal", "on")
                .start();
             ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            pg.execute("CREATE TABLESPACE elsewhere LOCATION '" + tablespace + "'",
                    "CREATE TABLE base_rows (id int primary key, v text)",
                    "CREATE TABLE ts_rows (id int primary key, v text) TABLESPACE elsewhere",
                    "CREATE TABLE shrinking (id int, pad text)",
                    "CREATE TABLE dropped_later (id int)",
                    "INSERT INTO base_rows SELECT g, md5(g::text) FROM generate_series(1, 60000) g",
                    "INSERT INTO ts_rows SELECT g, md5(g::text) FROM generate_series(1, 20000) g",
                    "INSERT INTO shrinking SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g",
                    "INSERT INTO dropped_later SELECT generate_series(1, 1000)");
            String droppedFile = pg.queryValue("SELECT pg_relation_filepath('dropped_later')");
            Map<String, String> expected = new LinkedHashMap<>();
            Path spool = temp.resolve("spool");

            BackupManifest full = backup(pg, store, "20261205T010000Z-aaaaaa", null, spool);
            // Between the full and the first incremental: a few rows changed, a table dropped, one truncated by VACUUM.
            pg.execute("UPDATE base_rows SET v = 'one' WHERE id % 500 = 0",
                    "INSERT INTO base_rows SELECT g, 'new' FROM generate_series(60001, 61000) g",
                    "UPDATE ts_rows SET v = 'one' WHERE id <= 100",
                    "DROP TABLE dropped_later",
                    "DELETE FROM shrinking WHERE id > 5000");
            pg.execute("VACUUM shrinking");
            BackupManifest first = backup(pg, store, "20261205T020000Z-bbbbbb", full, spool);
            pg.execute("SELECT pg_create_restore_point('after_first')");
            expected.put("after_first", pg.queryValue(ROWS) + " no created_later");

            pg.execute("UPDATE base_rows SET v = 'two' WHERE id % 700 = 0",
                    "CREATE TABLE created_later (id int, v text)",
                    "INSERT INTO created_later SELECT g, md5(g::text) FROM generate_series(1, 3000) g",
                    "INSERT INTO shrinking SELECT g, 'regrown' FROM generate_series(20001, 21000) g",
                    "DELETE FROM ts_rows WHERE id > 19000");
            BackupManifest second = backup(pg, store, "20261205T030000Z-cccccc", first, spool);
            pg.execute("UPDATE base_rows SET v = 'three' WHERE id < 50");
            pg.execute("SELECT pg_create_restore_point('after_second')");
            expected.put("after_second", pg.queryValue(ROWS) + " " + pg.queryValue(CREATED_LATER));
            pg.queryValue("SELECT pg_switch_wal()");
            pg.execute("CHECKPOINT");

            assertThat(first.isIncremental()).isTrue();
            assertThat(first.formatVersion()).isEqualTo(3);
            assertThat(full.formatVersion()).as("a full backup stays readable by an older pgvault").isEqualTo(2);
            assertThat(BackupManifest.read(store, "main", second.backupId())).contains(second);
            assertThat(first.rawBytes()).as("an incremental backup holds what changed: far less than the full").isLessThan(full.rawBytes() / 3);
            assertThat(members(store, first)).anyMatch(IncrementalFile::isIncremental)
                    .as("in the tablespace too").anyMatch(n -> n.startsWith("PG_") && IncrementalFile.isIncremental(n));

            List<BackupManifest> chain = BackupChain.of(second, id -> Optional.of(id.equals(full.backupId()) ? full : first));
            assertThat(chain).containsExactly(second, first, full);
            pg.awaitCurrentSegmentArchived();

            for (Map.Entry<String, String> point : expected.entrySet()) {
                List<BackupManifest> restoring = point.getKey().equals("after_first") ? List.of(first, full) : chain;
                Path restoredTablespace = OsUser.ownedTempDirectory("ts-" + point.getKey());
                restoredTablespaces.add(restoredTablespace);
                try (PgCluster restored = PgCluster.builder(major)
                        .setting("archive_mode", "off")
                        .setting("restore_command", "cp " + archive + "/%f %p")
                        .setting("recovery_target_name", point.getKey())
                        .setting("recovery_target_action", "promote")
                        .adopt(data -> {
                            new BackupRestorer(store, 3).restore(restoring, data, TablespacePlan.of(restoring.get(0),
                                    Map.of(tablespace.toString(), restoredTablespace), data), n -> { });
                            OsUser.own(restoredTablespace);
                            assertThat(data.resolve(droppedFile)).as("a file the newest backup does not hold is not restored").doesNotExist();
                            assertThat(Files.readString(data.resolve("backup_label"))).doesNotContain("INCREMENTAL");
                            for (Path root : List.of(data, restoredTablespace)) {
                                try (var files = Files.walk(root)) {
                                    assertThat(files.map(Path::getFileName).map(Path::toString)).noneMatch(n -> n.startsWith("INCREMENTAL."));
                                }
                            }
                        })) {
                    restored.touch("recovery.signal");
                    restored.start();
                    restored.awaitRecoveryEnd(Duration.ofMinutes(2));
                    boolean created = restored.queryValue("SELECT to_regclass('created_later') IS NOT NULL").equals("t");
                    assertThat(restored.queryValue(ROWS) + " " + (created ? restored.queryValue(CREATED_LATER) : "no created_later"))
                            .as("rows at " + point.getKey()).isEqualTo(point.getValue());
                    assertThat(restored.queryValue("SELECT count(*) FROM pg_class WHERE relname = 'dropped_later'")).isEqualTo("0");
                }
            }

            // A chain with a link left out, or that does not end in a full backup, is refused before a byte is written.
            assertThatThrownBy(() -> new BackupRestorer(store, 2).restore(List.of(second, full), temp.resolve("skipped"),
                    TablespacePlan.of(second, Map.of(tablespace.toString(), temp.resolve("skipped-ts")), temp.resolve("skipped")), n -> { }))
                    .isInstanceOf(CorruptObjectException.class).hasMessageContaining("names parent " + first.backupId());
            assertThat(temp.resolve("skipped")).doesNotExist();
            // A manifest edited to name an older parent, with that parent's real start: the chain adds up, but
            // PostgreSQL's backup_label says which backup the blocks were taken against.
            BackupManifest forged = new BackupManifest(second.formatVersion(), second.backupId(), second.cluster(), second.label(),
                    second.systemIdentifier(), second.pgMajor(), second.walSegmentSize(), second.startTimeline(), second.startLsn(),
                    second.endTimeline(), second.endLsn(), second.startedAt(), second.finishedAt(), second.codec(), second.rawBytes(),
                    second.storedBytes(), second.pieces(), second.pgManifestSha256(),
                    new BackupManifest.Parent(full.backupId(), full.startLsn(), full.startTimeline()));
            BackupChain.check(List.of(forged, full));
            assertThatThrownBy(() -> new BackupRestorer(store, 2).restore(List.of(forged, full), temp.resolve("forged"),
                    TablespacePlan.of(forged, Map.of(tablespace.toString(), temp.resolve("forged-ts")), temp.resolve("forged")), n -> { }))
                    .isInstanceOf(CorruptObjectException.class).hasMessageContaining("backup_label")
                    .hasMessageContaining("against the backup that started at " + first.startLsn())
                    .hasMessageContaining("names parent " + full.backupId());
            // verify reads the label as a restore does, and the incremental files' headers.
            assertThat(new BackupRestorer(store, 2).verify(second, n -> { })).isEmpty();
            assertThat(new BackupRestorer(store, 2).verify(forged, n -> { })).singleElement().asString()
                    .contains("backup_label").contains("names parent " + full.backupId());
            assertThatThrownBy(() -> BackupChain.of(second, id -> Optional.empty()))
                    .isInstanceOf(CorruptObjectException.class).hasMessageContaining(first.backupId()).hasMessageContaining("not in the repository");

            // Cut mid-stream: nothing of the incremental backup is kept, and its parent is untouched.
            incrementalCutMidStream(pg, store, second, spool);
            // A parent deleted while its incremental backup ran: the backup is refused at its end, and nothing of it kept.
            Path elsewhere = temp.resolve("elsewhere");
            try (ObjectStore copy = new LocalDirectoryStore(elsewhere)) {
                io.pgvault.testkit.Fixtures.copyTree(temp.resolve("repo"), elsewhere);
                assertThatThrownBy(() -> backup(pg, copy, "20261205T035000Z-eeeeee", second, spool, () -> copy.delete(List.of(
                        RepositoryLayout.backupManifest("main", second.backupId())))))
                        .hasMessageContaining("which incremental backup 20261205T035000Z-eeeeee builds on, was deleted while it ran");
            }

            // PostgreSQL refuses an incremental backup without WAL summaries, by name.
            pg.execute("ALTER SYSTEM SET summarize_wal = off");
            pg.execute("SELECT pg_reload_conf()");
            Thread.sleep(500);
            assertThatThrownBy(() -> backup(pg, store, "20261205T040000Z-dddddd", second, spool))
                    .isInstanceOf(PgServerException.class).hasMessageContaining("WAL summarization");
        } finally {
            io.pgvault.testkit.Fixtures.deleteTree(archive);
            io.pgvault.testkit.Fixtures.deleteTree(tablespace);
            for (Path p : restoredTablespaces) {
                io.pgvault.testkit.Fixtures.deleteTree(p);
            }
        }
    }

}

package io.pgvault.server.backup;

import io.pgvault.core.backup.BackupFileIndex;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.BackupRestorer;
import io.pgvault.core.backup.BackupWriter;
import io.pgvault.core.backup.TablespacePlan;
import io.pgvault.core.compress.ZstdCodec;
import io.pgvault.core.pgproto.BaseBackupOptions;
import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An incremental backup is refused before PostgreSQL sends a byte, saying what to do, when
 * it cannot build on the cluster's newest backup: none yet, one the cluster's timeline history
 * did not pass through (a failover since) or of another major, or summarize_wal off; and one
 * of an earlier timeline the history did pass through is built on. Real PostgreSQL 17.
 */
class IncrementalParentTest {

    @TempDir
    Path temp;

    private static ReplicationConnection connect(PgCluster pg) throws Exception {
        return ReplicationConnection.open(Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres"), "pgvault test");
    }

    @Test
    void refusalsNameWhatToChange() throws Exception {
        try (PgCluster pg = PgCluster.builder(17).setting("summarize_wal", "on").start();
             ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            try (ReplicationConnection rc = connect(pg)) {
                ReplicationConnection.SystemIdentity identity = rc.identifySystem();
                assertThatThrownBy(() -> IncrementalParent.prepare(rc, identity, store, "main"))
                        .isInstanceOf(IncrementalParent.RefusedException.class)
                        .hasMessageContaining("has no stored backup for an incremental backup to build on: take a full backup first");
            }
            BackupManifest full;
            try (ReplicationConnection rc = connect(pg)) {
                ReplicationConnection.SystemIdentity identity = rc.identifySystem();
                BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), "main", "20261205T010000Z-aaaaaa", temp.resolve("spool"),
                        1 << 20, "test", Clock.systemUTC());
                ReplicationConnection.BaseBackupResult result = rc.baseBackup(new BaseBackupOptions("full", true, true), writer);
                full = writer.finish("full", identity.systemIdentifier(), 17, 16 << 20, result.end(), result.endTimeline());
            }
            try (ReplicationConnection rc = connect(pg)) {
                assertThat(IncrementalParent.prepare(rc, rc.identifySystem(), store, "main").backupId()).isEqualTo(full.backupId());
            }

            // The parent's backup_manifest, which PostgreSQL is given, damaged (one bit) and then gone.
            String key = io.pgvault.core.repo.RepositoryLayout.pgBackupManifest("main", full.backupId());
            byte[] original;
            try (java.io.InputStream in = store.get(key).orElseThrow()) {
                original = in.readAllBytes();
            }
            byte[] damaged = original.clone();
            damaged[damaged.length / 2] ^= 0x10;
            store.put(key, new java.io.ByteArrayInputStream(damaged), damaged.length);
            try (ReplicationConnection rc = connect(pg)) {
                ReplicationConnection.SystemIdentity identity = rc.identifySystem();
                assertThatThrownBy(() -> IncrementalParent.prepare(rc, identity, store, "main"))
                        .isInstanceOf(io.pgvault.core.repo.CorruptObjectException.class).hasMessageContaining(key);
            }
            store.delete(List.of(key));
            try (ReplicationConnection rc = connect(pg)) {
                ReplicationConnection.SystemIdentity identity = rc.identifySystem();
                assertThatThrownBy(() -> IncrementalParent.prepare(rc, identity, store, "main"))
                        .hasMessageContaining(key + " is missing: backup " + full.backupId() + " cannot be the parent of an incremental backup")
                        .hasMessageContaining("take a full backup");
            }
            store.put(key, new java.io.ByteArrayInputStream(original), original.length);

            // The same backup as if it ended on timeline 2: the cluster, on timeline 1, is not on its history any more.
            withManifest(store, full, 2, 17);
            try (ReplicationConnection rc = connect(pg)) {
                ReplicationConnection.SystemIdentity identity = rc.identifySystem();
                assertThatThrownBy(() -> IncrementalParent.prepare(rc, identity, store, "main"))
                        .hasMessageContaining("was taken on timeline 2 and ended at " + full.endLsn()
                                + ", and the cluster is now on timeline 1, which has no ancestors")
                        .hasMessageContaining("take a full backup");
            }
            withManifest(store, full, 1, 16);
            try (ReplicationConnection rc = connect(pg)) {
                ReplicationConnection.SystemIdentity identity = rc.identifySystem();
                assertThatThrownBy(() -> IncrementalParent.prepare(rc, identity, store, "main"))
                        .hasMessageContaining("is of PostgreSQL 16, the cluster now runs 17");
            }
            withManifest(store, full, 1, 17);

            pg.execute("ALTER SYSTEM SET summarize_wal = off");
            pg.execute("SELECT pg_reload_conf()");
            Thread.sleep(300);
            try (ReplicationConnection rc = connect(pg)) {
                ReplicationConnection.SystemIdentity identity = rc.identifySystem();
                assertThatThrownBy(() -> IncrementalParent.prepare(rc, identity, store, "main"))
                        .hasMessageContaining("summarize_wal is off on cluster 'main'")
                        .hasMessageContaining("ALTER SYSTEM SET summarize_wal = on");
            }
        }
    }

    /**
     * A real failover: a copy of the primary is promoted to timeline 2, and the old primary
     * goes on writing on timeline 1. A full backup taken before the switch is a parent for an
     * incremental backup of the new primary, and the chain restores to its rows; one the old
     * primary took after the switch is refused, naming where the history left timeline 1.
     */
    @Test
    void afterAFailoverAParentOnTheNewTimelinesHistoryIsBuiltOnAndOneOffItIsRefused() throws Exception {
        Path archive = OsUser.ownedTempDirectory("failover-wal");
        try (PgCluster old = PgCluster.builder(17).setting("summarize_wal", "on").start();
             ObjectStore before = new LocalDirectoryStore(temp.resolve("before"));
             ObjectStore after = new LocalDirectoryStore(temp.resolve("after"))) {
            old.execute("CREATE TABLE t (id int primary key, v text)", "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
            BackupManifest full = fullBackup(old, before, "20261205T010000Z-aaaaaa");
            old.execute("UPDATE t SET v = 'before the failover' WHERE id % 100 = 0");
            old.stop();
            try (PgCluster promoted = PgCluster.builder(17).setting("summarize_wal", "on").setting("archive_mode", "on")
                    .setting("archive_command", "cp %p " + archive + "/%f").adopt(data -> copy(old.dataDirectory(), data))) {
                promoted.touch("standby.signal");
                promoted.start();
                promoted.promote();
                promoted.awaitRecoveryEnd(Duration.ofMinutes(1));
                old.start();
                old.execute("UPDATE t SET v = 'split brain' WHERE id % 7 = 0", "CHECKPOINT");
                BackupManifest offTheHistory = fullBackup(old, after, "20261205T020000Z-bbbbbb");
                promoted.execute("UPDATE t SET v = 'after the failover' WHERE id % 300 = 0");

                try (ReplicationConnection rc = connect(promoted)) {
                    ReplicationConnection.SystemIdentity identity = rc.identifySystem();
                    assertThat(identity.timeline().value()).isEqualTo(2);
                    String switchPoint = promoted.queryValue("SELECT split_part(pg_read_file('pg_wal/00000002.history'), E'\\t', 2)");
                    assertThatThrownBy(() -> IncrementalParent.prepare(rc, identity, after, "main"))
                            .isInstanceOf(IncrementalParent.RefusedException.class)
                            .hasMessageContaining(offTheHistory.backupId() + ", was taken on timeline 1 and ended at " + offTheHistory.endLsn())
                            .hasMessageContaining("whose history left timeline 1 at " + switchPoint)
                            .hasMessageContaining("take a full backup");
                    // One of timeline 2 that started before this cluster's timeline 2 began: another promotion's timeline 2.
                    try (ObjectStore lineage = new LocalDirectoryStore(temp.resolve("lineage"))) {
                        new BackupManifest(full.formatVersion(), full.backupId(), full.cluster(), full.label(), full.systemIdentifier(), 17,
                                full.walSegmentSize(), 2, full.startLsn(), 2, full.endLsn(), full.startedAt(), full.finishedAt(), full.codec(),
                                full.rawBytes(), full.storedBytes(), full.pieces(), full.pgManifestSha256()).write(lineage);
                        assertThatThrownBy(() -> IncrementalParent.prepare(rc, identity, lineage, "main"))
                                .hasMessageContaining("started at " + full.startLsn() + " on timeline 2, before this cluster's timeline 2 began (at "
                                        + switchPoint + ")");
                    }
                }

                BackupManifest incremental;
                try (ReplicationConnection rc = connect(promoted)) {
                    ReplicationConnection.SystemIdentity identity = rc.identifySystem();
                    BackupManifest parent = IncrementalParent.prepare(rc, identity, before, "main");
                    assertThat(parent.backupId()).isEqualTo(full.backupId());
                    BackupWriter writer = new BackupWriter(before, new ZstdCodec(1), "main", "20261205T030000Z-cccccc", temp.resolve("spool"),
                            1 << 20, "test", Clock.systemUTC());
                    ReplicationConnection.BaseBackupResult result = rc.baseBackup(
                            new BaseBackupOptions("incremental", true, true).withIncremental(true), writer);
                    incremental = writer.finish("incremental", identity.systemIdentifier(), 17, 16 << 20, result.end(), result.endTimeline(),
                            new BackupManifest.Parent(parent.backupId(), parent.startLsn(), parent.startTimeline()));
                }
                assertThat(incremental.isIncremental()).isTrue();
                assertThat(incremental.startTimeline()).isEqualTo(2);
                promoted.execute("UPDATE t SET v = 'after the incremental' WHERE id % 400 = 0");
                String rows = promoted.queryValue(ROWS);
                promoted.awaitCurrentSegmentArchived();

                try (PgCluster restored = PgCluster.builder(17).setting("restore_command", "cp " + archive + "/%f %p")
                        .adopt(data -> new BackupRestorer(before, 2).restore(List.of(incremental, full), data,
                                TablespacePlan.of(incremental, Map.of(), data), n -> { }))) {
                    restored.touch("recovery.signal");
                    restored.start();
                    restored.awaitRecoveryEnd(Duration.ofMinutes(2));
                    assertThat(restored.queryValue(ROWS)).as("the rows of the promoted primary, from a chain across the failover")
                            .isEqualTo(rows);
                }
            }
        }
    }

    private static final String ROWS = "SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t";

    private BackupManifest fullBackup(PgCluster pg, ObjectStore store, String id) throws Exception {
        try (ReplicationConnection rc = connect(pg)) {
            ReplicationConnection.SystemIdentity identity = rc.identifySystem();
            BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), "main", id, temp.resolve("spool"), 1 << 20, "test", Clock.systemUTC());
            ReplicationConnection.BaseBackupResult result = rc.baseBackup(new BaseBackupOptions(id, true, true), writer);
            return writer.finish(id, identity.systemIdentifier(), 17, 16 << 20, result.end(), result.endTimeline());
        }
    }

    /** A stopped cluster's data directory, as a file-level copy taken for a standby would be. */
    private static void copy(Path from, Path to) throws java.io.IOException {
        try {
            Process cp = new ProcessBuilder("cp", "-a", from.toString(), to.toString()).inheritIO().start();
            assertThat(cp.waitFor()).isZero();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException();
        }
    }

    /**
     * PostgreSQL 14-16: the parent's file index names the pieces a new backup's references trust, so it is built on as this
     * server stored it, or not at all; one the catalog has no record of is built on without its pieces.
     */
    @Test
    void aFileIndexIsBuiltOnOnlyAsThisServerStoredIt() throws Exception {
        try (ObjectStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            String id = "20261205T010000Z-aaaaaa";
            BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), "main", id, temp.resolve("spool"), 1 << 20, "test",
                    Clock.systemUTC());
            writer.started(io.pgvault.core.wal.Lsn.parse("0/9000000"), io.pgvault.core.wal.TimelineId.FIRST);
            byte[] data = new byte[3 << 20];
            new java.util.Random(5).nextBytes(data);
            io.pgvault.testkit.Fixtures.oneFileBackup(writer, "base/5/16384", data);
            BackupManifest full = writer.finish(id, "1", 15, 16 << 20, io.pgvault.core.wal.Lsn.parse("0/9000000"),
                    io.pgvault.core.wal.TimelineId.FIRST);
            String stored = writer.fileIndexSha256().orElseThrow();
            BackupFileIndex index = IncrementalParent.parentFiles(store, "main", full);
            assertThat(index.sha256()).isEqualTo(stored);

            BackupFileIndex vouched = IncrementalParent.vouchedFor(index, java.util.Optional.of(stored), "main");
            assertThat(vouched.find("base.tar", "base/5/16384", 0, 1 << 20)).get()
                    .satisfies(e -> assertThat(e.piece()).isEqualTo(full.pieces().get(0).key()))
                    .satisfies(e -> assertThat(e.pieceSha256()).isEqualTo(full.pieces().get(0).sha256()));
            assertThat(IncrementalParent.vouchedFor(index, java.util.Optional.empty(), "main").find("base.tar", "base/5/16384", 0, 1 << 20))
                    .as("no record: the pieces are dropped, and references to them are hashed on restore").get()
                    .satisfies(e -> assertThat(e.piece()).isNull()).satisfies(e -> assertThat(e.pieceSha256()).isNull());
            assertThatThrownBy(() -> IncrementalParent.vouchedFor(index, java.util.Optional.of("ab".repeat(32)), "main"))
                    .isInstanceOf(IncrementalParent.RefusedException.class)
                    .hasMessageContaining("the file index of backup " + id + " of 'main' (files.json) has SHA-256 " + stored)
                    .hasMessageContaining("but this server stored it with SHA-256 " + "ab".repeat(32))
                    .hasMessageContaining("take a full backup");
        }
    }

    /**
     * Backup ids sort by the second a backup started, then by a random suffix: an incremental
     * backup taken within the second of its full one may sort before it. The parent is the one
     * whose end is latest in WAL (CI saw IncrementalRecoveryIT build a second incremental on the
     * full backup instead of the first incremental).
     */
    @Test
    void theNewestBackupIsTheLatestInWalAmongThoseOfTheSameSecond() throws Exception {
        try (LocalDirectoryStore store = new LocalDirectoryStore(temp.resolve("repo"))) {
            stored(store, "20261201T005959Z-000001", "0/2000028", "0/2000100");
            stored(store, "20261201T010000Z-ffffff", "0/4000028", "0/4000100");
            stored(store, "20261201T010000Z-000000", "0/6000028", "0/6000100");
            assertThat(IncrementalParent.newestStored(store, "main").orElseThrow().backupId()).isEqualTo("20261201T010000Z-000000");
            // A newer second wins whatever its suffix, and a backup without a readable manifest is passed over.
            stored(store, "20261201T010001Z-000000", "0/8000028", "0/8000100");
            store.put(io.pgvault.core.repo.RepositoryLayout.backupPiece("main", "20261201T010002Z-000000", "base.tar", 0),
                    new java.io.ByteArrayInputStream(new byte[0]), 0);
            assertThat(IncrementalParent.newestStored(store, "main").orElseThrow().backupId()).isEqualTo("20261201T010001Z-000000");
        }
    }

    private static void stored(ObjectStore store, String id, String start, String end) throws Exception {
        BackupManifest.Piece piece = new BackupManifest.Piece("base.tar", null, 0,
                io.pgvault.core.repo.RepositoryLayout.backupPiece("main", id, "base.tar", 0), 0, 0, "0".repeat(64), 0);
        new BackupManifest(BackupManifest.FORMAT, id, "main", id, null, 17, 16L << 20, 1, start, 1, end, "2026-12-01T01:00:00Z",
                "2026-12-01T01:00:00Z", "zstd", 0, 0, java.util.List.of(piece), null).write(store);
    }

    private static void withManifest(ObjectStore store, BackupManifest m, long endTimeline, int major) throws Exception {
        new BackupManifest(m.formatVersion(), m.backupId(), m.cluster(), m.label(), m.systemIdentifier(), major, m.walSegmentSize(),
                m.startTimeline(), m.startLsn(), endTimeline, m.endLsn(), m.startedAt(), m.finishedAt(), m.codec(), m.rawBytes(),
                m.storedBytes(), m.pieces(), m.pgManifestSha256()).write(store);
    }
}

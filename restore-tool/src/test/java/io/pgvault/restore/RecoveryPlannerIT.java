package io.pgvault.restore;

import io.pgvault.core.archive.ClusterIdentity;
import io.pgvault.core.archive.WalArchiver;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.FaultInjectingStore;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Transaction and restore point targets are looked up in real WAL before a byte is
 * restored: the plan names the backup PostgreSQL can stop from (the newest whose
 * consistency point lies before the first matching record after its start) and reads
 * only the WAL it needs, newest backup first: a target after the newest backup never
 * reads what was archived before it.
 */
class RecoveryPlannerIT {

    private static final String CLUSTER = "main";

    /** What the primary reported around one target: its record starts in [before, after). */
    private record Spot(Lsn before, Lsn after, String xid) {
        boolean holds(Lsn lsn) {
            return !lsn.isBefore(before) && lsn.isBefore(after);
        }
    }

    @Test
    void xidAndNameTargetsPickTheBackupPostgresqlCanStopFromAndReadOnlyTheWalTheyNeed() throws Exception {
        Path dir = workDirectory("pgvault-planner-it");
        Path walDir = dir.resolve("wal");
        int major = Fixtures.testMajors().get(0);
        try (PgCluster pg = archivingInto(major, walDir)
                .setting("max_prepared_transactions", "2").start()) {
            pg.execute("CREATE TABLE t (id int, v text)");
            pg.queryValue("SELECT pg_switch_wal()");
            Lsn b1Start = lsn(pg);
            pg.execute("INSERT INTO t VALUES (1, 'in backup 1')");
            Lsn b1End = lsn(pg);
            Spot dupOld = restorePoint(pg, "dup");
            Spot onlyOld = restorePoint(pg, "only-old");
            Spot xidOld = commit(pg);
            // Several segments between the backups.
            for (int i = 0; i < 3; i++) {
                pg.execute("INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
                pg.queryValue("SELECT pg_switch_wal()");
            }
            pg.execute("INSERT INTO t VALUES (2, 'a little into the segment')");
            Lsn b2Start = lsn(pg);
            Spot inside = restorePoint(pg, "inside-backup-2");
            pg.execute("INSERT INTO t VALUES (3, 'in backup 2')");
            Lsn b2End = lsn(pg);
            Spot dupNew = restorePoint(pg, "dup");
            Spot onlyNew = restorePoint(pg, "only-new");
            Spot xidNew = commit(pg);
            Spot xidPrepared = preparedCommit(pg);
            pg.execute("INSERT INTO t SELECT g, repeat('y', 200) FROM generate_series(1, 20000) g");
            WalSegmentSize size = WalSegmentSize.DEFAULT;
            LocalDirectoryStore local = archiveEverything(pg, walDir, dir);
            // The planner reads the backups' manifests only: their pieces are not needed here.
            manifest(b1Start, b1End, "20261201T010000Z-000001", "2026-12-01T01:00:00Z", major).write(local);
            manifest(b2Start, b2End, "20261201T020000Z-000002", "2026-12-01T02:00:00Z", major).write(local);

            long b2Segment = b2Start.segmentNumber(size);
            assertThat(b2Segment).as("backup 2 starts segments after backup 1").isGreaterThan(b1Start.segmentNumber(size) + 2);

            // After the newest backup: found there, and nothing archived before it is read. With the indexes the server wrote
            // as the segments arrived, a restore point is found without reading a segment, a transaction reading at most the
            // segment that holds it and the next; without them (a repository from before indexes), by reading the WAL.
            List<RecoveryTarget> afterNewest = List.of(RecoveryTarget.name("only-new", true), RecoveryTarget.name("dup", true),
                    RecoveryTarget.xid(xidNew.xid(), true), RecoveryTarget.xid(xidPrepared.xid(), true));
            Path indexes = dir.resolve("repo").resolve(RepositoryLayout.walIndexPrefix(CLUSTER));
            assertThat(indexes).isDirectory();
            Path aside = dir.resolve("indexes-aside");
            Fixtures.copyTree(indexes, aside);
            for (String mode : List.of("every segment indexed", "every other segment indexed", "no index")) {
                boolean indexed = !mode.equals("no index");
                if (mode.equals("every other segment indexed")) {
                    // A segment without an index before one with: a record crossing from the first into the second is read whole.
                    try (Stream<Path> files = Files.walk(indexes)) {
                        List<Path> all = files.filter(Files::isRegularFile).sorted().toList();
                        for (int i = 0; i < all.size(); i += 2) {
                            Files.delete(all.get(i));
                        }
                    }
                } else if (!indexed) {
                    Fixtures.deleteTree(indexes);
                }
                for (RecoveryTarget target : afterNewest) {
                    FaultInjectingStore store = new FaultInjectingStore(local);
                    RecoveryPlanner.Plan plan = new RecoveryPlanner(ClusterArchive.load(store, CLUSTER)).plan(target, Optional.empty());
                    String what = target + ", " + mode;
                    assertThat(plan.backup().backupId()).as(what).isEqualTo("20261201T020000Z-000002");
                    Spot expected = target.kind() == RecoveryTarget.Kind.XID ? target.value().equals(xidNew.xid()) ? xidNew : xidPrepared
                            : target.value().equals("dup") ? dupNew : onlyNew;
                    assertThat(expected.holds(plan.stopAt().orElseThrow())).as(what + " at " + plan.stopAt() + ", expected in " + expected).isTrue();
                    List<Long> segmentsRead = segmentsRead(store, RepositoryLayout.walPrefix(CLUSTER), size);
                    List<Long> indexesRead = segmentsRead(store, RepositoryLayout.walIndexPrefix(CLUSTER), size);
                    assertThat(indexesRead).as(what).allSatisfy(s -> assertThat(s).isGreaterThanOrEqualTo(b2Segment));
                    if (mode.equals("every segment indexed")) {
                        assertThat(indexesRead).as(what).isNotEmpty();
                        // The window's end and last commit come from the last segments' indexes too.
                        assertThat(segmentsRead).as(what).hasSizeLessThanOrEqualTo(target.kind() == RecoveryTarget.Kind.XID ? 2 : 0);
                    } else {
                        assertThat(segmentsRead).as(what).isNotEmpty().allSatisfy(s -> assertThat(s).isGreaterThanOrEqualTo(b2Segment));
                    }
                }
                if (mode.equals("every other segment indexed")) {
                    Fixtures.deleteTree(indexes);
                    Fixtures.copyTree(aside, indexes);
                }
            }
            Fixtures.copyTree(aside, indexes);

            // An index that does not fit its segment is not believed: the segment is read instead, and the index reported.
            WalFileName holding = WalFileName.segmentOf(io.pgvault.core.wal.TimelineId.FIRST, xidNew.before(), size);
            Path crafted = indexes.resolve(RepositoryLayout.walIndexKey(CLUSTER, holding).substring(RepositoryLayout.walIndexPrefix(CLUSTER).length()));
            String original = Files.readString(crafted);
            Files.writeString(crafted, original.replaceFirst("\"minXid\":[0-9]+", "\"minXid\":1")
                    .replaceFirst("\"segment\":\"[0-9A-F]+\"", "\"segment\":\"000000010000000000000001\""));
            ClusterArchive withCrafted = ClusterArchive.load(local, CLUSTER);
            RecoveryPlanner.Plan despite = new RecoveryPlanner(withCrafted).plan(RecoveryTarget.xid(xidNew.xid(), true), Optional.empty());
            assertThat(xidNew.holds(despite.stopAt().orElseThrow())).isTrue();
            assertThat(withCrafted.unreadableIndexes()).containsOnlyKeys(holding);
            assertThat(withCrafted.unreadableIndexes().get(holding)).contains(crafted.getFileName().toString()).contains("not " + holding);
            // One that fits its segment but lies (no transaction there) is what verify catches, comparing each index with its segment.
            Files.writeString(crafted, original.replaceFirst("\"minXid\":[0-9]+", "\"minXid\":1").replaceFirst("\"maxXid\":[0-9]+", "\"maxXid\":2"));
            java.io.StringWriter verifyReport = new java.io.StringWriter();
            assertThat(new ArchiveVerifier(ClusterArchive.load(local, CLUSTER), 2).verify(Optional.empty(), true,
                    new java.io.PrintWriter(verifyReport), false))
                    .as("the backups here have manifests only; of the WAL, just the lying index is a problem")
                    .filteredOn(p -> !p.contains("/backups/"))
                    .singleElement().asString().contains(RepositoryLayout.walIndexKey(CLUSTER, holding)).contains("does not match its segment");
            Files.writeString(crafted, original);
            // One an older pgvault wrote (format 1, which left out prepared transactions: here its range leaves out every
            // transaction; format 2 left out the time range) is not believed either: the segment is read, and recover and verify say why planning reads it and
            // how to have it written again; it is no problem.
            WalFileName preparedHome = WalFileName.segmentOf(io.pgvault.core.wal.TimelineId.FIRST, xidPrepared.before(), size);
            Path old = indexes.resolve(RepositoryLayout.walIndexKey(CLUSTER, preparedHome).substring(RepositoryLayout.walIndexPrefix(CLUSTER).length()));
            String current = Files.readString(old);
            Files.writeString(old, current.replace("\"format\":" + io.pgvault.core.archive.WalSegmentIndex.FORMAT, "\"format\":1")
                    .replaceFirst("\"minXid\":[0-9]+", "\"minXid\":1").replaceFirst("\"maxXid\":[0-9]+", "\"maxXid\":2"));
            ClusterArchive withOld = ClusterArchive.load(local, CLUSTER);
            RecoveryPlanner.Plan throughOld = new RecoveryPlanner(withOld).plan(RecoveryTarget.xid(xidPrepared.xid(), true), Optional.empty());
            assertThat(xidPrepared.holds(throughOld.stopAt().orElseThrow())).isTrue();
            assertThat(withOld.outdatedIndexes()).contains(preparedHome);
            assertThat(withOld.unreadableIndexes()).isEmpty();
            java.io.StringWriter oldReport = new java.io.StringWriter();
            assertThat(new ArchiveVerifier(ClusterArchive.load(local, CLUSTER), 2).verify(Optional.empty(), true,
                    new java.io.PrintWriter(oldReport), false)).filteredOn(p -> !p.contains("/backups/")).isEmpty();
            assertThat(oldReport.toString()).contains("1 segment indexes were written by an older pgvault").contains("catalog rebuild");
            Files.writeString(old, current);

            // Only before the newest backup: the older stretch is read, the older backup chosen.
            for (RecoveryTarget target : List.of(RecoveryTarget.name("only-old", true), RecoveryTarget.xid(xidOld.xid(), true))) {
                RecoveryPlanner.Plan plan = new RecoveryPlanner(ClusterArchive.load(local, CLUSTER)).plan(target, Optional.empty());
                assertThat(plan.backup().backupId()).as(target.toString()).isEqualTo("20261201T010000Z-000001");
                Spot expected = target.kind() == RecoveryTarget.Kind.XID ? xidOld : onlyOld;
                assertThat(expected.holds(plan.stopAt().orElseThrow())).as(target + " at " + plan.stopAt() + ", expected in " + expected).isTrue();
            }
            assertThat(dupOld.after().isBefore(b2Start)).as("the first 'dup' is before backup 2").isTrue();

            // Between the newest backup's start and its consistency point PostgreSQL could not stop: the older backup can.
            RecoveryPlanner.Plan plan = new RecoveryPlanner(ClusterArchive.load(local, CLUSTER))
                    .plan(RecoveryTarget.name("inside-backup-2", true), Optional.empty());
            assertThat(plan.backup().backupId()).isEqualTo("20261201T010000Z-000001");
            assertThat(inside.holds(plan.stopAt().orElseThrow())).isTrue();

            // A time target equal to the last archived commit's (as info prints it): PostgreSQL, inclusive, stops only at a later
            // commit, which is not archived: refused. Exclusive, it stops before that commit: planned.
            RecoveryWindow window = new RecoveryPlanner(ClusterArchive.load(local, CLUSTER)).windows().get(0);
            String lastCommit = window.lastCommitTime().orElseThrow().toString();
            assertThatThrownBy(() -> new RecoveryPlanner(ClusterArchive.load(local, CLUSTER)).plan(RecoveryTarget.time(lastCommit, true), Optional.empty()))
                    .isInstanceOf(RecoveryRefusedException.class).hasMessageContaining("is the time of the last archived commit")
                    .hasMessageContaining("--target latest");
            assertThat(new RecoveryPlanner(ClusterArchive.load(local, CLUSTER)).plan(RecoveryTarget.time(lastCommit, false), Optional.empty())
                    .backup().backupId()).isEqualTo("20261201T020000Z-000002");
            // A commit of that segment stamped later than the last one (a backend stamps its commit before it inserts the record,
            // so concurrent commits reach the WAL out of time order): PostgreSQL stops there for a target between the two, so
            // such a target is planned; one at that latest time is refused, naming it.
            WalFileName tail = WalFileName.segmentOf(io.pgvault.core.wal.TimelineId.FIRST, window.lastCommitLsn().orElseThrow(), size);
            Path tailIndex = indexes.resolve(RepositoryLayout.walIndexKey(CLUSTER, tail).substring(RepositoryLayout.walIndexPrefix(CLUSTER).length()));
            String tailJson = Files.readString(tailIndex);
            java.time.Instant later = java.time.Instant.parse(lastCommit).plusSeconds(1);
            Files.writeString(tailIndex, tailJson.replaceFirst("\"latest\":\"[^\"]+\"", "\"latest\":\"" + later + "\""));
            try {
                assertThat(new RecoveryPlanner(ClusterArchive.load(local, CLUSTER)).windows().get(0).latestCommitTime()).contains(later);
                assertThat(new RecoveryPlanner(ClusterArchive.load(local, CLUSTER)).plan(RecoveryTarget.time(later.minusMillis(500).toString(),
                        true), Optional.empty()).backup().backupId()).isEqualTo("20261201T020000Z-000002");
                assertThatThrownBy(() -> new RecoveryPlanner(ClusterArchive.load(local, CLUSTER)).plan(RecoveryTarget.time(later.toString(), true),
                        Optional.empty())).isInstanceOf(RecoveryRefusedException.class)
                        .hasMessageContaining("is the latest time an archived commit carries (" + later + "; the last commit in WAL")
                        .hasMessageContaining("carries " + lastCommit);
            } finally {
                Files.writeString(tailIndex, tailJson);
            }

            // Nowhere: refused, with the stretch searched and the window.
            assertThatThrownBy(() -> new RecoveryPlanner(ClusterArchive.load(local, CLUSTER))
                    .plan(RecoveryTarget.name("never-created", true), Optional.empty()))
                    .isInstanceOf(RecoveryRefusedException.class)
                    .hasMessageContaining("no restore point named 'never-created'")
                    .hasMessageContaining("from " + b1Start)
                    .hasMessageContaining("Recovery window on timeline 1");

            // A damaged manifest leaves out its backup only: the other still plans, and the damage is reported.
            Path newest = dir.resolve("repo").resolve(RepositoryLayout.backupManifest(CLUSTER, "20261201T020000Z-000002"));
            Files.writeString(newest, "{\"formatVersion\": 1, \"cluster\": \"main\", \"backupId\": \"20261201T020000Z-000002\"}");
            ClusterArchive damaged = ClusterArchive.load(local, CLUSTER);
            assertThat(damaged.unreadableBackups()).singleElement().satisfies(b -> {
                assertThat(b.backupId()).isEqualTo("20261201T020000Z-000002");
                assertThat(b.reason()).contains("manifest");
            });
            assertThat(new RecoveryPlanner(damaged).plan(RecoveryTarget.latest(), Optional.empty()).backup().backupId())
                    .isEqualTo("20261201T010000Z-000001");
            java.io.StringWriter report = new java.io.StringWriter();
            assertThat(new ArchiveVerifier(damaged, 2).verify(Optional.of("20261201T020000Z-000002"), false, new java.io.PrintWriter(report), false))
                    .singleElement().asString().contains("cannot be used");
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * A target time is compared with the time each backup became consistent on the clock that
     * stamped the commits, PostgreSQL's ({@link BackupManifest#pgFinishedAt}), never with
     * pgvault's ({@code finishedAt}). With pgvault's clock an hour behind, a target between
     * two backups picked the newer: PostgreSQL would have replayed from its start and stopped at
     * the first commit after it, past the target, with the rows committed in between (or
     * refused, had one been committed while it ran). An hour ahead, a target after the newer
     * backup was refused as before the oldest.
     */
    @Test
    void aTimeTargetPicksItsBackupByPostgresqlsClockWhateverPgvaultsClockSaid() throws Exception {
        Path dir = workDirectory("pgvault-planner-clock-it");
        Path walDir = dir.resolve("wal");
        int major = Fixtures.testMajors().get(0);
        try (PgCluster pg = archivingInto(major, walDir).start()) {
            pg.execute("CREATE TABLE t (id int)");
            pg.queryValue("SELECT pg_switch_wal()");
            Lsn b1Start = lsn(pg);
            pg.execute("INSERT INTO t VALUES (1)");
            Lsn b1End = lsn(pg);
            Instant b1Consistent = postgresClock(pg);
            pg.execute("INSERT INTO t VALUES (2)");
            // Between the backups, after row 2's commit: a recovery to here has rows 1 and 2, from backup 1 only.
            Instant between = postgresClock(pg);
            pg.queryValue("SELECT pg_switch_wal()");
            Lsn b2Start = lsn(pg);
            pg.execute("INSERT INTO t VALUES (3)");
            Lsn b2End = lsn(pg);
            Instant b2Consistent = postgresClock(pg);
            pg.execute("INSERT INTO t VALUES (4)");
            Instant afterBackup2 = postgresClock(pg);
            pg.execute("INSERT INTO t VALUES (5)");
            LocalDirectoryStore local = archiveEverything(pg, walDir, dir);
            String b1 = "20261201T010000Z-000001";
            String b2 = "20261201T020000Z-000002";
            assertThat(b2Consistent).isAfter(between);

            for (Duration pgvaultAhead : List.of(Duration.ofHours(-1), Duration.ZERO, Duration.ofHours(1))) {
                manifest(b1Start, b1End, b1, b1Consistent.plus(pgvaultAhead), b1Consistent, major).write(local);
                manifest(b2Start, b2End, b2, b2Consistent.plus(pgvaultAhead), b2Consistent, major).write(local);
                RecoveryPlanner planner = new RecoveryPlanner(ClusterArchive.load(local, CLUSTER));
                assertThat(planner.plan(RecoveryTarget.time(between.toString(), true), Optional.empty()).backup().backupId())
                        .as("pgvault's clock %s off", pgvaultAhead).isEqualTo(b1);
                assertThat(planner.plan(RecoveryTarget.time(afterBackup2.toString(), true), Optional.empty()).backup().backupId())
                        .as("pgvault's clock %s off", pgvaultAhead).isEqualTo(b2);
                assertThatThrownBy(() -> planner.plan(RecoveryTarget.time(b1Consistent.minusMillis(1).toString(), true), Optional.empty()))
                        .as("pgvault's clock %s off", pgvaultAhead).isInstanceOf(RecoveryRefusedException.class)
                        .hasMessageContaining("before the oldest usable backup finished (" + b1Consistent + " by PostgreSQL's clock)");
            }
            // Backups taken from a standby whose clock is an hour behind the primary's, which stamped the commits (and
            // pgvault's clock with it): the WAL itself shows that backup 2 needs row 3's commit, after the target, replayed.
            manifest(b1Start, b1End, b1, b1Consistent.minus(Duration.ofHours(1)), b1Consistent.minus(Duration.ofHours(1)), major).write(local);
            manifest(b2Start, b2End, b2, b2Consistent.minus(Duration.ofHours(1)), b2Consistent.minus(Duration.ofHours(1)), major).write(local);
            RecoveryPlanner standby = new RecoveryPlanner(ClusterArchive.load(local, CLUSTER));
            assertThat(standby.plan(RecoveryTarget.time(between.toString(), true), Optional.empty()).backup().backupId()).isEqualTo(b1);
            assertThat(standby.plan(RecoveryTarget.time(between.toString(), false), Optional.empty()).backup().backupId()).isEqualTo(b1);
            assertThat(standby.plan(RecoveryTarget.time(afterBackup2.toString(), true), Optional.empty()).backup().backupId()).isEqualTo(b2);
            // A backup whose PostgreSQL clock was not read (taken before pgvault read it) is judged by pgvault's clock, as before.
            manifest(b1Start, b1End, b1, b1Consistent, null, major).write(local);
            manifest(b2Start, b2End, b2, b2Consistent, null, major).write(local);
            RecoveryPlanner legacy = new RecoveryPlanner(ClusterArchive.load(local, CLUSTER));
            assertThat(legacy.plan(RecoveryTarget.time(between.toString(), true), Optional.empty()).backup().backupId()).isEqualTo(b1);
            assertThat(legacy.plan(RecoveryTarget.time(afterBackup2.toString(), true), Optional.empty()).backup().backupId()).isEqualTo(b2);
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * The last commit before a backup's end may begin in one segment and end in the next: it
     * is in neither segment's index (an index describes the records that begin and end in its
     * segment). Here it is the only commit past the target before the end of backup 2, whose
     * clock reading (a standby's, an hour behind) says nothing: the planner must read it across
     * the boundary and start from backup 1.
     */
    @Test
    void aCommitCrossingIntoTheEndSegmentCountsForATimeTarget() throws Exception {
        Path dir = workDirectory("pgvault-planner-crossing-it");
        Path walDir = dir.resolve("wal");
        int major = Fixtures.testMajors().get(0);
        WalSegmentSize size = WalSegmentSize.DEFAULT;
        try (PgCluster pg = archivingInto(major, walDir).start();
             java.sql.Connection writer = pg.connect(); java.sql.Statement st = writer.createStatement()) {
            pg.execute("CREATE TABLE t (id int)");
            pg.queryValue("SELECT pg_switch_wal()");
            Lsn b1Start = lsn(pg);
            pg.execute("INSERT INTO t VALUES (1)");
            Lsn b1End = lsn(pg);
            Instant b1Consistent = postgresClock(pg);
            pg.queryValue("SELECT pg_switch_wal()");
            Lsn b2Start = lsn(pg);
            pg.execute("INSERT INTO t VALUES (2)");
            Instant target = postgresClock(pg);
            // A transaction with a hundred subtransactions: its commit record lists them all (over 400 bytes).
            writer.setAutoCommit(false);
            for (int i = 0; i < 100; i++) {
                st.execute("SAVEPOINT s" + i);
                st.execute("INSERT INTO t VALUES (" + (100 + i) + ")");
                st.execute("RELEASE SAVEPOINT s" + i);
            }
            // WAL up to a few dozen bytes before the segment's end, so that the commit record crosses it.
            long segmentEnd = (b2Start.segmentNumber(size) + 1) * size.bytes();
            for (int i = 0; i < 10_000; i++) {
                long left = segmentEnd - lsn(pg).value();
                if (left <= 120) {
                    break;
                }
                // Less than what is left: a record also takes its header and the header of every page it crosses (24 bytes a page).
                long payload = Math.max(1, Math.min(left - left / 8192 * 24 - 300, 1 << 20));
                pg.queryValue("SELECT pg_logical_emit_message(false, 'pad', repeat('x', " + payload + "))");
            }
            long left = segmentEnd - lsn(pg).value();
            assertThat(left).as("room left in the segment before the commit, too little for it").isBetween(1L, 120L);
            writer.commit();
            writer.setAutoCommit(true);
            Lsn b2End = lsn(pg);
            assertThat(b2End.segmentNumber(size)).as("the commit ends in the next segment").isEqualTo(b2Start.segmentNumber(size) + 1);
            pg.execute("INSERT INTO t VALUES (3)");
            LocalDirectoryStore local = archiveEverything(pg, walDir, dir);
            String b1 = "20261201T010000Z-000001";
            String b2 = "20261201T020000Z-000002";
            manifest(b1Start, b1End, b1, b1Consistent.minus(Duration.ofHours(1)), b1Consistent.minus(Duration.ofHours(1)), major).write(local);
            manifest(b2Start, b2End, b2, target.minus(Duration.ofHours(1)), target.minus(Duration.ofHours(1)), major).write(local);
            RecoveryPlanner planner = new RecoveryPlanner(ClusterArchive.load(local, CLUSTER));
            assertThat(planner.plan(RecoveryTarget.time(target.toString(), true), Optional.empty()).backup().backupId()).isEqualTo(b1);
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static Instant postgresClock(PgCluster pg) throws InterruptedException {
        Instant now = Instant.parse(pg.queryValue("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
        Thread.sleep(5); // the next commit carries a later time
        return now;
    }

    /** A directory PostgreSQL's user may write, with {@code wal/} inside for archive_command to copy segments to. */
    private static Path workDirectory(String prefix) throws IOException {
        Path dir = Files.createTempDirectory(prefix);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createDirectories(dir.resolve("wal"));
        OsUser.own(dir);
        return dir;
    }

    private static PgCluster.Builder archivingInto(int major, Path walDir) {
        return PgCluster.builder(major).setting("archive_mode", "on").setting("archive_command", "cp %p " + walDir + "/%f");
    }

    /** Switches to a new segment, waits until archive_command copied the last one, and archives all into a new repository. */
    private static LocalDirectoryStore archiveEverything(PgCluster pg, Path walDir, Path dir) throws Exception {
        String last = pg.queryValue("SELECT pg_walfile_name(pg_switch_wal())");
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!Files.exists(walDir.resolve(last)) && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(walDir.resolve(last)).exists();
        LocalDirectoryStore local = new LocalDirectoryStore(dir.resolve("repo"));
        RepositoryFormat.initialize(local, "test");
        new ClusterDescriptor(CLUSTER, null, null, WalSegmentSize.DEFAULT.bytes(), pg.major(), "2026-12-01T00:00:00Z").write(local);
        WalArchiver archiver = new WalArchiver(local, Codecs.parse("zstd"), dir.resolve("spool"), "test", Clock.systemUTC());
        try (Stream<Path> files = Files.list(walDir)) {
            for (Path segment : files.filter(f -> f.getFileName().toString().matches("[0-9A-F]{24}")).sorted().toList()) {
                try (InputStream in = Files.newInputStream(segment)) {
                    archiver.archive(CLUSTER, ClusterIdentity.UNKNOWN, WalFileName.parse(segment.getFileName().toString()), in,
                            Files.size(segment));
                }
            }
        }
        return local;
    }

    /** The segments whose objects under {@code prefix} (segments or their indexes) the store was asked for. */
    private static List<Long> segmentsRead(FaultInjectingStore store, String prefix, WalSegmentSize size) {
        return store.gotKeys().stream()
                .filter(k -> k.startsWith(prefix) && !k.contains("/timelines/"))
                .map(k -> WalFileName.parse(k.substring(k.lastIndexOf('/') + 1).replace(".json", "")).segmentNumber(size)).toList();
    }

    private static Lsn lsn(PgCluster pg) {
        return Lsn.parse(pg.queryValue("SELECT pg_current_wal_insert_lsn()"));
    }

    private static Spot restorePoint(PgCluster pg, String name) {
        Lsn before = lsn(pg);
        Lsn after = Lsn.parse(pg.queryValue("SELECT pg_create_restore_point('" + name + "')"));
        return new Spot(before, after, null);
    }

    private static Spot commit(PgCluster pg) {
        Lsn before = lsn(pg);
        String xid = pg.queryValue("WITH x AS (INSERT INTO t VALUES (0, 'target') RETURNING txid_current() AS xid) SELECT xid FROM x");
        return new Spot(before, lsn(pg), xid);
    }

    /** A transaction ended by COMMIT PREPARED, whose record names it in its body (its header names transaction 0). */
    private static Spot preparedCommit(PgCluster pg) throws java.sql.SQLException {
        String xid;
        try (java.sql.Connection c = pg.connect(); java.sql.Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("INSERT INTO t VALUES (0, 'prepared target')");
            try (java.sql.ResultSet rs = st.executeQuery("SELECT txid_current()")) {
                rs.next();
                xid = rs.getString(1);
            }
            st.execute("PREPARE TRANSACTION 'target'");
            c.setAutoCommit(true);
        }
        Lsn before = lsn(pg);
        pg.execute("COMMIT PREPARED 'target'");
        return new Spot(before, lsn(pg), xid);
    }

    /** The planner reads only a manifest's positions; one (never fetched) piece makes it a manifest readers accept. */
    private static BackupManifest manifest(Lsn start, Lsn end, String id, String finishedAt, int major) {
        return manifest(start, end, id, Instant.parse(finishedAt), null, major);
    }

    /** @param pgFinishedAt PostgreSQL's clock at its end, null for a backup whose clock was not read */
    private static BackupManifest manifest(Lsn start, Lsn end, String id, Instant finishedAt, Instant pgFinishedAt, int major) {
        BackupManifest.Piece piece = new BackupManifest.Piece("base.tar", null, 0,
                io.pgvault.core.repo.RepositoryLayout.backupPiece(CLUSTER, id, "base.tar", 0), 0, 0, "0".repeat(64), 0);
        return new BackupManifest(BackupManifest.FORMAT, id, CLUSTER, id, null, major, WalSegmentSize.DEFAULT.bytes(), 1, start.toString(), 1,
                end.toString(), finishedAt.toString(), finishedAt.toString(), "zstd", 0, 0, List.of(piece), null, null,
                pgFinishedAt == null ? null : pgFinishedAt.toString());
    }
}

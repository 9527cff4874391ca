package io.pgvault.core.pgproto;

import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Physical streaming against real PostgreSQL: the bytes streamed for a segment are the
 * bytes of that segment in pg_wal, the slot keeps what was not reported flushed and lets
 * go of what was, and the end of a timeline is reported with where the next one starts.
 */
class PhysicalStreamTest {

    /** Collects one segment and reports it flushed once complete. */
    static final class SegmentCollector implements PhysicalStream.Handler {
        final boolean stopWhenFull;
        final Lsn segmentStart;
        final long segmentBytes;
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Lsn written;
        Lsn flushed;

        SegmentCollector(Lsn segmentStart, long segmentBytes, boolean stopWhenFull) {
            this.stopWhenFull = stopWhenFull;
            this.segmentStart = segmentStart;
            this.segmentBytes = segmentBytes;
            this.written = segmentStart;
            this.flushed = segmentStart;
        }

        @Override
        public void wal(Lsn start, byte[] data, int offset, int length) {
            assertThat(start).as("no gap").isEqualTo(written);
            int take = (int) Math.min(length, segmentBytes - bytes.size());
            bytes.write(data, offset, take);
            written = start.plus(length);
            if (bytes.size() == segmentBytes) {
                flushed = segmentStart.plus(segmentBytes);
            }
        }

        @Override
        public void tick() {
        }

        @Override
        public Lsn written() {
            return written;
        }

        @Override
        public Lsn flushed() {
            return flushed;
        }

        @Override
        public boolean stopRequested() {
            return stopWhenFull && bytes.size() == segmentBytes;
        }
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {15, 17})
    void streamsTheBytesOfTheSegmentAndMovesTheSlotOnlyAsFarAsFlushed(int major) throws IOException {
        try (PgCluster pg = PgCluster.builder(major).start();
             ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres"), "pgvault-test")) {
            assertThat(rc.createPhysicalSlot("pgvault_test")).isTrue();
            assertThat(rc.createPhysicalSlot("pgvault_test")).as("an existing slot is reused").isFalse();
            WalSegmentSize size = WalSegmentSize.DEFAULT;
            ReplicationConnection.SystemIdentity id = rc.identifySystem();
            Lsn segmentStart = size.startOf(id.position().segmentNumber(size));
            String slotBefore = pg.queryValue("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'pgvault_test'");
            assertThat(Lsn.parse(slotBefore)).isLessThanOrEqualTo(id.position());

            pg.execute("CREATE TABLE t (id int, v text)", "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
            pg.queryValue("SELECT pg_switch_wal()");
            SegmentCollector collector = new SegmentCollector(segmentStart, size.bytes(), true);
            PhysicalStream.End end = rc.streamPhysical("pgvault_test", segmentStart, id.timeline(), collector, 200);
            assertThat(end.nextTimeline()).isEmpty();

            WalFileName name = WalFileName.segmentOf(id.timeline(), segmentStart, size);
            byte[] onDisk = Files.readAllBytes(pg.dataDirectory().resolve("pg_wal").resolve(name.toString()));
            assertThat(collector.bytes.toByteArray()).as(name + " streamed byte for byte").isEqualTo(onDisk);
            // The slot now only keeps WAL after what was reported flushed.
            Lsn restart = Lsn.parse(pg.queryValue("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'pgvault_test'"));
            assertThat(restart).isEqualTo(segmentStart.plus(size.bytes()));
            // The connection is usable again after streaming ends.
            assertThat(rc.identifySystem().systemIdentifier()).isEqualTo(id.systemIdentifier());
        }
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {17})
    void theEndOfATimelineNamesTheNextAndItsHistoryComesFromTheServer(int major) throws Exception {
        try (PgCluster pg = PgCluster.builder(major).start()) {
            pg.execute("CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)");
            // Archive recovery that runs out of WAL and promotes: timeline 1 ends, timeline 2 begins.
            pg.stop();
            pg.appendConf(java.util.Map.of("restore_command", "false"));
            pg.touch("recovery.signal");
            pg.start();
            pg.awaitRecoveryEnd(java.time.Duration.ofSeconds(60));
            Lsn switchPoint = TimelineHistory.parse(new TimelineId(2), Files.readAllBytes(pg.dataDirectory().resolve("pg_wal/00000002.history")))
                    .switchPointOf(TimelineId.FIRST).orElseThrow();
            try (ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres"),
                    "pgvault-test")) {
                byte[] history = rc.timelineHistory(new TimelineId(2));
                assertThat(TimelineHistory.parse(new TimelineId(2), history).switchPointOf(TimelineId.FIRST)).contains(switchPoint);
                WalSegmentSize size = WalSegmentSize.DEFAULT;
                Lsn from = size.startOf(switchPoint.segmentNumber(size));
                SegmentCollector collector = new SegmentCollector(from, size.bytes(), false);
                PhysicalStream.End end = rc.streamPhysical(null, from, TimelineId.FIRST, collector, 200);
                assertThat(end.nextTimeline()).contains(new TimelineId(2));
                assertThat(end.nextTimelineStart()).contains(switchPoint);
                assertThat(collector.written).isEqualTo(switchPoint);
            }
        }
    }

    /**
     * The clock a backup's recovery targets are judged by ({@code BackupManifest#pgFinishedAt})
     * is PostgreSQL's own, read from the walsender, and reading it reports no WAL as received:
     * with {@code synchronous_standby_names = '*'} a commit waiting for a synchronous standby
     * stays waiting, where a status update naming the server's flush position would release it
     * with its WAL on no standby at all.
     */
    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {15, 17})
    void theServersClockIsReadWithoutClaimingAnyWal(int major) throws Exception {
        try (PgCluster pg = PgCluster.builder(major).start();
             ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres"), "pgvault-test")) {
            pg.execute("CREATE TABLE t (id int)");
            java.time.Instant before = postgresClock(pg);
            java.time.Instant read = rc.serverClock(10_000).orElseThrow();
            java.time.Instant after = postgresClock(pg);
            assertThat(read).isBetween(before, after);
            assertThat(rc.serverClock(10_000)).as("again, on the same connection").isPresent();
            assertThat(rc.identifySystem().position()).as("the connection is usable afterwards").isNotNull();

            pg.appendConf(java.util.Map.of("synchronous_standby_names", "*"));
            pg.queryValue("SELECT pg_reload_conf()");
            java.util.concurrent.CompletableFuture<Void> waiting = java.util.concurrent.CompletableFuture.runAsync(() -> pg.execute("INSERT INTO t VALUES (1)"));
            pg.awaitValue("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'", "1", java.time.Duration.ofSeconds(30));
            assertThat(rc.serverClock(10_000)).isPresent();
            Thread.sleep(500);
            assertThat(waiting).as("the commit still waits for a synchronous standby").isNotDone();
            pg.appendConf(java.util.Map.of("synchronous_standby_names", ""));
            pg.queryValue("SELECT pg_reload_conf()");
            waiting.get(30, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    /**
     * A walsender that stops answering (its process stopped here with SIGSTOP) fails the clock
     * read within its timeout instead of holding a finished backup for hours.
     */
    @org.junit.jupiter.api.Test
    void aWalsenderThatStopsAnsweringFailsTheClockReadInTime() throws Exception {
        try (PgCluster pg = PgCluster.builder(17).start();
             ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres"), "pgvault-stalled")) {
            String pid = pg.queryValue("SELECT pid FROM pg_stat_activity WHERE application_name = 'pgvault-stalled'");
            new ProcessBuilder("kill", "-STOP", pid).start().waitFor();
            try {
                long start = System.nanoTime();
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> rc.serverClock(1_000)).isInstanceOf(IOException.class);
                assertThat(java.time.Duration.ofNanos(System.nanoTime() - start)).isLessThan(java.time.Duration.ofSeconds(10));
            } finally {
                new ProcessBuilder("kill", "-CONT", pid).start().waitFor();
            }
        }
    }

    private static java.time.Instant postgresClock(PgCluster pg) {
        return java.time.Instant.parse(pg.queryValue("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
    }
}

package io.pgvault.core.wal;

import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Commit, abort and restore-point records found in WAL written by real PostgreSQL (the oldest and a new record format). */
class WalRecordScannerTest {

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {14, 17})
    void findsEveryCommitAbortAndRestorePointWithItsTimeAndPosition(int major) throws IOException, SQLException {
        try (PgCluster pg = PgCluster.builder(major).setting("wal_level", "replica").start()) {
            pg.execute("CREATE TABLE t (id int primary key, v text)");
            // A checkpoint first, so the inserts carry full-page images (block headers with images before the main data).
            pg.execute("CHECKPOINT");
            Instant before = Instant.now().minusSeconds(1);
            List<Long> committed = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                committed.add(Long.parseLong(pg.queryValue("WITH ins AS (INSERT INTO t SELECT g, repeat(md5(g::text), 20) FROM generate_series("
                        + (i * 1000 + 1) + ", " + (i * 1000 + 1000) + ") g RETURNING 1) SELECT txid_current() FROM (SELECT count(*) FROM ins) c")));
            }
            long aborted;
            try (Connection c = pg.connect(); Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                st.execute("INSERT INTO t VALUES (-1, 'x')");
                try (ResultSet rs = st.executeQuery("SELECT txid_current()")) {
                    rs.next();
                    aborted = rs.getLong(1);
                }
                c.rollback();
            }
            Lsn pointEnd = Lsn.parse(pg.queryValue("SELECT pg_create_restore_point('before-the-end')"));
            Instant after = Instant.now().plusSeconds(1);
            Lsn switchedAt = Lsn.parse(pg.queryValue("SELECT pg_switch_wal()"));

            List<WalRecordScanner.Event> events = new ArrayList<>();
            WalRecordScanner scanner = new WalRecordScanner(events::add);
            WalSegmentSize size = WalSegmentSize.DEFAULT;
            for (Path file : pg.walFiles()) {
                WalFileName.tryParse(file.getFileName().toString()).filter(n -> n.kind() == WalFileName.Kind.SEGMENT).ifPresent(name -> {
                    try {
                        scanner.accept(name.startLsn(size), Files.readAllBytes(file));
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
            }

            List<Long> commits = events.stream().filter(e -> e.kind() == WalRecordScanner.Kind.COMMIT).map(WalRecordScanner.Event::xid).toList();
            assertThat(commits).containsAll(committed);
            assertThat(events).filteredOn(e -> committed.contains(e.xid()))
                    .allSatisfy(e -> assertThat(e.time()).isBetween(before, after));
            assertThat(events).anyMatch(e -> e.xid() == aborted && e.kind() == WalRecordScanner.Kind.ABORT);
            assertThat(events).noneMatch(e -> e.xid() == aborted && e.kind() == WalRecordScanner.Kind.COMMIT);
            WalRecordScanner.Event point = events.stream().filter(e -> e.kind() == WalRecordScanner.Kind.RESTORE_POINT).findFirst().orElseThrow();
            assertThat(point.name()).isEqualTo("before-the-end");
            assertThat(point.end()).isEqualTo(pointEnd);
            assertThat(point.time()).isBetween(before, after);
            // pg_switch_wal() returns the end of the switch record: the last valid WAL, the rest of the segment is padding.
            assertThat(scanner.endOfValidWal()).isEqualTo(switchedAt);
        }
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {17})
    void aDamagedRecordEndsTheValidWal(int major) throws IOException {
        try (PgCluster pg = PgCluster.builder(major).start()) {
            pg.execute("CREATE TABLE t (id int)");
            Lsn middle = Lsn.parse(pg.queryValue("SELECT pg_current_wal_insert_lsn()"));
            for (int i = 0; i < 20; i++) {
                pg.execute("INSERT INTO t VALUES (" + i + ")");
            }
            Lsn end = Lsn.parse(pg.queryValue("SELECT pg_current_wal_insert_lsn()"));
            pg.stop();
            WalSegmentSize size = WalSegmentSize.DEFAULT;
            WalFileName name = WalFileName.segmentOf(TimelineId.FIRST, end, size);
            byte[] bytes = Files.readAllBytes(pg.dataDirectory().resolve("pg_wal").resolve(name.toString()));
            List<WalRecordScanner.Event> intact = new ArrayList<>();
            WalRecordScanner whole = new WalRecordScanner(intact::add);
            whole.accept(name.startLsn(size), bytes.clone());
            assertThat(intact.stream().filter(e -> e.kind() == WalRecordScanner.Kind.COMMIT)).hasSizeGreaterThanOrEqualTo(20);

            // The insert position is where the next record starts: damage a byte of its payload, past the 24-byte header.
            int damaged = (int) middle.segmentOffset(size) + 26;
            bytes[damaged] ^= 0x55;
            List<WalRecordScanner.Event> events = new ArrayList<>();
            WalRecordScanner scanner = new WalRecordScanner(events::add);
            scanner.accept(name.startLsn(size), bytes);
            assertThat(scanner.reachedEnd()).isTrue();
            assertThat(scanner.endOfValidWal()).isLessThanOrEqualTo(middle);
            assertThat(events.size()).isLessThan(intact.size());
        }
    }
}

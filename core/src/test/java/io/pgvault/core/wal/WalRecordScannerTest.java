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

    /**
     * COMMIT PREPARED and ROLLBACK PREPARED name the transaction they end in their body, after
     * the parts their xinfo announces, while their header names transaction 0: each optional part
     * before it (subtransactions, dropped relations, dropped statistics from 15 on, 16 bytes an
     * item from 18, invalidation messages), and a record longer than the part of a record copied
     * for any other kind.
     */
    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {14, 16, 18})
    void findsTheTransactionsPreparedTransactionsEndInTheirBody(int major) throws IOException, SQLException {
        try (PgCluster pg = PgCluster.builder(major).setting("max_prepared_transactions", "5").start()) {
            pg.execute("CREATE TABLE t (id int)", "CREATE TABLE doomed (id int)");
            Instant before = Instant.now().minusSeconds(1);
            long small = prepare(pg, "small", "INSERT INTO t VALUES (1)");
            pg.execute("COMMIT PREPARED 'small'");
            long withParts = prepare(pg, "parts", "INSERT INTO t VALUES (2)", "SAVEPOINT s", "INSERT INTO t VALUES (3)", "CREATE TABLE made (id int)",
                    "DROP TABLE doomed");
            pg.execute("COMMIT PREPARED 'parts'");
            long rolledBack = prepare(pg, "undone", "CREATE TABLE never (id int)", "INSERT INTO never VALUES (1)", "SAVEPOINT s",
                    "INSERT INTO never VALUES (2)");
            pg.execute("ROLLBACK PREPARED 'undone'");
            // 20,000 subtransactions with an xid each: 80 KB of subtransaction ids before the one it ends.
            long large = prepare(pg, "large", "DO $$ BEGIN FOR i IN 1..20000 LOOP BEGIN INSERT INTO t VALUES (i); "
                    + "EXCEPTION WHEN division_by_zero THEN NULL; END; END LOOP; END $$");
            Lsn beforeLarge = Lsn.parse(pg.queryValue("SELECT pg_current_wal_insert_lsn()"));
            pg.execute("COMMIT PREPARED 'large'");
            Instant after = Instant.now().plusSeconds(1);
            pg.queryValue("SELECT pg_switch_wal()");

            WalSegmentSize size = WalSegmentSize.DEFAULT;
            java.util.TreeMap<WalFileName, byte[]> segments = new java.util.TreeMap<>();
            for (Path file : pg.walFiles()) {
                WalFileName.tryParse(file.getFileName().toString()).filter(n -> n.kind() == WalFileName.Kind.SEGMENT)
                        .ifPresent(name -> segments.put(name, read(file)));
            }
            List<WalRecordScanner.Event> events = new ArrayList<>();
            WalRecordScanner scanner = new WalRecordScanner(events::add);
            segments.forEach((name, bytes) -> scanner.accept(name.startLsn(size), bytes));

            for (var expected : List.of(java.util.Map.entry(small, WalRecordScanner.Kind.COMMIT), java.util.Map.entry(withParts, WalRecordScanner.Kind.COMMIT),
                    java.util.Map.entry(rolledBack, WalRecordScanner.Kind.ABORT), java.util.Map.entry(large, WalRecordScanner.Kind.COMMIT))) {
                List<WalRecordScanner.Event> ends = events.stream().filter(e -> e.xid() == expected.getKey()).toList();
                assertThat(ends).as("transaction %d", expected.getKey()).singleElement().satisfies(e -> {
                    assertThat(e.kind()).isEqualTo(expected.getValue());
                    assertThat(e.time()).isBetween(before, after);
                    // The header's xid: 0, the session that ran COMMIT PREPARED had none (what a cut header's rule relies on).
                    WalFileName home = WalFileName.segmentOf(TimelineId.FIRST, e.start(), size);
                    int offset = (int) e.start().segmentOffset(size);
                    assertThat(offset % WalRecordScanner.BLCKSZ).isLessThanOrEqualTo(WalRecordScanner.BLCKSZ - 8);
                    assertThat(java.nio.ByteBuffer.wrap(segments.get(home)).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(offset + 4)).isZero();
                });
            }
            assertThat(events).noneMatch(e -> e.xid() == WalRecordScanner.UNKNOWN_XID);
            WalRecordScanner.Event largeEnd = events.stream().filter(e -> e.xid() == large).findFirst().orElseThrow();
            assertThat(largeEnd.end().minus(largeEnd.start())).as("longer than the 64 KiB copied of other records").isGreaterThan(80_000);
            assertThat(largeEnd.start()).isGreaterThanOrEqualTo(beforeLarge);

            // Fed up to the page after the large record's header, it is unfinished: the transaction it ends is in the part not
            // yet read. (A header that a page's end cuts is whole on the next page, after that page's 24-byte header.)
            WalFileName home = WalFileName.segmentOf(TimelineId.FIRST, largeEnd.start(), size);
            long headerEnd = largeEnd.start().segmentOffset(size) + WalRecordScanner.RECORD_HEADER;
            if ((headerEnd - 1) / WalRecordScanner.BLCKSZ > largeEnd.start().segmentOffset(size) / WalRecordScanner.BLCKSZ) {
                headerEnd += 24;
            }
            int cutAt = (int) ((headerEnd - 1) / WalRecordScanner.BLCKSZ + 1) * WalRecordScanner.BLCKSZ;
            WalRecordScanner cut = new WalRecordScanner(e -> { });
            cut.accept(home.startLsn(size), java.util.Arrays.copyOf(segments.get(home), cutAt));
            WalRecordScanner.Unfinished open = cut.unfinished().orElseThrow();
            assertThat(open.start()).isEqualTo(largeEnd.start());
            assertThat(open.prepared()).isTrue();
            assertThat(open.mayBe(large, false)).isTrue();
            assertThat(open.mayBe(large + 12345, false)).as("any transaction: it is named past the cut").isTrue();
            assertThat(open.mayBe(-1, true)).isFalse();
        }
    }

    /** Runs {@code statements} in a transaction and prepares it as {@code gid}; returns its xid. */
    private static long prepare(PgCluster pg, String gid, String... statements) throws SQLException {
        try (Connection c = pg.connect(); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            for (String statement : statements) {
                st.execute(statement);
            }
            long xid;
            try (ResultSet rs = st.executeQuery("SELECT txid_current()")) {
                rs.next();
                xid = rs.getLong(1);
            }
            st.execute("PREPARE TRANSACTION '" + gid + "'");
            c.setAutoCommit(true);
            return xid;
        }
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
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

package io.pgvault.core.archive;

import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalRecordScanner;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A segment's index, built from real WAL as it streams past in chunks of any size, says
 * exactly what reading the segment says: its transactions' range and last one, its restore
 * points, where its valid WAL ends, and the record that continues into the next segment.
 */
class WalSegmentIndexTest {

    // Small segments: many boundaries for records to cross, and a size other than the default.
    private static final WalSegmentSize SIZE = new WalSegmentSize(1 << 20);

    @Test
    void anIndexSaysWhatReadingItsSegmentSays() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-index-test");
        try (PgCluster pg = PgCluster.builder(Fixtures.testMajors().get(0)).walSegmentSizeMb(1).setting("wal_level", "replica").start()) {
            pg.execute("CREATE TABLE t (id int, v text)");
            // Thousands of small transactions (commit records everywhere, some across pages and segments), an abort, a restore point.
            for (int i = 0; i < 3; i++) {
                pg.execute("DO $$ BEGIN FOR i IN 1..4000 LOOP INSERT INTO t VALUES (i, repeat('v', 900)); COMMIT; END LOOP; END $$");
            }
            pg.execute("BEGIN; INSERT INTO t VALUES (-1, 'gone'); ROLLBACK");
            Lsn pointEnd = Lsn.parse(pg.queryValue("SELECT pg_create_restore_point('after-the-load')"));
            pg.execute("INSERT INTO t VALUES (0, 'last')");
            Lsn switched = Lsn.parse(pg.queryValue("SELECT pg_switch_wal()"));

            TreeMap<WalFileName, byte[]> segments = new TreeMap<>();
            for (Path file : pg.walFiles()) {
                Optional<WalFileName> name = WalFileName.tryParse(file.getFileName().toString()).filter(n -> n.kind() == WalFileName.Kind.SEGMENT);
                if (name.isPresent() && !name.get().startLsn(SIZE).isAfter(switched)) {
                    segments.put(name.get(), Files.readAllBytes(file));
                }
            }
            assertThat(segments).hasSizeGreaterThanOrEqualTo(3);

            // Everything one continuous read reports, and what each segment read alone reports.
            List<WalRecordScanner.Event> all = new ArrayList<>();
            WalRecordScanner continuous = new WalRecordScanner(all::add);
            Random random = new Random(42);
            boolean sawUnfinishedCommit = false;
            boolean sawCutHeader = false;
            for (var entry : segments.entrySet()) {
                WalFileName name = entry.getKey();
                byte[] bytes = entry.getValue();
                continuous.accept(name.startLsn(SIZE), bytes);
                List<WalRecordScanner.Event> alone = new ArrayList<>();
                WalRecordScanner scanner = new WalRecordScanner(alone::add);
                scanner.accept(name.startLsn(SIZE), bytes);

                WalSegmentIndex whole = WalSegmentIndexer.of(name, SIZE, bytes).orElseThrow();
                assertThat(chunked(name, bytes, random)).as("fed in random chunks").isEqualTo(whole);

                List<WalRecordScanner.Event> transactions = alone.stream().filter(e -> e.kind() != WalRecordScanner.Kind.RESTORE_POINT).toList();
                assertThat(whole.transactions()).as(name.toString()).isEqualTo(transactions.size());
                if (!transactions.isEmpty()) {
                    assertThat(whole.minXid()).isEqualTo(transactions.stream().mapToLong(WalRecordScanner.Event::xid).min().getAsLong());
                    assertThat(whole.maxXid()).isEqualTo(transactions.stream().mapToLong(WalRecordScanner.Event::xid).max().getAsLong());
                    assertThat(whole.lastTransaction()).contains(transactions.get(transactions.size() - 1));
                    assertThat(whole.earliest()).isEqualTo(transactions.stream().map(WalRecordScanner.Event::time).min(Instant::compareTo)
                            .orElseThrow().toString());
                    assertThat(whole.latestTransactionTime()).isEqualTo(transactions.stream().map(WalRecordScanner.Event::time)
                            .max(Instant::compareTo));
                    transactions.forEach(e -> assertThat(whole.mayHoldTransaction(e.xid())).isTrue());
                }
                assertThat(whole.endOfValidWal()).contains(scanner.endOfValidWal());
                assertThat(whole.restorePoints()).hasSize((int) alone.stream().filter(e -> e.kind() == WalRecordScanner.Kind.RESTORE_POINT).count());

                // A segment cut just after a commit record's first page: that commit continues "into the next segment".
                for (WalRecordScanner.Event commit : transactions) {
                    long startPage = commit.start().segmentOffset(SIZE) / WalRecordScanner.BLCKSZ;
                    long endPage = (commit.end().segmentOffset(SIZE) - 1) / WalRecordScanner.BLCKSZ;
                    if (commit.kind() == WalRecordScanner.Kind.COMMIT && endPage > startPage && !sawUnfinishedCommit) {
                        WalSegmentIndexer cut = new WalSegmentIndexer();
                        cut.update(bytes, 0, (int) (startPage + 1) * WalRecordScanner.BLCKSZ);
                        WalSegmentIndex.Unfinished unfinished = cut.index(name, SIZE).orElseThrow().unfinished();
                        assertThat(unfinished.start()).isEqualTo(commit.start().toString());
                        assertThat(unfinished.kind()).isEqualTo("commit");
                        assertThat(unfinished.xid()).isEqualTo(commit.xid());
                        assertThat(cut.index(name, SIZE).orElseThrow().unfinishedMayBe(commit.xid(), false)).isTrue();
                        assertThat(cut.index(name, SIZE).orElseThrow().unfinishedMayBe(commit.xid() + 1, false)).isFalse();
                        sawUnfinishedCommit = true;
                    }
                    // A short commit (the loop's, not the catalog's with invalidations) whose 24-byte header the page's end
                    // cuts: cut there, its kind is unknown, but not its length and transaction, which rule it out as a
                    // restore point or another transaction's commit. Its span counts the next page's 24-byte header.
                    long startOffset = commit.start().segmentOffset(SIZE);
                    if (commit.kind() == WalRecordScanner.Kind.COMMIT && WalRecordScanner.BLCKSZ - startOffset % WalRecordScanner.BLCKSZ < 24
                            && commit.end().minus(commit.start()) < 24 + 72 && !sawCutHeader) {
                        WalSegmentIndexer cut = new WalSegmentIndexer();
                        cut.update(bytes, 0, (int) (startPage + 1) * WalRecordScanner.BLCKSZ);
                        WalSegmentIndex index = cut.index(name, SIZE).orElseThrow();
                        assertThat(index.unfinished().start()).isEqualTo(commit.start().toString());
                        assertThat(index.unfinished().kind()).isEqualTo("unknown");
                        assertThat(index.unfinished().xid()).isEqualTo(commit.xid());
                        assertThat(index.unfinishedMayBe(commit.xid(), false)).isTrue();
                        assertThat(index.unfinishedMayBe(commit.xid() + 1, false)).as("another transaction's").isFalse();
                        assertThat(index.unfinishedMayBe(-1, true)).as("%d bytes: too short for a restore point", index.unfinished().length())
                                .isFalse();
                        sawCutHeader = true;
                    }
                }
            }
            assertThat(sawUnfinishedCommit).as("some commit record crossed a page").isTrue();
            assertThat(sawCutHeader).as("some commit record's header crossed a page").isTrue();

            // Every transaction a continuous read finds is in the index of the segment it starts in, or that segment's unfinished record.
            for (WalRecordScanner.Event e : all) {
                WalFileName home = WalFileName.segmentOf(TimelineId.FIRST, e.start(), SIZE);
                WalSegmentIndex index = WalSegmentIndexer.of(home, SIZE, segments.get(home)).orElseThrow();
                if (e.kind() == WalRecordScanner.Kind.RESTORE_POINT) {
                    assertThat(index.restorePoint(e.name(), e.start()).isPresent() || index.unfinishedMayBe(-1, true)).as(e.toString()).isTrue();
                } else {
                    assertThat(index.mayHoldTransaction(e.xid()) || index.unfinishedMayBe(e.xid(), false)).as(e.toString()).isTrue();
                }
            }
            WalFileName last = WalFileName.segmentOf(TimelineId.FIRST, pointEnd, SIZE);
            WalSegmentIndex lastIndex = WalSegmentIndexer.of(last, SIZE, segments.get(last)).orElseThrow();
            assertThat(lastIndex.restorePoint("after-the-load", last.startLsn(SIZE))).hasValueSatisfying(p -> assertThat(p.end()).isEqualTo(pointEnd));

            // Stored and read back; a different segment's bytes or a cut feed give no index at all.
            LocalDirectoryStore store = new LocalDirectoryStore(dir.resolve("repo"));
            lastIndex.write(store, "main");
            assertThat(WalSegmentIndex.read(store, "main", last, SIZE)).contains(lastIndex);
            WalFileName other = segments.firstKey();
            if (!other.equals(last)) {
                assertThat(WalSegmentIndexer.of(last, SIZE, segments.get(other))).isEmpty();
            }
            WalSegmentIndexer partial = new WalSegmentIndexer();
            partial.update(segments.get(last), 0, 100);
            assertThat(partial.index(last, SIZE)).isEmpty();

            // Untrusted: an index claiming another segment, or positions outside its own, is refused naming the object.
            Path file = dir.resolve("repo").resolve(RepositoryLayout.walIndexKey("main", last));
            String json = Files.readString(file);
            Files.writeString(file, json.replace("\"segment\":\"" + last + "\"", "\"segment\":\"" + other + "\""));
            if (!other.equals(last)) {
                assertThatThrownBy(() -> WalSegmentIndex.read(store, "main", last, SIZE)).isInstanceOf(CorruptObjectException.class)
                        .hasMessageContaining(RepositoryLayout.walIndexKey("main", last)).hasMessageContaining("not " + last);
            }
            Files.writeString(file, json.replace("\"end\":\"" + lastIndex.end() + "\"", "\"end\":\"FF/0\""));
            assertThatThrownBy(() -> WalSegmentIndex.read(store, "main", last, SIZE)).isInstanceOf(CorruptObjectException.class)
                    .hasMessageContaining("outside its segment");
            Files.writeString(file, "{\"format\": 1, \"segment\": ");
            assertThatThrownBy(() -> WalSegmentIndex.read(store, "main", last, SIZE)).isInstanceOf(CorruptObjectException.class)
                    .hasMessageContaining("catalog rebuild");
            Files.writeString(file, json.replace("{\"name\":\"after-the-load\"", "{\"name\":null"));
            assertThatThrownBy(() -> WalSegmentIndex.read(store, "main", last, SIZE)).isInstanceOf(CorruptObjectException.class)
                    .hasMessageContaining("field missing");
            // A time range that does not hold the last transaction's time, or one where there are no transactions.
            Files.writeString(file, json.replace("\"latest\":\"" + lastIndex.latest() + "\"", "\"latest\":\"2000-01-01T00:00:00Z\""));
            assertThatThrownBy(() -> WalSegmentIndex.read(store, "main", last, SIZE)).isInstanceOf(CorruptObjectException.class)
                    .hasMessageContaining("does not hold its last one's time");
            Files.writeString(file, json.replace("\"earliest\":\"" + lastIndex.earliest() + "\",", ""));
            assertThatThrownBy(() -> WalSegmentIndex.read(store, "main", last, SIZE)).isInstanceOf(CorruptObjectException.class)
                    .hasMessageContaining("field missing");
            Files.writeString(file, json.substring(0, json.length() - 1) + ",\"padding\":\"" + "x".repeat(2 << 20) + "\"}");
            assertThatThrownBy(() -> WalSegmentIndex.read(store, "main", last, SIZE)).isInstanceOf(CorruptObjectException.class)
                    .hasMessageContaining("larger than");
            String format = "\"format\":" + WalSegmentIndex.FORMAT;
            assertThat(json).contains(format);
            assertThat(WalSegmentIndex.outdated(store, "main", last)).as("unreadable").isTrue();
            Files.writeString(file, json.replace(format, "\"format\":99"));
            assertThat(WalSegmentIndex.read(store, "main", last, SIZE)).as("a newer format is not read: the segment is").isEmpty();
            assertThat(WalSegmentIndex.outdated(store, "main", last)).as("a newer index is left alone").isFalse();
            Files.writeString(file, json.replace(format, "\"format\":1"));
            assertThatThrownBy(() -> WalSegmentIndex.read(store, "main", last, SIZE)).as("format 1 left out prepared transactions: the segment is read")
                    .isInstanceOf(WalSegmentIndex.OutdatedException.class).isNotInstanceOf(CorruptObjectException.class)
                    .hasMessageContaining("format 1").hasMessageContaining("catalog rebuild");
            Files.writeString(file, json.replace(format, "\"format\":2"));
            assertThatThrownBy(() -> WalSegmentIndex.read(store, "main", last, SIZE)).as("format 2 left out the time range")
                    .isInstanceOf(WalSegmentIndex.OutdatedException.class).hasMessageContaining("format 2");
            assertThat(WalSegmentIndex.outdated(store, "main", last)).isTrue();
            Files.writeString(file, json);
            assertThat(WalSegmentIndex.outdated(store, "main", last)).isFalse();
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    @Test
    void craftedPageHeadersNeverFailTheIndexerOrThePush() {
        byte[] segment = new byte[(int) SIZE.bytes()];
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(segment).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        // A long first page header at 0/1000000, then a second page that claims a continuation of -2^31 bytes.
        b.putShort(0, (short) 0xD110).putShort(2, (short) 0x0002).putInt(4, 1).putLong(8, SIZE.bytes()).putInt(16, 0);
        b.putShort(8192, (short) 0xD110).putShort(8194, (short) 0x0001).putInt(8196, 1).putLong(8200, SIZE.bytes() + 8192)
                .putInt(8208, Integer.MIN_VALUE);
        WalFileName name = WalFileName.parse("000000010000000000000001");
        assertThat(WalSegmentIndexer.of(name, SIZE, segment)).hasValueSatisfying(i -> assertThat(i.transactions()).isZero());
        new Random(7).nextBytes(segment);
        assertThat(WalSegmentIndexer.of(name, SIZE, segment)).as("not this segment's bytes: no index, no exception").isEmpty();
    }

    @Test
    void aRecordWhoseHeaderIsCutIsJudgedByItsLengthAndTransaction() {
        // 98 bytes: the shortest restore point (header, data header, time and a 64-byte name); 34: the shortest commit or abort.
        assertThat(cutHeader(98, null).unfinishedMayBe(-1, true)).isTrue();
        assertThat(cutHeader(97, null).unfinishedMayBe(-1, true)).isFalse();
        assertThat(cutHeader(34, 5L).unfinishedMayBe(5, false)).isTrue();
        assertThat(cutHeader(33, 5L).unfinishedMayBe(5, false)).isFalse();
        assertThat(cutHeader(100, 6L).unfinishedMayBe(5, false)).as("another transaction's").isFalse();
        assertThat(cutHeader(100, null).unfinishedMayBe(5, false)).as("an index written before the xid was recorded").isTrue();
        assertThat(cutHeader(100, null).mayHoldTransaction(5)).isFalse();
        assertThat(cutHeader(100, 0L).unfinishedMayBe(5, false)).as("transaction 0's: COMMIT PREPARED names the one it ends in its body").isTrue();
        WalSegmentIndex other = new WalSegmentIndex(WalSegmentIndex.FORMAT, "000000010000000000000001", null, false, 0, null, null, null, null,
                null, List.of(), new WalSegmentIndex.Unfinished("0/1FFFFF8", 100, "other", null));
        assertThat(other.unfinishedMayBe(5, false)).isFalse();
        assertThat(other.unfinishedMayBe(-1, true)).isFalse();
        for (String kind : List.of("commit-prepared", "abort-prepared")) {
            WalSegmentIndex prepared = new WalSegmentIndex(WalSegmentIndex.FORMAT, "000000010000000000000001", null, false, 0, null, null,
                    null, null, null, List.of(), new WalSegmentIndex.Unfinished("0/1FFFF8", 100, kind, null));
            assertThat(prepared.unfinishedMayBe(5, false)).as(kind + ": the transaction is named in the next segment").isTrue();
            assertThat(prepared.unfinishedMayBe(-1, true)).as(kind).isFalse();
        }
    }

    @Test
    void aCutRecordThatNoWalHoldsIsRefused() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-index-test");
        try {
            LocalDirectoryStore store = new LocalDirectoryStore(dir);
            WalFileName name = WalFileName.parse("000000010000000000000001");
            cutHeader(56, 7L).write(store, "main");
            assertThat(WalSegmentIndex.read(store, "main", name, SIZE)).hasValueSatisfying(i -> assertThat(i.unfinishedMayBe(7, false)).isTrue());
            // 1 MiB segments: 0/100000 to 0/200000. A header cut 4 KiB before the end, and a record shorter than a header.
            for (WalSegmentIndex.Unfinished lie : List.of(new WalSegmentIndex.Unfinished("0/1FF000", 56, "unknown", 7L),
                    new WalSegmentIndex.Unfinished("0/1FFFF8", 0, "unknown", 7L), new WalSegmentIndex.Unfinished("0/1FF000", 12, "other", null))) {
                new WalSegmentIndex(WalSegmentIndex.FORMAT, name.toString(), null, false, 0, null, null, null, null, null, List.of(), lie)
                        .write(store, "main");
                assertThatThrownBy(() -> WalSegmentIndex.read(store, "main", name, SIZE)).as(lie.toString())
                        .isInstanceOf(CorruptObjectException.class).hasMessageContaining("no WAL holds");
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static WalSegmentIndex cutHeader(long length, Long xid) {
        return new WalSegmentIndex(WalSegmentIndex.FORMAT, "000000010000000000000001", null, false, 0, null, null, null, null, null,
                List.of(), new WalSegmentIndex.Unfinished("0/1FFFF8", length, "unknown", xid));
    }

    private static WalSegmentIndex chunked(WalFileName name, byte[] bytes, Random random) {
        WalSegmentIndexer indexer = new WalSegmentIndexer();
        int[] sizes = {1, 7, 1000, 8192, 8193, 65536, 300_000};
        for (int off = 0; off < bytes.length; ) {
            int n = Math.min(bytes.length - off, sizes[random.nextInt(sizes.length)]);
            indexer.update(bytes, off, n);
            off += n;
        }
        return indexer.index(name, SIZE).orElseThrow();
    }
}

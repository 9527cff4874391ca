package io.pgvault.core.wal;

import io.pgvault.core.archive.WalSegmentIndex;
import io.pgvault.core.archive.WalSegmentIndexer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The end of a prepared transaction names it after parts whose counts its record gives: WAL
 * from the bucket or a push is untrusted, so counts that are negative, that reach past the
 * record, or a record without the part that names the transaction give an unknown xid (the
 * index then cannot rule the segment out), never an exception or a wrong transaction.
 */
class CraftedPreparedRecordTest {

    private static final WalSegmentSize SIZE = new WalSegmentSize(1 << 20);
    private static final WalFileName SEGMENT = WalFileName.parse("000000010000000000000001");
    /** XLOG_XACT_HAS_INFO with XLOG_XACT_COMMIT_PREPARED, and with XLOG_XACT_ABORT_PREPARED. */
    private static final int COMMIT_PREPARED = 0xB0;
    private static final int ABORT_PREPARED = 0xC0;
    private static final int DBINFO = 1;
    private static final int SUBXACTS = 1 << 1;
    private static final int RELFILENODES = 1 << 2;
    private static final int INVALS = 1 << 3;
    private static final int TWOPHASE = 1 << 4;
    private static final int DROPPED_STATS = 1 << 8;

    @Test
    void theTransactionComesFromTheBodyWhenThePartsAddUp() {
        assertThat(scan(record(COMMIT_PREPARED, TWOPHASE | SUBXACTS, 2, 4242))).singleElement().satisfies(e -> {
            assertThat(e.kind()).isEqualTo(WalRecordScanner.Kind.COMMIT);
            assertThat(e.xid()).isEqualTo(4242);
        });
        assertThat(scan(record(ABORT_PREPARED, TWOPHASE, 0, 77))).as("ROLLBACK PREPARED")
                .singleElement().satisfies(e -> {
                    assertThat(e.kind()).isEqualTo(WalRecordScanner.Kind.ABORT);
                    assertThat(e.xid()).isEqualTo(77);
                });
    }

    /**
     * Every optional part before the transaction, with the sizes each major writes: relations 12 bytes
     * each, dropped statistics 12 bytes from PostgreSQL 15 (none in 14) and 16 from 18, invalidation
     * messages 16 bytes in commits only; an abort has none of them, even with the flag set.
     */
    @Test
    void everyPartBeforeTheTransactionIsSkippedWithItsMajorsSize() {
        for (PgMajor major : PgMajor.values()) {
            int statBytes = major == PgMajor.PG14 ? 0 : major.number() >= 18 ? 16 : 12;
            int xinfo = TWOPHASE | DBINFO | SUBXACTS | RELFILENODES | INVALS | (statBytes > 0 ? DROPPED_STATS : 0);
            for (boolean commit : new boolean[] {true, false}) {
                ByteBuffer parts = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
                parts.putInt(5).putInt(1663);                        // xl_xact_dbinfo
                parts.putInt(2).putInt(901).putInt(902);             // subtransactions
                parts.putInt(1).put(new byte[12]);                   // one relation
                if (statBytes > 0) {
                    parts.putInt(2).put(new byte[2 * statBytes]);    // two dropped statistics
                }
                if (commit) {
                    parts.putInt(3).put(new byte[3 * 16]);           // three invalidation messages
                }
                byte[] body = java.util.Arrays.copyOf(parts.array(), parts.position());
                long xid = commit ? 31337 : 31338;
                assertThat(scan(record(major, commit ? COMMIT_PREPARED : ABORT_PREPARED, xinfo, body, (int) xid)))
                        .as("%s %s", major, commit ? "commit" : "abort").singleElement()
                        .satisfies(e -> assertThat(e.xid()).isEqualTo(xid));
            }
        }
    }

    @Test
    void countsThatDoNotAddUpGiveAnUnknownTransaction() {
        for (byte[] crafted : List.of(record(COMMIT_PREPARED, TWOPHASE | SUBXACTS, -1, 4242), record(COMMIT_PREPARED, TWOPHASE | SUBXACTS, 1_000_000_000, 4242),
                record(COMMIT_PREPARED, SUBXACTS, 2, 4242))) {
            assertThat(scan(crafted)).singleElement().satisfies(e -> assertThat(e.xid()).isEqualTo(WalRecordScanner.UNKNOWN_XID));
            WalSegmentIndex index = WalSegmentIndexer.of(SEGMENT, SIZE, crafted).orElseThrow();
            assertThat(index.transactions()).isEqualTo(1);
            assertThat(index.mayHoldTransaction(4242)).isTrue();
            assertThat(index.mayHoldTransaction(0xFFFF_FFFFL)).as("any transaction: the range is all of them").isTrue();
        }
    }

    private static List<WalRecordScanner.Event> scan(byte[] segment) {
        List<WalRecordScanner.Event> events = new ArrayList<>();
        WalRecordScanner scanner = new WalRecordScanner(events::add);
        scanner.accept(SEGMENT.startLsn(SIZE), segment);
        return events;
    }

    /**
     * A 1 MiB segment whose first page holds one transaction record of {@code info}, with a valid CRC: the time, an xinfo, {@code subxacts} subtransaction
     * ids when it says so, then the prepared transaction's id.
     */
    private static byte[] record(int info, int xinfo, int subxacts, int xid) {
        ByteBuffer parts = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        if ((xinfo & SUBXACTS) != 0) {
            parts.putInt(subxacts);
            for (int i = 0; i < Math.max(0, Math.min(subxacts, 2)); i++) {
                parts.putInt(1000 + i);
            }
        }
        return record(PgMajor.PG17, info, xinfo, java.util.Arrays.copyOf(parts.array(), parts.position()), xid);
    }

    /** @param parts what follows the xinfo, before the transaction's id */
    private static byte[] record(PgMajor major, int info, int xinfo, byte[] parts, int xid) {
        ByteBuffer main = ByteBuffer.allocate(16 + parts.length).order(ByteOrder.LITTLE_ENDIAN);
        main.putLong(123_456_789L).putInt(xinfo).put(parts).putInt(xid);
        int mainLength = main.position();
        int total = WalRecordScanner.RECORD_HEADER + 2 + mainLength;
        byte[] segment = new byte[(int) SIZE.bytes()];
        ByteBuffer b = ByteBuffer.wrap(segment).order(ByteOrder.LITTLE_ENDIAN);
        long start = SEGMENT.startLsn(SIZE).value();
        b.putShort(0, (short) major.pageMagic()).putShort(2, (short) WalPageHeader.XLP_LONG_HEADER).putInt(4, 1).putLong(8, start)
                .putInt(16, 0).putLong(24, 7_000_000_000_000_000_001L).putInt(32, (int) SIZE.bytes()).putInt(36, WalRecordScanner.BLCKSZ);
        int at = WalPageHeader.LONG_HEADER_BYTES;
        b.putInt(at, total).putInt(at + 4, 0).putLong(at + 8, 0);
        segment[at + 16] = (byte) info;
        segment[at + 17] = 1; // RM_XACT_ID
        if (mainLength < 256) {
            segment[at + 24] = (byte) 255; // XLR_BLOCK_ID_DATA_SHORT, a 1-byte length
            segment[at + 25] = (byte) mainLength;
        } else {
            throw new IllegalArgumentException("main data of " + mainLength + " bytes: keep the crafted records short");
        }
        System.arraycopy(main.array(), 0, segment, at + 26, mainLength);
        CRC32C crc = new CRC32C();
        crc.update(segment, at + WalRecordScanner.RECORD_HEADER, total - WalRecordScanner.RECORD_HEADER);
        crc.update(segment, at, 20);
        b.putInt(at + 20, (int) crc.getValue());
        return segment;
    }
}

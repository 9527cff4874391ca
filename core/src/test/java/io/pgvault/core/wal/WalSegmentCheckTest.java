package io.pgvault.core.wal;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The check on synthetic headers; {@code RealWalTest} runs it on WAL from real servers. */
class WalSegmentCheckTest {

    private static final WalSegmentSize MB16 = WalSegmentSize.DEFAULT;
    private static final long SYSID = 7440000000000000001L;

    static byte[] header(int magic, int info, long tli, long pageAddr, long sysid, long segSize, long blockSize) {
        ByteBuffer b = ByteBuffer.allocate(WalPageHeader.LONG_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) magic).putShort(2, (short) info).putInt(4, (int) tli).putLong(8, pageAddr)
                .putInt(16, 0).putLong(24, sysid).putInt(32, (int) segSize).putInt(36, (int) blockSize);
        return b.array();
    }

    private static byte[] good(WalFileName name) {
        return header(PgMajor.PG17.pageMagic(), WalPageHeader.XLP_LONG_HEADER, name.timeline().value(),
                name.startLsn(MB16).value(), SYSID, MB16.bytes(), 8192);
    }

    @Test
    void acceptsTheSegmentItsNameClaims() {
        WalFileName name = WalFileName.parse("000000010000000A000000FE");
        WalPageHeader h = WalSegmentCheck.forCluster(MB16, SYSID).check(name, good(name), MB16.bytes());
        assertThat(h.major()).contains(PgMajor.PG17);
        assertThat(h.systemIdentifier()).isEqualTo(SYSID);
        assertThat(WalSegmentCheck.firstOfCluster().check(name, good(name), MB16.bytes())).isEqualTo(h);
    }

    @Test
    void aNewTimelinesFirstSegmentMayCarryItsParentsTimeline() {
        WalFileName name = WalFileName.parse("000000020000000000000003");
        byte[] head = header(PgMajor.PG15.pageMagic(), WalPageHeader.XLP_LONG_HEADER, 1, name.startLsn(MB16).value(), SYSID, MB16.bytes(), 8192);
        assertThat(WalSegmentCheck.forCluster(MB16, SYSID).check(name, head, MB16.bytes()).timeline()).isEqualTo(1);
    }

    @Test
    void refusesEachKindOfDamageWithAPreciseReason() {
        WalFileName name = WalFileName.parse("000000010000000000000005");
        WalSegmentCheck check = WalSegmentCheck.forCluster(MB16, SYSID);
        long addr = name.startLsn(MB16).value();
        int magic = PgMajor.PG16.pageMagic();
        int lh = WalPageHeader.XLP_LONG_HEADER;

        expect(check, name, new byte[10], 10, WalProblem.TRUNCATED, "40-byte");
        expect(check, name, good(name), MB16.bytes() - 1, WalProblem.TRUNCATED, "cut off");
        expect(check, name, good(name), MB16.bytes() + 1, WalProblem.TOO_LONG, "longer");
        byte[] random = new byte[40];
        new Random(1).nextBytes(random);
        expect(check, name, random, MB16.bytes(), WalProblem.NOT_WAL, "page magic");
        expect(check, name, new byte[40], MB16.bytes(), WalProblem.NOT_WAL, "zero-filled");
        expect(check, name, header(magic, 0, 1, addr, SYSID, MB16.bytes(), 8192), MB16.bytes(), WalProblem.NOT_WAL, "XLP_LONG_HEADER");
        expect(check, name, header(magic, lh, 3, addr, SYSID, MB16.bytes(), 8192), MB16.bytes(), WalProblem.WRONG_TIMELINE, "timeline 3");
        expect(check, name, header(magic, lh, 1, addr + MB16.bytes(), SYSID, MB16.bytes(), 8192), MB16.bytes(),
                WalProblem.WRONG_PAGE_ADDRESS, "0/6000000");
        expect(check, name, header(magic, lh, 1, addr, SYSID + 1, MB16.bytes(), 8192), MB16.bytes(),
                WalProblem.FOREIGN_SYSTEM, Long.toUnsignedString(SYSID + 1));
        expect(check, name, header(magic, lh, 1, name.startLsn(WalSegmentSize.ofMegabytes(64)).value(), SYSID, 64 << 20, 8192), 64L << 20,
                WalProblem.WRONG_SEGMENT_SIZE, "64MB");
        expect(check, name, header(magic, lh, 1, addr, SYSID, 3 << 20, 8192), MB16.bytes(), WalProblem.WRONG_SEGMENT_SIZE, "damaged");
        expect(check, name, header(magic, lh, 1, addr, SYSID, MB16.bytes(), 1000), MB16.bytes(), WalProblem.WRONG_SEGMENT_SIZE, "block size");
        byte[] bigEndian = good(name);
        bigEndian[0] = good(name)[1];
        bigEndian[1] = good(name)[0];
        expect(check, name, bigEndian, MB16.bytes(), WalProblem.UNSUPPORTED_FORMAT, "big-endian");
    }

    @Test
    void theHeadAloneIsCheckedForEverythingButTheLength() {
        WalFileName name = WalFileName.parse("000000010000000000000005");
        WalSegmentCheck check = WalSegmentCheck.forCluster(MB16, SYSID);
        assertThat(check.checkHead(name, good(name)).systemIdentifier()).isEqualTo(SYSID);
        long addr = name.startLsn(MB16).value();
        int magic = PgMajor.PG16.pageMagic();
        assertThatThrownBy(() -> check.checkHead(name, new byte[12])).isInstanceOf(InvalidWalException.class)
                .hasMessageContaining("is 12 bytes long");
        assertThatThrownBy(() -> check.checkHead(name, header(magic, WalPageHeader.XLP_LONG_HEADER, 1, addr, SYSID + 1, MB16.bytes(), 8192)))
                .isInstanceOfSatisfying(InvalidWalException.class, e -> assertThat(e.problem()).isEqualTo(WalProblem.FOREIGN_SYSTEM));
    }

    @Test
    void partialSegmentsMayBeShorter() {
        WalFileName partial = WalFileName.parse("000000010000000000000005.partial");
        assertThat(WalSegmentCheck.forCluster(MB16, SYSID).check(partial, good(partial.segmentName()), 8192)).isNotNull();
    }

    @Test
    void historyFilesHaveNoHeader() {
        assertThatThrownBy(() -> WalSegmentCheck.firstOfCluster().check(WalFileName.parse("00000002.history"), new byte[40], 40))
                .hasMessageContaining("HISTORY");
    }

    private static void expect(WalSegmentCheck check, WalFileName name, byte[] head, long length, WalProblem problem, String text) {
        assertThatThrownBy(() -> check.check(name, head, length))
                .as(problem.name())
                .isInstanceOfSatisfying(InvalidWalException.class, e -> assertThat(e.problem()).isEqualTo(problem))
                .hasMessageContaining(name.toString())
                .hasMessageContaining(text);
    }
}

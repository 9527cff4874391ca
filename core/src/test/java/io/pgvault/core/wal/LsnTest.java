package io.pgvault.core.wal;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LsnTest {

    @Test
    void parsesAndFormatsLikePostgres() {
        Lsn lsn = Lsn.parse("16/B374D848");
        assertThat(lsn.value()).isEqualTo(0x16B374D848L);
        assertThat(lsn).hasToString("16/B374D848");
        assertThat(Lsn.parse("0/0")).isEqualTo(Lsn.INVALID);
        assertThat(Lsn.parse("FFFFFFFF/FFFFFFFF").toString()).isEqualTo("FFFFFFFF/FFFFFFFF");
    }

    @Test
    void ordersUnsigned() {
        assertThat(Lsn.parse("FFFFFFFF/0").compareTo(Lsn.parse("1/0"))).isPositive();
        assertThat(Lsn.parse("0/10").isBefore(Lsn.parse("0/11"))).isTrue();
    }

    @Test
    void segmentArithmeticUsesTheClusterSegmentSize() {
        Lsn lsn = Lsn.parse("1/2345678");
        assertThat(lsn.segmentNumber(WalSegmentSize.DEFAULT)).isEqualTo(0x100 + 0x2);
        assertThat(lsn.segmentOffset(WalSegmentSize.DEFAULT)).isEqualTo(0x345678);
        assertThat(lsn.segmentNumber(WalSegmentSize.ofMegabytes(1))).isEqualTo(0x1000 + 0x23);
        assertThat(lsn.segmentNumber(WalSegmentSize.ofMegabytes(1024))).isEqualTo(4);
    }

    @Test
    void refusesBadTextNamingIt() {
        for (String bad : new String[] {"", "16", "/1", "1/", "G/1", "123456789/0", "1/2/3"}) {
            assertThatThrownBy(() -> Lsn.parse(bad), bad).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("X/Y");
        }
        assertThatThrownBy(() -> Lsn.parse(null)).hasMessageContaining("missing");
    }

    @Test
    void segmentSizesAreValidated() {
        assertThatThrownBy(() -> new WalSegmentSize(3 << 20)).hasMessageContaining("power of two");
        assertThatThrownBy(() -> new WalSegmentSize(512 << 10)).hasMessageContaining("1 MiB");
        assertThatThrownBy(() -> new WalSegmentSize(2L << 30)).hasMessageContaining("1 GiB");
        assertThat(WalSegmentSize.ofMegabytes(64).segmentsPerXLogId()).isEqualTo(64);
    }
}

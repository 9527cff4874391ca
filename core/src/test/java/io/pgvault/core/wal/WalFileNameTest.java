package io.pgvault.core.wal;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WalFileNameTest {

    private static final WalSegmentSize MB16 = WalSegmentSize.DEFAULT;

    @Test
    void segments() {
        WalFileName name = WalFileName.parse("000000020000000A000000FE");
        assertThat(name.kind()).isEqualTo(WalFileName.Kind.SEGMENT);
        assertThat(name.timeline()).isEqualTo(new TimelineId(2));
        assertThat(name.segmentNumber(MB16)).isEqualTo(0xA * 256 + 0xFE);
        assertThat(name.startLsn(MB16)).isEqualTo(Lsn.parse("A/FE000000"));
        assertThat(WalFileName.segment(new TimelineId(2), 0xA * 256 + 0xFE, MB16)).isEqualTo(name);
    }

    @Test
    void segmentNamesDependOnSegmentSize() {
        WalSegmentSize mb1 = WalSegmentSize.ofMegabytes(1);
        WalSegmentSize gb1 = WalSegmentSize.ofMegabytes(1024);
        assertThat(WalFileName.segmentOf(TimelineId.FIRST, Lsn.parse("1/2345678"), mb1)).hasToString("000000010000000100000023");
        assertThat(WalFileName.segmentOf(TimelineId.FIRST, Lsn.parse("1/2345678"), MB16)).hasToString("000000010000000100000002");
        assertThat(WalFileName.segmentOf(TimelineId.FIRST, Lsn.parse("1/C0000000"), gb1)).hasToString("000000010000000100000003");
        // 0x100 segments per log id at 16 MB, so ...FF is the last one; with 1 GB only 0-3 exist.
        assertThatThrownBy(() -> WalFileName.parse("0000000100000001000000FF").segmentNumber(gb1))
                .hasMessageContaining("wal_segment_size 1024MB").hasMessageContaining("00000004");
    }

    @Test
    void partialBackupAndHistory() {
        WalFileName partial = WalFileName.parse("000000010000000000000003.partial");
        assertThat(partial.kind()).isEqualTo(WalFileName.Kind.PARTIAL);
        assertThat(partial.segmentName()).hasToString("000000010000000000000003");
        assertThat(partial.segmentName().partial()).isEqualTo(partial);

        WalFileName backup = WalFileName.parse("000000010000000000000002.00000028.backup");
        assertThat(backup.kind()).isEqualTo(WalFileName.Kind.BACKUP);
        assertThat(backup.backupOffset()).isEqualTo(0x28);
        assertThat(backup.startLsn(MB16)).isEqualTo(Lsn.parse("0/2000000"));

        WalFileName history = WalFileName.parse("0000000A.history");
        assertThat(history.isHistory()).isTrue();
        assertThat(history.timeline().value()).isEqualTo(10);
        assertThat(WalFileName.history(new TimelineId(10))).isEqualTo(history);
        // Only timeline 1's history is never archived: PostgreSQL never writes it.
        assertThat(WalFileName.parse("00000001.history").neverArchived()).isTrue();
        assertThat(history.neverArchived()).isFalse();
        assertThat(WalFileName.parse("00000002.history").neverArchived()).isFalse();
        assertThat(WalFileName.parse("000000010000000000000001").neverArchived()).isFalse();
        assertThatThrownBy(() -> history.segmentNumber(MB16)).hasMessageContaining("history");
    }

    @Test
    void refusesWhatPostgresNeverWrites() {
        for (String bad : new String[] {"", "00000001000000000000000", "0000000100000000000000001", "000000010000000000000001.gz",
                "00000001000000000000000g", "000000010000000000000001.PARTIAL", "000000000000000000000001", "00000000.history",
                "0000001.history", "000000010000000000000002.0000028.backup", "../000000010000000000000001",
                "000000010000000000000001/x", "RECOVERYHISTORY", "RECOVERYXLOG"}) {
            assertThatThrownBy(() -> WalFileName.parse(bad), bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'" + bad + "'")
                    .hasMessageContaining("24 upper-case hex digits");
        }
        assertThat(WalFileName.tryParse(null)).isEmpty();
    }
}

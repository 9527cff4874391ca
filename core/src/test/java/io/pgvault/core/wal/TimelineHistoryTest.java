package io.pgvault.core.wal;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TimelineHistoryTest {

    private static TimelineHistory parse(long tli, String text) {
        return TimelineHistory.parse(new TimelineId(tli), text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void parsesWhatPostgresWrites() {
        TimelineHistory h = parse(3, "1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tbefore 2026-11-25 10:00:00+00\n");
        assertThat(h.ancestors()).hasSize(2);
        assertThat(h.parent()).contains(new TimelineId(2));
        assertThat(h.timelineAt(Lsn.parse("0/1000000"))).isEqualTo(new TimelineId(1));
        assertThat(h.timelineAt(Lsn.parse("0/3000158"))).isEqualTo(new TimelineId(2));
        assertThat(h.timelineAt(Lsn.parse("0/6000000"))).isEqualTo(new TimelineId(3));
        assertThat(h.switchPointOf(new TimelineId(1))).contains(Lsn.parse("0/3000158"));
        assertThat(h.switchPointOf(new TimelineId(3))).isEmpty();
        assertThat(h.includes(new TimelineId(2))).isTrue();
        assertThat(h.includes(new TimelineId(4))).isFalse();
        assertThat(parse(3, new String(h.render(), StandardCharsets.UTF_8)).ancestors()).isEqualTo(h.ancestors());
    }

    @Test
    void eachTimelineBeginsWhereItsPredecessorEnded() {
        TimelineHistory h = parse(3, "1\t0/3000158\tno recovery target specified\n2\t0/5000000\tbefore 2026-11-25 10:00:00+00\n");
        assertThat(h.beginOf(new TimelineId(1))).contains(Lsn.of(0));
        assertThat(h.beginOf(new TimelineId(2))).contains(Lsn.parse("0/3000158"));
        assertThat(h.beginOf(new TimelineId(3))).contains(Lsn.parse("0/5000000"));
        assertThat(h.beginOf(new TimelineId(4))).isEmpty();
        assertThat(TimelineHistory.first().beginOf(TimelineId.FIRST)).contains(Lsn.of(0));
    }

    @Test
    void commentsAndBlankLinesAreSkipped() {
        assertThat(parse(2, "# comment\n\n1\t0/3000000\treason with\ttabs\n").ancestors().get(0).reason()).isEqualTo("reason with\ttabs");
    }

    @Test
    void branchBuildsTheChildHistory() {
        TimelineHistory two = TimelineHistory.first().branch(Lsn.parse("0/3000000"), "promoted");
        assertThat(two.timeline()).isEqualTo(new TimelineId(2));
        assertThat(two.parent()).contains(TimelineId.FIRST);
    }

    @Test
    void refusesDamagedFilesNamingTheLine() {
        assertThatThrownBy(() -> parse(2, "garbage\n")).isInstanceOf(InvalidWalException.class)
                .hasMessageContaining("00000002.history line 1");
        assertThatThrownBy(() -> parse(2, "x\t0/1\treason\n")).hasMessageContaining("line 1");
        assertThatThrownBy(() -> parse(3, "2\t0/5\ta\n1\t0/6\tb\n")).hasMessageContaining("line 2").hasMessageContaining("increase");
        assertThatThrownBy(() -> parse(3, "1\t0/6\ta\n2\t0/5\tb\n")).hasMessageContaining("before the previous");
        assertThatThrownBy(() -> parse(2, "2\t0/5\ta\n")).hasMessageContaining("not below");
        assertThatThrownBy(() -> parse(2, "\n")).hasMessageContaining("no ancestor");
        assertThatThrownBy(() -> parse(2, "1\t0/ZZ\ta\n")).hasMessageContaining("X/Y");
    }

    @Test
    void segmentsAreLookedUpOnTheNewestTimelineThatHadBegunByThen() {
        WalSegmentSize size = WalSegmentSize.DEFAULT;
        // Timeline 1 ran until 0/5800000 (segment 5), timeline 2 until 0/9000000 (segment 9), then timeline 3.
        TimelineHistory three = TimelineHistory.first().branch(Lsn.parse("0/5800000"), "promoted").branch(Lsn.parse("0/9000000"), "again");
        assertThat(three.timelinesForSegment(4, size)).containsExactly(TimelineId.FIRST);
        assertThat(three.timelinesForSegment(5, size)).containsExactly(new TimelineId(2), TimelineId.FIRST);
        assertThat(three.timelinesForSegment(9, size)).containsExactly(new TimelineId(3), new TimelineId(2), TimelineId.FIRST);
        assertThat(TimelineHistory.first().timelinesForSegment(100, size)).containsExactly(TimelineId.FIRST);
    }
}

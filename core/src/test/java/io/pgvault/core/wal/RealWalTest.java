package io.pgvault.core.wal;

import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.PgDistribution;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * WAL knowledge against WAL written by real PostgreSQL servers of every supported major
 * (cheap enough to run all of 14-18 by default: one initdb and a few statements each).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RealWalTest {

    record RealSegment(int major, WalFileName name, byte[] bytes, long systemIdentifier, WalSegmentSize size) {
        @Override
        public String toString() {
            return "PostgreSQL " + major + " " + name;
        }
    }

    private final List<RealSegment> segments = new ArrayList<>();

    @BeforeAll
    void writeWalOnEveryMajor() throws IOException {
        for (int major : PgDistribution.supportedMajors()) {
            try (PgCluster pg = PgCluster.builder(major).start()) {
                segments.add(produceSegment(pg, WalSegmentSize.DEFAULT));
            }
        }
    }

    private static RealSegment produceSegment(PgCluster pg, WalSegmentSize size) throws IOException {
        pg.execute("CREATE TABLE t (id int primary key, v text)", "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
        Lsn lsn = Lsn.parse(pg.queryValue("SELECT pg_current_wal_lsn()"));
        pg.queryValue("SELECT pg_switch_wal()");
        long sysid = Long.parseUnsignedLong(pg.queryValue("SELECT system_identifier FROM pg_control_system()"));
        WalFileName name = WalFileName.segmentOf(TimelineId.FIRST, lsn, size);
        byte[] bytes = Files.readAllBytes(pg.dataDirectory().resolve("pg_wal").resolve(name.toString()));
        return new RealSegment(pg.major(), name, bytes, sysid, size);
    }

    @Test
    void everyMajorsSegmentPassesAndTellsItsMajor() {
        assertThat(segments).extracting(RealSegment::major).containsExactly(14, 15, 16, 17, 18);
        for (RealSegment s : segments) {
            WalPageHeader header = WalSegmentCheck.forCluster(s.size(), s.systemIdentifier()).check(s.name(), s.bytes(), s.bytes().length);
            assertThat(header.major()).as(s.toString()).contains(PgMajor.of(s.major()));
            assertThat(header.systemIdentifier()).as(s.toString()).isEqualTo(s.systemIdentifier());
            assertThat(header.segmentSize()).isEqualTo(s.size().bytes());
            assertThat(header.blockSize()).isEqualTo(8192);
            assertThat(header.timeline()).isEqualTo(1);
            assertThat(WalSegmentCheck.firstOfCluster().check(s.name(), s.bytes(), s.bytes().length)).isEqualTo(header);
        }
    }

    @Test
    void theStreamInspectorSeesWhatTheCheckNeeds() throws IOException {
        RealSegment s = segments.get(segments.size() - 1);
        WalStreamInspector in = new WalStreamInspector(new ByteArrayInputStream(s.bytes()), s.name().toString(), s.size().bytes());
        in.transferTo(java.io.OutputStream.nullOutputStream());
        assertThat(in.length()).isEqualTo(s.bytes().length);
        assertThat(in.head()).isEqualTo(Arrays.copyOf(s.bytes(), 40));
        assertThat(in.sha256Hex()).hasSize(64);
        WalStreamInspector tooLong = new WalStreamInspector(new ByteArrayInputStream(s.bytes()), s.name().toString(), 1 << 20);
        assertThatThrownBy(() -> tooLong.transferTo(java.io.OutputStream.nullOutputStream()))
                .isInstanceOf(InvalidWalException.class).hasMessageContaining("longer than 1048576");
    }

    @Test
    void damagedRealSegmentsAreRefusedWithTheReason() {
        for (int i = 0; i < segments.size(); i++) {
            RealSegment s = segments.get(i);
            WalSegmentCheck check = WalSegmentCheck.forCluster(s.size(), s.systemIdentifier());
            byte[] b = s.bytes();

            assertProblem(() -> check.check(s.name(), Arrays.copyOf(b, 20), 20), WalProblem.TRUNCATED, s);
            assertProblem(() -> check.check(s.name(), b, b.length / 2), WalProblem.TRUNCATED, s);

            byte[] random = new byte[b.length];
            new Random(s.major()).nextBytes(random);
            assertProblem(() -> check.check(s.name(), random, random.length), WalProblem.NOT_WAL, s);

            byte[] laterTimeline = b.clone();
            laterTimeline[4] = 2;
            assertProblem(() -> check.check(s.name(), laterTimeline, b.length), WalProblem.WRONG_TIMELINE, s);

            WalFileName renamed = WalFileName.segment(TimelineId.FIRST, s.name().segmentNumber(s.size()) + 1, s.size());
            assertProblem(() -> check.check(renamed, b, b.length), WalProblem.WRONG_PAGE_ADDRESS, s);

            RealSegment other = segments.get((i + 1) % segments.size());
            WalSegmentCheck otherCluster = WalSegmentCheck.forCluster(other.size(), other.systemIdentifier());
            assertThatThrownBy(() -> otherCluster.check(s.name(), b, b.length))
                    .isInstanceOfSatisfying(InvalidWalException.class, e -> assertThat(e.problem()).isEqualTo(WalProblem.FOREIGN_SYSTEM))
                    .hasMessageContaining(Long.toUnsignedString(s.systemIdentifier()))
                    .hasMessageContaining(Long.toUnsignedString(other.systemIdentifier()));

            WalSegmentCheck oneMb = WalSegmentCheck.forCluster(WalSegmentSize.ofMegabytes(1), s.systemIdentifier());
            assertProblem(() -> oneMb.check(s.name(), b, b.length), WalProblem.WRONG_SEGMENT_SIZE, s);
        }
    }

    /** A 1 MB-segment cluster promoted to timeline 2: its history file and new-timeline segments. */
    @Test
    void smallSegmentsAndANewTimeline() throws IOException {
        WalSegmentSize oneMb = WalSegmentSize.ofMegabytes(1);
        try (PgCluster pg = PgCluster.builder(17).walSegmentSizeMb(1).start()) {
            RealSegment first = produceSegment(pg, oneMb);
            assertThat(WalSegmentCheck.forCluster(oneMb, first.systemIdentifier()).check(first.name(), first.bytes(), first.bytes().length)
                    .segmentSize()).isEqualTo(1 << 20);
            assertProblem(() -> WalSegmentCheck.forCluster(WalSegmentSize.DEFAULT, first.systemIdentifier())
                    .check(first.name(), first.bytes(), first.bytes().length), WalProblem.WRONG_SEGMENT_SIZE, first);

            pg.stop();
            pg.touch("standby.signal");
            pg.start();
            pg.promote();
            pg.execute("INSERT INTO t VALUES (100000, 'after promotion')");
            Lsn lsn = Lsn.parse(pg.queryValue("SELECT pg_current_wal_lsn()"));
            pg.queryValue("SELECT pg_switch_wal()");
            assertThat(pg.queryValue("SELECT timeline_id FROM pg_control_checkpoint()")).isEqualTo("2");

            byte[] historyBytes = Files.readAllBytes(pg.dataDirectory().resolve("pg_wal/00000002.history"));
            TimelineHistory history = TimelineHistory.parse(new TimelineId(2), historyBytes);
            assertThat(history.parent()).contains(TimelineId.FIRST);
            Lsn switchPoint = history.switchPointOf(TimelineId.FIRST).orElseThrow();
            assertThat(switchPoint.isAfter(first.name().startLsn(oneMb))).isTrue();

            // The first segment of timeline 2 starts with timeline 1's bytes up to the switch point.
            WalFileName switchSegment = WalFileName.segmentOf(new TimelineId(2), switchPoint, oneMb);
            byte[] switchBytes = Files.readAllBytes(pg.dataDirectory().resolve("pg_wal").resolve(switchSegment.toString()));
            WalSegmentCheck check = WalSegmentCheck.forCluster(oneMb, first.systemIdentifier());
            WalPageHeader switchHeader = check.check(switchSegment, switchBytes, switchBytes.length);
            assertThat(switchHeader.timeline()).isIn(1L, 2L);

            WalFileName later = WalFileName.segmentOf(new TimelineId(2), lsn, oneMb);
            if (!later.equals(switchSegment)) {
                byte[] laterBytes = Files.readAllBytes(pg.dataDirectory().resolve("pg_wal").resolve(later.toString()));
                assertThat(check.check(later, laterBytes, laterBytes.length).timeline()).isEqualTo(2);
            }
        }
    }

    private static void assertProblem(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, WalProblem problem, RealSegment s) {
        assertThatThrownBy(call)
                .as(s + ": " + problem)
                .isInstanceOfSatisfying(InvalidWalException.class, e -> assertThat(e.problem()).isEqualTo(problem));
    }
}

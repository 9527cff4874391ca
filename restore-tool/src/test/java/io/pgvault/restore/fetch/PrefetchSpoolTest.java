package io.pgvault.restore.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgvault.core.wal.WalFileName;
import io.pgvault.restore.fetch.PrefetchSpool.Answer;
import io.pgvault.restore.fetch.PrefetchSpool.Marker;
import io.pgvault.restore.fetch.PrefetchSpool.Owner;
import io.pgvault.core.process.ProcessIdentity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The spool as a state machine: each transition of a segment's and a history file's state,
 * what a call may conclude in each (by the trust rules), and what the next owner does with
 * what a crashed one left, including a {@code .pid} whose process is gone or whose pid now
 * belongs to another process.
 */
class PrefetchSpoolTest {

    private static final WalFileName SEGMENT = WalFileName.parse("000000010000000000000003");
    private static final WalFileName HISTORY = WalFileName.parse("00000002.history");
    private static final byte[] CONTENT = "segment bytes".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void aSegmentGoesFromUnknownToComingToReadyToTakenAndIsAskedForAgain() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir.resolve("spool"));
        assertThat(spool.answer(SEGMENT)).as("no spool at all").isEqualTo(Answer.UNKNOWN);
        spool.request(SEGMENT);
        assertThat(spool.requested()).contains(SEGMENT);
        try (Owner owner = spool.acquire().orElseThrow()) {
            assertThat(spool.ownerAlive()).isTrue();
            assertThat(spool.requested()).as("the request that started the owner stays").contains(SEGMENT);
            assertThat(spool.answer(SEGMENT)).as("marked before the owner counts as running: the call waits, never asks")
                    .isEqualTo(Answer.COMING);
            owner.store(SEGMENT.toString(), new ByteArrayInputStream(CONTENT));
            owner.unmark(Marker.PENDING, SEGMENT.toString());
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.READY);

            Path target = Files.createDirectories(dir.resolve("pg_wal")).resolve("RECOVERYXLOG");
            assertThat(spool.take(SEGMENT, target)).isTrue();
            assertThat(target).hasBinaryContent(CONTENT);
            assertThat(spool.directory().resolve(SEGMENT.toString())).doesNotExist();
            assertThat(spool.take(SEGMENT, target)).as("taken once").isFalse();
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.UNKNOWN);

            // PostgreSQL re-reads the last segment when recovery ends: the call asks, the owner answers.
            spool.ask(SEGMENT);
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.COMING);
            assertThat(owner.askedAgain(SEGMENT.toString())).isTrue();
            owner.mark(Marker.PENDING, SEGMENT.toString());
            owner.unmark(Marker.AGAIN, SEGMENT.toString());
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.COMING);
            owner.store(SEGMENT.toString(), new ByteArrayInputStream(CONTENT));
            owner.unmark(Marker.PENDING, SEGMENT.toString());
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.READY);
        }
    }

    @Test
    void anAbsentSegmentIsRecheckedAndComesOnceArchived() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir);
        try (Owner owner = spool.acquire().orElseThrow()) {
            String file = SEGMENT.toString();
            owner.mark(Marker.PENDING, file);
            // The fetch found nothing: .absent is written before .pending goes, so a waiting call sees one or the other.
            owner.mark(Marker.ABSENT, file);
            assertThat(spool.answer(SEGMENT)).as("absent while pending is a re-check in progress").isEqualTo(Answer.COMING);
            owner.unmark(Marker.PENDING, file);
            assertThat(spool.answer(SEGMENT)).as("no heartbeat yet: alive is not enough for 'not archived'").isEqualTo(Answer.UNKNOWN);
            owner.beat();
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.ABSENT);
            // A loop stuck in a repository call stops beating: its marker no longer counts once the beat is 1.5 s old.
            Files.writeString(dir.resolve(PrefetchSpool.BEAT), (PrefetchSpool.bootClockCentis() - PrefetchSpool.BEAT_FRESH_CS) + "\n");
            assertThat(spool.answer(SEGMENT)).as("a stale beat").isEqualTo(Answer.UNKNOWN);
            owner.beat();
            // The re-check a second later.
            owner.mark(Marker.PENDING, file);
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.COMING);
            owner.store(file, new ByteArrayInputStream(CONTENT));
            assertThat(spool.answer(SEGMENT)).as("the file wins over a marker not yet removed").isEqualTo(Answer.READY);
            owner.unmark(Marker.ABSENT, file);
            owner.unmark(Marker.PENDING, file);
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.READY);
        }
    }

    @Test
    void aFailedFetchLeavesNeitherAFileNorATempFile() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir);
        try (Owner owner = spool.acquire().orElseThrow()) {
            InputStream cut = new InputStream() {
                private int left = 1000;

                @Override
                public int read() throws IOException {
                    if (left-- <= 0) {
                        throw new IOException("checksum mismatch");
                    }
                    return 'x';
                }
            };
            assertThatThrownBy(() -> owner.store(SEGMENT.toString(), cut)).hasMessageContaining("checksum mismatch");
            assertThat(owner.holds(SEGMENT.toString())).isFalse();
            assertThat(dir.resolve(PrefetchSpool.tempName(SEGMENT.toString()))).doesNotExist();
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.UNKNOWN);
        }
    }

    @Test
    void historyFilesAreWaitedForUntilCheckedAndLinkedNotMoved() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir);
        WalFileName next = WalFileName.parse("00000003.history");
        try (Owner owner = spool.acquire().orElseThrow()) {
            assertThat(spool.answer(HISTORY)).as("the owner has not looked yet").isEqualTo(Answer.COMING);
            owner.store(HISTORY.toString(), new ByteArrayInputStream(CONTENT));
            owner.mark(Marker.ABSENT, next.toString());
            owner.historiesChecked();
            owner.beat();
            assertThat(spool.answer(next)).isEqualTo(Answer.ABSENT);
            assertThat(spool.answer(WalFileName.parse("00000009.history"))).as("not looked at").isEqualTo(Answer.UNKNOWN);
            Path target = dir.resolveSibling(dir.getFileName() + "-RECOVERYHISTORY");
            assertThat(spool.answer(HISTORY)).isEqualTo(Answer.READY);
            assertThat(spool.take(HISTORY, target)).isTrue();
            assertThat(spool.take(HISTORY, target)).as("PostgreSQL may ask again").isTrue();
            assertThat(target).hasBinaryContent(CONTENT);
            // A later look finds the next timeline's history archived.
            owner.unmarkAbsentHistoriesExcept(Set.of());
            assertThat(spool.answer(next)).isEqualTo(Answer.UNKNOWN);
            Files.delete(target);
        }
    }

    @Test
    void segmentsRecoveryMovedPastAreDroppedButMarkersOfFetchesInFlightStay() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir);
        try (Owner owner = spool.acquire().orElseThrow()) {
            String old = "000000010000000000000001";
            String busy = "000000010000000000000002";
            String kept = SEGMENT.toString();
            owner.store(old, new ByteArrayInputStream(CONTENT));
            owner.mark(Marker.ABSENT, old);
            owner.mark(Marker.PENDING, busy);
            owner.store(kept, new ByteArrayInputStream(CONTENT));
            owner.store(HISTORY.toString(), new ByteArrayInputStream(CONTENT));
            assertThat(owner.dropSegmentsExcept(Set.of(kept), Set.of(busy))).containsExactly(old);
            assertThat(names()).contains(kept, busy + ".pending", HISTORY.toString()).doesNotContain(old, old + ".absent");
        }
    }

    /**
     * A call asks for a segment it took before just after the owner read the previous request
     * (PrefetchSpoolIT caught it, 1 run in 5): the owner, still predicting from that older
     * request, must not drop the ask as a marker recovery moved past. The call would find its
     * ask gone with nothing to show and start a JVM.
     */
    @Test
    void anAskIsNeverDroppedOnlyAnswered() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir);
        try (Owner owner = spool.acquire().orElseThrow()) {
            String taken = "000000010000000000000001";
            String later = SEGMENT.toString();
            spool.ask(WalFileName.parse(taken));
            owner.dropSegmentsExcept(Set.of(later), Set.of());
            assertThat(names()).contains(taken + ".again");
            assertThat(spool.answer(WalFileName.parse(taken))).isEqualTo(PrefetchSpool.Answer.COMING);
        }
    }

    /** recover's word that a prefetcher is on its way stands until that prefetcher has published itself as the owner. */
    @Test
    void aStarterIsReplacedByItsOwnerOnceThatOwnerIsPublished() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir);
        Files.createDirectories(dir);
        ProcessIdentity self = ProcessIdentity.current().orElseThrow();
        spool.starting(self);
        assertThat(Files.readString(dir.resolve(PrefetchSpool.STARTING)).strip()).isEqualTo(self.line());
        try (Owner owner = spool.acquire().orElseThrow()) {
            assertThat(names()).contains(PrefetchSpool.OWNER).doesNotContain(PrefetchSpool.STARTING);
        }
    }

    /** What a prefetcher killed with -9 leaves, at any step: nothing of it counts, and the next owner clears it. */
    @Test
    void aDeadOwnersMarkersAreNotTrustedAndTheNextOwnerClearsThem() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir);
        String file = SEGMENT.toString();
        WalFileName pending = WalFileName.parse("000000010000000000000004");
        WalFileName absent = WalFileName.parse("000000010000000000000005");
        // As a crashed owner leaves it: its .pid, markers, a file half written, a whole one, its histories.
        ProcessIdentity dead = deadProcess();
        Files.writeString(dir.resolve(PrefetchSpool.OWNER), dead.line() + "\n");
        Files.writeString(dir.resolve(PrefetchSpool.REQUESTED), file + "\n");
        Files.writeString(dir.resolve(PrefetchSpool.LOG), "earlier run\n");
        Files.write(dir.resolve(pending + ".pending"), new byte[0]);
        Files.write(dir.resolve(PrefetchSpool.tempName(pending.toString())), new byte[100]);
        Files.write(dir.resolve(absent + ".absent"), new byte[0]);
        Files.write(dir.resolve(file + ".again"), new byte[0]);
        Files.write(dir.resolve(file), CONTENT);
        Files.write(dir.resolve(PrefetchSpool.HISTORIES), new byte[0]);
        Files.write(dir.resolve("00000003.history.absent"), new byte[0]);

        assertThat(spool.ownerAlive()).isFalse();
        assertThat(spool.answer(absent)).as("a dead owner's 'not archived'").isEqualTo(Answer.UNKNOWN);
        assertThat(spool.answer(pending)).as("a dead owner's 'coming'").isEqualTo(Answer.UNKNOWN);
        assertThat(spool.answer(WalFileName.parse("00000003.history"))).isEqualTo(Answer.UNKNOWN);
        assertThat(spool.answer(SEGMENT)).as("a whole file was renamed into place after a flush").isEqualTo(Answer.READY);

        try (Owner owner = spool.acquire().orElseThrow()) {
            assertThat(names()).containsExactlyInAnyOrder(PrefetchSpool.LOCK, PrefetchSpool.LOG, PrefetchSpool.REQUESTED, PrefetchSpool.OWNER,
                    file + ".pending");
            assertThat(Files.readString(dir.resolve(PrefetchSpool.OWNER)).strip()).isEqualTo(ProcessIdentity.current().orElseThrow().line());
            assertThat(spool.requested()).contains(SEGMENT);
            assertThat(dir.resolve(PrefetchSpool.LOG)).hasContent("earlier run");
            assertThat(spool.answer(absent)).isEqualTo(Answer.UNKNOWN);
            assertThat(owner.spool()).isSameAs(spool);
        }
    }

    /** Killed after it took the lock and cleared, before .pid was renamed into place: markers without an owner. */
    @Test
    void markersWithoutAPublishedOwnerAreNotTrusted() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir);
        Files.write(dir.resolve(SEGMENT + ".pending"), new byte[0]);
        Files.write(dir.resolve(absentMarker()), new byte[0]);
        Files.writeString(dir.resolve(PrefetchSpool.OWNER + ".tmp"), ProcessIdentity.current().orElseThrow().line().substring(0, 5));
        assertThat(spool.ownerAlive()).isFalse();
        assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.UNKNOWN);
        try (Owner owner = spool.acquire().orElseThrow()) {
            assertThat(names()).containsExactlyInAnyOrder(PrefetchSpool.LOCK, PrefetchSpool.OWNER);
            assertThat(owner.has(Marker.ABSENT, SEGMENT.toString())).isFalse();
        }
    }

    /** A pid the kernel gave to another process after the owner died: another start time, so not the owner. */
    @Test
    void aPidReusedByAnotherProcessIsNotTheOwner() throws Exception {
        Process sleep = new ProcessBuilder("sleep", "60").start();
        try {
            ProcessIdentity other = ProcessIdentity.of(sleep.pid()).orElseThrow();
            ProcessIdentity deadOwner = deadProcess();
            // The crashed owner's identity with its pid now taken by the sleep.
            ProcessIdentity reused = new ProcessIdentity(sleep.pid(), Long.toString(Long.parseLong(other.startTime()) - 1), deadOwner.bootId());
            PrefetchSpool spool = new PrefetchSpool(dir);
            Files.write(dir.resolve(absentMarker()), new byte[0]);
            Files.writeString(dir.resolve(PrefetchSpool.OWNER), reused.line() + "\n");
            assertThat(spool.ownerAlive()).isFalse();
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.UNKNOWN);
            // An older launcher's bare pid, a torn line, another boot: none names a live owner either.
            for (String line : List.of(sleep.pid() + "\n", sleep.pid() + " " + other.startTime() + "\n", "",
                    sleep.pid() + " " + other.startTime() + " 00000000-0000-0000-0000-000000000000\n")) {
                Files.writeString(dir.resolve(PrefetchSpool.OWNER), line);
                assertThat(spool.ownerAlive()).as(line).isFalse();
            }
            // The same fields, right: the rule is the identity, not the kind of process.
            Files.writeString(dir.resolve(PrefetchSpool.OWNER), other.line() + "\n");
            Files.writeString(dir.resolve(PrefetchSpool.BEAT), PrefetchSpool.bootClockCentis() + "\n");
            assertThat(spool.ownerAlive()).isTrue();
            assertThat(spool.answer(SEGMENT)).isEqualTo(Answer.ABSENT);
            sleep.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            assertThat(spool.ownerAlive()).as("gone (and reaped)").isFalse();
        } finally {
            sleep.destroyForcibly();
        }
    }

    /** Field 2 of /proc/PID/stat is the command in parentheses, which may hold spaces and parentheses itself. */
    @Test
    void aProcessWhoseNameHoldsParenthesesAndSpacesIsStillIdentified() throws Exception {
        Path odd = dir.resolve("sl) (eep x");
        Files.copy(Path.of("/bin/sleep"), odd);
        Files.setPosixFilePermissions(odd, PosixFilePermissions.fromString("rwx------"));
        Process p = new ProcessBuilder(odd.toString(), "60").start();
        try {
            ProcessIdentity identity = ProcessIdentity.of(p.pid()).orElseThrow();
            assertThat(identity.pid()).isEqualTo(p.pid());
            assertThat(identity.alive()).isTrue();
            assertThat(ProcessIdentity.parse(identity.line())).contains(identity);
        } finally {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void oneOwnerAtATimeAndClosingWithdrawsEverythingPidFirst() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir);
        Owner owner = spool.acquire().orElseThrow();
        assertThat(spool.acquire()).as("held").isEmpty();
        owner.mark(Marker.ABSENT, SEGMENT.toString());
        owner.store(SEGMENT.toString(), new ByteArrayInputStream(CONTENT));
        owner.historiesChecked();
        spool.request(SEGMENT);
        owner.close();
        owner.close();
        assertThat(spool.ownerAlive()).isFalse();
        assertThat(names()).containsExactly(PrefetchSpool.LOCK);
        try (Owner next = spool.acquire().orElseThrow()) {
            assertThat(spool.ownerAlive()).isTrue();
        }
    }

    @Test
    void aRequestBeingWrittenReadsAsNone() throws Exception {
        PrefetchSpool spool = new PrefetchSpool(dir);
        assertThat(spool.requested()).isEmpty();
        Files.writeString(dir.resolve(PrefetchSpool.REQUESTED), "0000000100000000");
        assertThat(spool.requested()).isEmpty();
        Files.writeString(dir.resolve(PrefetchSpool.REQUESTED), "00000002.history\n");
        assertThat(spool.requested()).as("only segments are followed").isEmpty();
        Files.writeString(dir.resolve(PrefetchSpool.REQUESTED), SEGMENT + "\n");
        assertThat(spool.requested()).contains(SEGMENT);
    }

    private static String absentMarker() {
        return SEGMENT + Marker.ABSENT.suffix();
    }

    /** The identity a process had: it has exited since (and was reaped). */
    private static ProcessIdentity deadProcess() throws Exception {
        Process p = new ProcessBuilder("sleep", "60").start();
        ProcessIdentity identity = ProcessIdentity.of(p.pid()).orElseThrow();
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        assertThat(identity.alive()).isFalse();
        return identity;
    }

    private List<String> names() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).toList();
        }
    }
}

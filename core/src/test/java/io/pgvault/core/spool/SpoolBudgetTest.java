package io.pgvault.core.spool;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SpoolBudgetTest {

    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void refusesBeyondTheBudgetAndGivesRoomBackOnClose() throws Exception {
        SpoolBudget budget = new SpoolBudget(dir, 40 * MIB, 0);
        SpoolBudget.Reservation first = budget.reserve(16 * MIB, "segment A");
        SpoolBudget.Reservation second = budget.reserve(16 * MIB, "segment B");

        assertThatThrownBy(() -> budget.reserve(16 * MIB, "segment C"))
                .isInstanceOf(SpoolFullException.class)
                .hasMessageContaining("segment C")
                .hasMessageContaining("32.0 MiB of its 40.0 MiB budget are taken")
                .hasMessageContaining("pgvault.limits.spool-bytes")
                .satisfies(e -> assertThat(((SpoolFullException) e).retryAfter()).hasValueSatisfying(d -> assertThat(d).isPositive()));
        assertThat(budget.refusals()).isEqualTo(1);

        first.close();
        first.close(); // twice is harmless
        assertThat(budget.reservedBytes()).isEqualTo(16 * MIB);
        budget.reserve(16 * MIB, "segment C").close();
        second.close();
        assertThat(budget.reservedBytes()).isZero();
    }

    @Test
    void oneUploadLargerThanTheWholeBudgetStillRunsAlone() throws Exception {
        // Refusing it for ever would stop archiving: a budget smaller than a segment must not wedge PostgreSQL.
        SpoolBudget budget = new SpoolBudget(dir, 8 * MIB, 0);
        try (SpoolBudget.Reservation big = budget.reserve(64 * MIB, "a 64 MiB segment")) {
            assertThat(big.bytes()).isEqualTo(64 * MIB);
            assertThatThrownBy(() -> budget.reserve(1, "anything else")).isInstanceOf(SpoolFullException.class);
        }
    }

    @Test
    void keepsTheFreeSpaceFloorCountingWhatIsReservedButNotYetWritten() throws Exception {
        AtomicLong free = new AtomicLong(100 * MIB);
        SpoolBudget budget = new SpoolBudget(dir, 1024 * MIB, 50 * MIB, d -> free.get());
        SpoolBudget.Reservation first = budget.reserve(30 * MIB, "segment A");

        // 100 free, 30 promised but not on disk yet: another 30 would leave 40 < 50.
        assertThatThrownBy(() -> budget.reserve(30 * MIB, "segment B"))
                .isInstanceOf(SpoolFullException.class)
                .hasMessageContaining("70.0 MiB free for new files")
                .hasMessageContaining("keeps 50.0 MiB free (pgvault.limits.spool-min-free)");

        // Once the first upload's bytes are on disk, the file system's figure shows them and they stop counting twice.
        try (OutputStream out = SpoolBudget.track(OutputStream.nullOutputStream(), first)) {
            out.write(new byte[(int) (30 * MIB)]);
        }
        free.set(70 * MIB);
        assertThatThrownBy(() -> budget.reserve(30 * MIB, "segment B")).isInstanceOf(SpoolFullException.class);
        free.set(81 * MIB);
        budget.reserve(30 * MIB, "segment B").close();
        first.close();
    }

    @Test
    void aTrackedStreamGrowsItsReservationAndFailsWhenTheBudgetCannot() throws Exception {
        SpoolBudget budget = new SpoolBudget(dir, 4 * MIB, 0);
        SpoolBudget.Reservation holder = budget.reserve(2 * MIB, "another upload");
        try (SpoolBudget.Reservation room = budget.reserve(MIB, "an upload without Content-Length");
             OutputStream out = SpoolBudget.track(OutputStream.nullOutputStream(), room)) {
            out.write(new byte[(int) MIB + 1]);
            assertThat(room.bytes()).isEqualTo(2 * MIB);
            assertThatThrownBy(() -> out.write(new byte[(int) MIB])).isInstanceOf(SpoolFullException.class);
        }
        holder.close();
        assertThat(budget.reservedBytes()).isZero();
    }

    @Test
    void aDiskThatFillsUnderneathBecomesARefusalToRetryLater() throws Exception {
        SpoolBudget budget = new SpoolBudget(dir, 64 * MIB, 0);
        OutputStream enospc = new OutputStream() {
            @Override
            public void write(int b) throws java.io.IOException {
                throw new java.io.IOException("No space left on device");
            }
        };
        try (SpoolBudget.Reservation room = budget.reserve(MIB, "000000010000000000000007 of cluster 'main'")) {
            OutputStream out = SpoolBudget.track(enospc, room);
            assertThatThrownBy(() -> out.write(new byte[10]))
                    .isInstanceOf(SpoolFullException.class)
                    .hasMessageContaining("ran out of disk space while writing 000000010000000000000007")
                    .hasMessageContaining("pgvault.limits.spool-min-free")
                    .satisfies(e -> assertThat(((SpoolFullException) e).retryAfter()).isPresent());
        }
        // Any other write failure stays what it was.
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws java.io.IOException {
                throw new java.io.IOException("Input/output error");
            }
        };
        try (SpoolBudget.Reservation room = budget.reserve(MIB, "another")) {
            assertThatThrownBy(() -> SpoolBudget.track(broken, room).write(1)).isNotInstanceOf(SpoolFullException.class)
                    .hasMessage("Input/output error");
        }
        assertThat(budget.refusals()).isEqualTo(1);
    }

    @Test
    void aWaitingReservationGetsTheRoomAnotherGivesBack() throws Exception {
        SpoolBudget budget = new SpoolBudget(dir, 16 * MIB, 0);
        SpoolBudget.Reservation held = budget.reserve(16 * MIB, "a backup piece");
        CompletableFuture<SpoolBudget.Reservation> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return budget.reserve(8 * MIB, "the next piece", Duration.ofSeconds(30));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(200);
        assertThat(waiting).isNotDone();
        held.close();
        try (SpoolBudget.Reservation next = waiting.get(10, TimeUnit.SECONDS)) {
            assertThat(next.bytes()).isEqualTo(8 * MIB);
        }
    }
}

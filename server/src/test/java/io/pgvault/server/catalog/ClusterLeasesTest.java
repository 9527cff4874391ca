package io.pgvault.server.catalog;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.sql.DataSource;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Leases and slot claims on both catalogs: the database's clock decides expiry, one of
 * several servers taking a lease at once gets it, each taking draws a new token, a holder
 * whose lease was taken cannot renew it, a slot is claimed once, and a backup another
 * server failed (judging its server gone) cannot be completed by that server when it wakes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterLeasesTest {

    private static final long TTL = 1500;

    private TwoCatalogs catalogs;

    @BeforeAll
    void start() {
        catalogs = TwoCatalogs.start();
    }

    @AfterAll
    void stop() {
        if (catalogs != null) {
            catalogs.close();
        }
    }

    private static long cluster(DataSource ds, String name) {
        Catalog catalog = new Catalog(ds);
        catalog.insertCluster(name, "host=x", null, null, null, Instant.now());
        return catalog.findCluster(name).orElseThrow().id();
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgres"})
    void aLeaseIsHeldUntilItExpiresByTheDatabasesClock(String kind) throws Exception {
        DataSource ds = catalogs.get(kind);
        ClusterLeases leases = new ClusterLeases(ds);
        long id = cluster(ds, "expiry-" + kind);

        OptionalLong a = leases.acquire(id, "server-a", TTL);
        assertThat(a).isPresent();
        assertThat(leases.acquire(id, "server-b", TTL)).as("held by a").isEmpty();
        assertThat(leases.holds(id, "server-a", a.getAsLong())).isTrue();
        assertThat(leases.renew(id, "server-a", a.getAsLong(), TTL)).isTrue();

        ClusterLeases.Snapshot snapshot = leases.snapshot("server-b", TTL);
        ClusterLeases.LeaseRow row = snapshot.leases().stream().filter(l -> l.clusterId() == id).findFirst().orElseThrow();
        assertThat(row.serverId()).isEqualTo("server-a");
        assertThat(snapshot.expired(row)).isFalse();
        assertThat(row.expiresMs() - snapshot.nowMs()).isBetween(0L, TTL);

        Thread.sleep(TTL + 300);
        assertThat(leases.renew(id, "server-a", a.getAsLong(), TTL)).as("an expired lease is not renewed").isFalse();
        OptionalLong b = leases.acquire(id, "server-b", TTL);
        assertThat(b).as("b takes the expired lease").isPresent();
        assertThat(b.getAsLong()).as("with a new token").isGreaterThan(a.getAsLong());
        assertThat(leases.holds(id, "server-a", a.getAsLong())).isFalse();
        assertThat(leases.renew(id, "server-a", a.getAsLong(), TTL)).as("a, woken up, cannot renew b's lease").isFalse();

        leases.release(id, "server-a", a.getAsLong());
        assertThat(leases.holds(id, "server-b", b.getAsLong())).as("a release by the old holder does nothing").isTrue();
        leases.release(id, "server-b", b.getAsLong());
        OptionalLong c = leases.acquire(id, "server-c", TTL);
        assertThat(c).as("a released lease is taken at once").isPresent();
        assertThat(c.getAsLong()).isGreaterThan(b.getAsLong());
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgres"})
    void ofServersTakingALeaseAtOnceOneGetsIt(String kind) throws Exception {
        DataSource ds = catalogs.get(kind);
        ClusterLeases leases = new ClusterLeases(ds);
        List<Long> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(cluster(ds, "race-" + i + "-" + kind));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            for (long id : ids) {
                CountDownLatch go = new CountDownLatch(1);
                List<Future<OptionalLong>> tries = new ArrayList<>();
                for (int s = 0; s < 4; s++) {
                    String server = "server-" + s;
                    tries.add(pool.submit(() -> {
                        go.await();
                        return leases.acquire(id, server, 10_000);
                    }));
                }
                go.countDown();
                int won = 0;
                for (Future<OptionalLong> f : tries) {
                    won += f.get().isPresent() ? 1 : 0;
                }
                assertThat(won).as("cluster %d", id).isEqualTo(1);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(leases.snapshot("server-0", 10_000).liveServers()).isEqualTo(1);
        leases.snapshot("server-1", 10_000);
        assertThat(leases.snapshot("server-2", 10_000).liveServers()).isEqualTo(3);
        leases.forgetServer("server-2");
        assertThat(leases.snapshot("server-0", 10_000).liveServers()).isEqualTo(2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgres"})
    void aBackupSlotIsClaimedOnce(String kind) {
        DataSource ds = catalogs.get(kind);
        BackupSlots slots = new BackupSlots(ds);
        long id = cluster(ds, "slots-" + kind);
        Instant slot = Instant.parse("2026-12-05T02:00:00Z");
        assertThat(slots.claim(id, slot, "full", "server-a", 7)).isTrue();
        assertThat(slots.claim(id, slot, "incremental", "server-b", 8)).as("the same slot, by another holder").isFalse();
        slots.started(id, slot, "20261205T020000Z-abcdef");
        assertThat(slots.latest(id).orElseThrow()).isEqualTo(new BackupSlots.Claim(slot, "full", "server-a", 7, "20261205T020000Z-abcdef"));
        assertThat(slots.claim(id, slot.plusSeconds(10), "incremental", "server-b", 8)).isTrue();
        assertThat(slots.forgetBefore(slot.plusSeconds(5))).isEqualTo(1);
        assertThat(slots.latest(id).orElseThrow().slotAt()).isEqualTo(slot.plusSeconds(10));
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgres"})
    void aBackupAnotherServerFailedCannotBeCompleted(String kind) {
        DataSource ds = catalogs.get(kind);
        BackupHistory history = new BackupHistory(ds);
        long id = cluster(ds, "fenced-" + kind);
        Instant t0 = Instant.parse("2026-12-05T02:00:00Z");
        BackupRow stored = new BackupRow("20261205T020000Z-aaaaaa", BackupRow.STORED, null, t0, t0.plusSeconds(30), 1L << 24, 2L << 24, 1L,
                16L << 20, 100L, 50L, 1);

        history.started(id, stored.id(), t0, "server-a");
        assertThat(history.abandoned(id, stored.id(), t0.plusSeconds(200), "server-a gone")).isTrue();
        assertThat(history.completed(id, stored)).as("failed by another server first").isFalse();
        assertThat(history.find(id, stored.id()).orElseThrow().status()).isEqualTo(BackupRow.FAILED);

        BackupRow other = new BackupRow("20261205T030000Z-bbbbbb", BackupRow.STORED, null, t0, t0.plusSeconds(30), 1L << 24, 2L << 24, 1L,
                16L << 20, 100L, 50L, 1);
        history.started(id, other.id(), t0, "server-a");
        assertThat(history.completed(id, other)).isTrue();
        assertThat(history.abandoned(id, other.id(), t0.plusSeconds(200), "too late")).as("stored first: not failed after").isFalse();
        assertThat(history.find(id, other.id()).orElseThrow().status()).isEqualTo(BackupRow.STORED);

        BackupRow rebuilt = new BackupRow("20261205T040000Z-cccccc", BackupRow.STORED, null, t0, t0.plusSeconds(30), 1L << 24, 2L << 24, 1L,
                16L << 20, 100L, 50L, 1);
        assertThat(history.completed(id, rebuilt)).as("a row a rebuild dropped is written anew").isTrue();

        // Another server failed it, found its manifest over whole pieces and listed it as stored: completed too.
        BackupRow listed = new BackupRow("20261205T050000Z-dddddd", BackupRow.STORED, null, t0, t0.plusSeconds(30), 1L << 24, 2L << 24, 1L,
                16L << 20, 100L, 50L, 1);
        history.started(id, listed.id(), t0, "server-a");
        assertThat(history.abandoned(id, listed.id(), t0.plusSeconds(200), "server-a gone")).isTrue();
        history.put(id, listed);
        assertThat(history.completed(id, listed)).isTrue();
    }
}

package io.pgvault.server.catalog;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.sql.DataSource;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The backup history and the WAL statistics the dashboard reads, on both catalogs pgvault
 * supports: the embedded H2 and PostgreSQL (timestamps with zones, typed NULLs, window
 * functions and LIMIT behave alike).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CatalogQueriesTest {

    private static final Instant T0 = Instant.parse("2026-12-04T10:00:00Z");
    private static final long SEGMENT = 16L << 20;

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

    private static WalRow segment(long number, Instant arrived) {
        return new WalRow(String.format("00000001%016X", number), "SEGMENT", 1, number, number * SEGMENT, SEGMENT, SEGMENT / 4, "zstd",
                "0".repeat(64), "clusters/main/wal/" + number, arrived);
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgres"})
    void backupHistoryAndWalStatistics(String kind) {
        DataSource ds = catalogs.get(kind);
        Catalog catalog = new Catalog(ds);
        BackupHistory history = new BackupHistory(ds);
        WalStatistics stats = new WalStatistics(ds);
        String name = "main-" + kind;
        assertThat(catalog.insertCluster(name, "host=x", "7441234567890123456", SEGMENT, 17, T0)).isTrue();
        long id = catalog.findCluster(name).orElseThrow().id();

        history.started(id, "20261204T100000Z-aaaaaa", T0);
        assertThat(history.find(id, "20261204T100000Z-aaaaaa").orElseThrow().status()).isEqualTo("running");
        BackupRow stored = new BackupRow("20261204T100000Z-aaaaaa", BackupRow.STORED, null, T0, T0.plusSeconds(30), 2 * SEGMENT,
                3 * SEGMENT - 1, 1L, SEGMENT, 100L << 20, 30L << 20, 2);
        history.put(id, stored);
        history.started(id, "20261204T110000Z-bbbbbb", T0.plusSeconds(3600));
        history.failed(id, BackupRow.running("20261204T110000Z-bbbbbb", T0.plusSeconds(3600)), T0.plusSeconds(3605), "cannot connect");
        // A failure whose running row a rebuild dropped is written anew.
        history.failed(id, BackupRow.running("20261204T113000Z-dddddd", T0.plusSeconds(5400)), T0.plusSeconds(5405), "dropped row");
        history.started(id, "20261204T120000Z-cccccc", T0.plusSeconds(7200), "server-a");
        assertThat(history.heartbeat("20261204T120000Z-cccccc", "server-b", T0.plusSeconds(7250))).as("another server's backup").isFalse();
        assertThat(history.heartbeat("20261204T120000Z-cccccc", "server-a", T0.plusSeconds(7260))).isTrue();
        assertThat(history.running()).filteredOn(r -> r.clusterId() == id).containsExactly(new BackupHistory.Running(id,
                "20261204T120000Z-cccccc", T0.plusSeconds(7200), "server-a", T0.plusSeconds(7260)));
        assertThat(history.abandoned(id, "20261204T120000Z-cccccc", T0.plusSeconds(7300), "no heartbeat")).isTrue();
        assertThat(history.abandoned(id, "20261204T120000Z-cccccc", T0.plusSeconds(7400), "twice")).as("no longer running").isFalse();
        assertThat(history.heartbeat("20261204T120000Z-cccccc", "server-a", T0.plusSeconds(7500))).as("failed meanwhile").isFalse();
        List<BackupRow> rows = history.list(id);
        assertThat(rows).extracting(BackupRow::id).containsExactly("20261204T100000Z-aaaaaa", "20261204T110000Z-bbbbbb",
                "20261204T113000Z-dddddd", "20261204T120000Z-cccccc");
        assertThat(rows.get(0)).isEqualTo(stored);
        assertThat(rows.get(1).reason()).isEqualTo("cannot connect");
        assertThat(rows.get(1).finishedAt()).isEqualTo(T0.plusSeconds(3605));
        assertThat(rows.get(2).status()).isEqualTo("failed");
        assertThat(rows.get(2).startedAt()).isEqualTo(T0.plusSeconds(5400));
        assertThat(rows.get(3).status()).isEqualTo("failed");
        assertThat(rows.get(3).reason()).isEqualTo("no heartbeat");

        for (long n : new long[] {2, 3, 4, 7, 8, 12}) {
            catalog.recordWal(id, segment(n, T0.plusSeconds(60 * n)));
        }
        WalStatistics.Totals totals = stats.totals(id);
        assertThat(totals.files()).isEqualTo(6);
        assertThat(totals.rawBytes()).isEqualTo(6 * SEGMENT);
        assertThat(totals.lastArrivedAt()).isEqualTo(T0.plusSeconds(720));
        assertThat(totals.lastFile()).isEqualTo("00000001000000000000000C");
        assertThat(stats.gaps(id, 3)).containsExactly(
                new WalStatistics.SegmentGap(1, 4, 7, T0.plusSeconds(240), T0.plusSeconds(420)),
                new WalStatistics.SegmentGap(1, 8, 12, T0.plusSeconds(480), T0.plusSeconds(720)));
        assertThat(stats.gaps(id, 8)).hasSize(1);
        assertThat(stats.timelines(id)).containsExactly(new WalStatistics.TimelineSpan(1, 2, 12, T0.plusSeconds(120), T0.plusSeconds(720)));
        assertThat(stats.arrivalsSince(id, T0.plusSeconds(400))).hasSize(3);
        assertThat(stats.firstSegmentArrivedAfter(id, 1, T0.plusSeconds(250))).contains(7L);
        assertThat(stats.firstSegmentArrivedAfter(id, 1, T0.plusSeconds(9999))).isEmpty();
        assertThat(catalog.segmentNumbers(id, 1, 2, 5)).containsExactlyInAnyOrder(2L, 3L, 4L);
        // Segments 3 to 7 of a backup that spans the hole at 5 and 6: three of its five are archived.
        history.put(id, new BackupRow("20261204T130000Z-eeeeee", BackupRow.STORED, null, T0, T0.plusSeconds(60), 3 * SEGMENT + 40,
                7 * SEGMENT + 100, 1L, SEGMENT, 1L, 1L, 1));
        assertThat(history.archivedSegmentCounts(id)).containsEntry("20261204T100000Z-aaaaaa", 1L)
                .containsEntry("20261204T130000Z-eeeeee", 3L).doesNotContainKey("20261204T110000Z-bbbbbb");

        history.delete(id, "20261204T100000Z-aaaaaa");
        assertThat(history.find(id, "20261204T100000Z-aaaaaa")).isEmpty();
        catalog.deleteCluster(id);
        assertThat(history.list(id)).isEmpty();
    }
}

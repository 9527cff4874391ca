package io.pgvault.testkit;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The PostgreSQL fixture itself: settings, crash and crash recovery, and that it leaves nothing running. */
class PgClusterTest {

    @Test
    void startsWithSettingsCrashesRecoversAndCleansUp() {
        PgCluster pg = PgCluster.builder(Fixtures.testMajors().get(0)).setting("cluster_name", "pgvault 'quoted' test").start();
        long postmaster;
        try {
            assertThat(pg.queryValue("SHOW cluster_name")).isEqualTo("pgvault 'quoted' test");
            pg.execute("CREATE TABLE t (v int)", "INSERT INTO t VALUES (1), (2)");
            postmaster = Long.parseLong(readPid(pg));
            pg.crash();
            assertThat(ProcessHandle.of(postmaster).map(ProcessHandle::isAlive).orElse(false)).isFalse();
            assertThatThrownBy(() -> pg.queryValue("SELECT 1")).isInstanceOf(IllegalStateException.class);
            pg.start();
            // Committed rows survive the crash: crash recovery replayed the WAL.
            assertThat(pg.queryValue("SELECT sum(v) FROM t")).isEqualTo("3");
        } finally {
            pg.close();
        }
        assertThat(Files.exists(pg.directory())).isFalse();
        assertThat(ProcessHandle.allProcesses().anyMatch(p -> p.info().arguments().map(a -> String.join(" ", a))
                .orElse("").contains(pg.dataDirectory().toString()))).isFalse();
    }

    private static String readPid(PgCluster pg) {
        try {
            return Files.readAllLines(pg.dataDirectory().resolve("postmaster.pid")).get(0).trim();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}

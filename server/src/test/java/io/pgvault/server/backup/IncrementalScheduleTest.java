package io.pgvault.server.backup;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Backup schedules and retention changed with {@code cluster update} on a registered cluster
 * (PostgreSQL 17, summarize_wal on): an incremental schedule set afterwards takes incremental
 * backups on the newest backup, the repository's descriptor records it (a catalog rebuild
 * keeps it), clearing it stops them, and a bad cron expression is refused.
 */
class IncrementalScheduleTest {

    private static List<BackupView> await(BackupService backups, Predicate<List<BackupView>> condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        List<BackupView> list = backups.list("main");
        while (!condition.test(list) && System.nanoTime() < deadline) {
            Thread.sleep(200);
            list = backups.list("main");
        }
        return list;
    }

    @Test
    void clusterUpdateSchedulesIncrementalBackups() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-incremental-schedule-");
        Map<String, Object> props = new HashMap<>(Map.of(
                "micronaut.server.port", -1,
                "pgvault.data-dir", dir.toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH"));
        try (PgCluster pg = PgCluster.builder(17).setting("summarize_wal", "on").start();
             EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props)) {
            pg.execute("CREATE TABLE t (id int)", "INSERT INTO t SELECT generate_series(1, 10000)");
            ClusterService clusters = server.getApplicationContext().getBean(ClusterService.class);
            BackupService backups = server.getApplicationContext().getBean(BackupService.class);
            clusters.add("main", "host=127.0.0.1 port=" + pg.port() + " user=postgres");

            String full = backups.start("main", false).id();
            assertThat(await(backups, l -> l.stream().noneMatch(b -> b.status().equals("running")))).extracting(BackupView::status)
                    .doesNotContain("failed");

            assertThatThrownBy(() -> clusters.update("main", new ClusterService.Change(null, null, null, null, "every day", null, null)))
                    .hasMessageContaining("'every day' is not a cron expression");
            ClusterRow updated = clusters.update("main", new ClusterService.Change(null, null, null, null, "*/2 * * * * *", 3, null));
            assertThat(updated.incrementalSchedule()).isEqualTo("*/2 * * * * *");
            assertThat(updated.retainFull()).isEqualTo(3);
            ObjectStore store = server.getApplicationContext().getBean(ObjectStore.class);
            assertThat(ClusterDescriptor.read(store, "main").orElseThrow().incrementalSchedule()).isEqualTo("*/2 * * * * *");

            List<BackupView> list = await(backups, l -> l.stream().anyMatch(b -> "incremental".equals(b.type()) && !b.status().equals("running")));
            BackupView incremental = list.stream().filter(b -> "incremental".equals(b.type())).findFirst().orElseThrow();
            assertThat(incremental.status()).as(String.valueOf(incremental.reason())).isIn("stored", "complete", "incomplete");
            assertThat(incremental.parent()).isEqualTo(full);

            clusters.update("main", new ClusterService.Change(null, null, null, null, "", 0, null));
            assertThat(clusters.require("main").incrementalSchedule()).isNull();
            assertThat(clusters.require("main").retainFull()).isNull();
            await(backups, l -> l.stream().noneMatch(b -> b.status().equals("running")));
            int taken = backups.list("main").size();
            Thread.sleep(Duration.ofSeconds(5).toMillis());
            assertThat(backups.list("main")).as("no more incremental backups once the schedule is cleared").hasSize(taken);
        } finally {
            Fixtures.deleteTree(dir);
        }
    }
}

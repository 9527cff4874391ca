package io.pgvault.server.lease;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.pgvault.server.SharedCatalogServers.await;
import static io.pgvault.server.SharedCatalogServers.props;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Servers on one PostgreSQL catalog share the clusters' leases: the first server takes them
 * all, a second one joining gets its fair share handed over without a restart, and a server
 * stopping releases its leases so the other takes them within a round, not a ttl. A server
 * that cannot reach the catalog stops acting on its leases before they expire there.
 */
class LeaseKeeperTest {

    private static final List<String> CLUSTERS = List.of("c1", "c2", "c3", "c4");

    @Test
    void serversShareTheLeasesAndTakeThemOverWhenOneStops() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-leases-");
        try (PgCluster pg = PgCluster.builder(17).start()) {
            pg.execute("CREATE DATABASE catalog");
            try (EmbeddedServer a = ApplicationContext.run(EmbeddedServer.class, props(dir, "a", pg))) {
                ClusterService clusters = a.getApplicationContext().getBean(ClusterService.class);
                for (String name : CLUSTERS) {
                    clusters.add(name, null);
                }
                LeaseKeeper keeperA = a.getApplicationContext().getBean(LeaseKeeper.class);
                await(() -> held(keeperA) == 4, "a alone holds every lease");

                try (EmbeddedServer b = ApplicationContext.run(EmbeddedServer.class, props(dir, "b", pg))) {
                    LeaseKeeper keeperB = b.getApplicationContext().getBean(LeaseKeeper.class);
                    await(() -> held(keeperA) == 2 && held(keeperB) == 2, "two each once b joined");
                    for (String name : CLUSTERS) {
                        assertThat(keeperA.lease(name).isPresent() ^ keeperB.lease(name).isPresent()).as(name + " held by exactly one").isTrue();
                    }
                    long stopping = System.nanoTime();
                    a.close();
                    await(() -> held(keeperB) == 4, "b takes a's leases once a stops");
                    // Released at a's shutdown: taken within a round (1 s here), well before the 4 s ttl ran out.
                    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopping)).isLessThan(3500);
                }
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    @Test
    void aServerCutOffFromTheCatalogStopsActingBeforeItsLeasesExpire() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-leases-");
        try (PgCluster pg = PgCluster.builder(17).start()) {
            pg.execute("CREATE DATABASE catalog");
            try (EmbeddedServer a = ApplicationContext.run(EmbeddedServer.class, props(dir, "a", pg))) {
                a.getApplicationContext().getBean(ClusterService.class).add("c1", null);
                LeaseKeeper keeper = a.getApplicationContext().getBean(LeaseKeeper.class);
                await(() -> keeper.lease("c1").isPresent(), "a holds c1");

                pg.stop();
                long cutOff = System.nanoTime();
                await(() -> keeper.lease("c1").isEmpty(), "a stops acting on c1");
                // By its own clock, within 80% of the 4 s ttl after its last renewal (at most a round, 1 s, before the cut).
                assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - cutOff)).isLessThan(4000);

                pg.start();
                await(() -> keeper.lease("c1").isPresent(), "a takes c1 again once the catalog answers");
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static int held(LeaseKeeper keeper) {
        return (int) CLUSTERS.stream().filter(c -> keeper.lease(c).isPresent()).count();
    }
}

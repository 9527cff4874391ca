package io.pgvault.server.stream;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.server.SharedCatalogServers;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static io.pgvault.server.SharedCatalogServers.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two servers on one catalog, the cluster streamed by whichever holds its lease: the other one
 * reports it as streamed elsewhere, and removing the cluster on the server that does not
 * stream it leaves no replication slot behind on the primary (the holder's receiver, ended to
 * free the slot, would create it again by reconnecting; the holder drops it when it learns).
 */
class StreamingLeaseTest {

    @Test
    void removingAClusterOnTheServerThatDoesNotStreamItLeavesNoSlot() throws Exception {
        Path dir = Files.createTempDirectory("pgvault-stream-lease-");
        try (PgCluster catalog = PgCluster.builder(17).start(); PgCluster primary = PgCluster.builder(17).start()) {
            catalog.execute("CREATE DATABASE catalog");
            try (EmbeddedServer a = ApplicationContext.run(EmbeddedServer.class, props(dir, "a", catalog));
                 EmbeddedServer b = ApplicationContext.run(EmbeddedServer.class, props(dir, "b", catalog))) {
                ClusterService onA = a.getApplicationContext().getBean(ClusterService.class);
                onA.add(new ClusterService.Registration("main", "host=127.0.0.1 port=" + primary.port() + " user=postgres", null, null, null, true,
                        null, null));
                StreamingService streamingA = a.getApplicationContext().getBean(StreamingService.class);
                StreamingService streamingB = b.getApplicationContext().getBean(StreamingService.class);
                await(() -> streamingA.status("main").state().equals("streaming") || streamingB.status("main").state().equals("streaming"),
                        "one server streams");
                boolean aStreams = streamingA.status("main").state().equals("streaming");
                StreamingService other = aStreams ? streamingB : streamingA;
                EmbeddedServer otherServer = aStreams ? b : a;
                await(() -> other.status("main").state().equals(StreamStatus.ELSEWHERE), "the other reports it streamed elsewhere");
                assertThat(other.status("main").server()).isEqualTo(aStreams ? "a" : "b");
                assertThat(slots(primary)).isEqualTo("1");

                otherServer.getApplicationContext().getBean(ClusterService.class).remove("main");
                // The holder learns at its next lease round (1 s here) at the latest.
                await(() -> slots(primary).equals("0") && streamingA.status("main").state().equals("off")
                        && streamingB.status("main").state().equals("off"), "no slot and no stream left");
                Thread.sleep(3000);
                assertThat(slots(primary)).as("nothing created the slot again").isEqualTo("0");
            }
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static String slots(PgCluster primary) {
        return primary.queryValue("SELECT count(*) FROM pg_replication_slots");
    }

    private static Map<String, Object> props(Path dir, String server, PgCluster catalog) {
        Map<String, Object> props = SharedCatalogServers.props(dir, server, catalog);
        props.put("pgvault.streaming.retry-min", "100ms");
        props.put("pgvault.streaming.retry-max", "500ms");
        return props;
    }
}

package io.pgvault.server;

import io.pgvault.testkit.PgCluster;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** In-process servers that share one PostgreSQL catalog and one local repository, with leases short enough for a test. */
public final class SharedCatalogServers {

    private SharedCatalogServers() {
    }

    /** Server {@code serverId}'s properties: a 4 s lease ttl renewed every second, its own data directory under {@code dir}. */
    public static Map<String, Object> props(Path dir, String serverId, PgCluster catalog) {
        Map<String, Object> props = new HashMap<>();
        props.put("micronaut.server.port", -1);
        props.put("pgvault.server-id", serverId);
        props.put("pgvault.lease.ttl", "4s");
        props.put("pgvault.lease.renew-interval", "1s");
        props.put("pgvault.data-dir", dir.resolve(serverId).toString());
        props.put("pgvault.repository.url", dir.resolve("repo").toUri().toString());
        props.put("pgvault.catalog.url", catalog.jdbcUrl("catalog"));
        props.put("pgvault.catalog.user", "postgres");
        return props;
    }

    /** Waits up to 30 s for {@code condition}, failing with {@code what}. */
    public static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as(what).isLessThan(deadline);
            Thread.sleep(100);
        }
    }
}

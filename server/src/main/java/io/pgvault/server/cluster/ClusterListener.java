package io.pgvault.server.cluster;

import io.pgvault.server.catalog.ClusterRow;

import java.util.List;

/** Told when clusters come, change and go (the backup scheduler and the streaming receivers listen). */
public interface ClusterListener {

    default void registered(ClusterRow cluster) {
    }

    default void updated(ClusterRow before, ClusterRow after) {
    }

    /**
     * Before the cluster leaves the catalog: stop working on it and let go of what it holds
     * on its database server.
     *
     * @return warnings for the DBA (what could not be let go of, and how to do it by hand)
     */
    default List<String> removing(ClusterRow cluster) {
        return List.of();
    }
}

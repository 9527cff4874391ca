package io.pgvault.server.lease;

import io.pgvault.server.catalog.ClusterRow;

/**
 * Told when this server takes or loses a cluster's lease, one event at a time in the order
 * they happened (on the keeper's event thread: a listener may take its time).
 */
public interface LeaseListener {

    /** This server now runs the cluster's once-per-cluster work. */
    void gained(ClusterRow cluster, Lease lease);

    /** This server must stop the cluster's once-per-cluster work now: another server may already run it. */
    void lost(String cluster, Lease lease, String why);

    /** The catalog's row of a cluster this server holds changed (on any server: another one may have taken the change). */
    default void changed(ClusterRow before, ClusterRow after, Lease lease) {
    }
}

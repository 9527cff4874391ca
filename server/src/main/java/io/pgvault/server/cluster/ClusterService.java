package io.pgvault.server.cluster;

import io.micronaut.http.HttpStatus;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.server.api.ApiException;
import io.pgvault.server.catalog.Catalog;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.repository.RepositoryInitializer;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;

/** Registers clusters, in the repository (the truth) and in the catalog (the index). */
@Singleton
public class ClusterService {

    private final Catalog catalog;
    private final ObjectStore store;
    private final RepositoryInitializer repository;
    private final Clock clock;

    public ClusterService(Catalog catalog, ObjectStore store, RepositoryInitializer repository, Clock clock) {
        this.catalog = catalog;
        this.store = store;
        this.repository = repository;
        this.clock = clock;
    }

    public ClusterRow add(String name, String conninfo) throws IOException {
        RepositoryLayout.checkCluster(name);
        if (catalog.findCluster(name).isPresent()) {
            throw new ApiException(HttpStatus.CONFLICT, "cluster '" + name + "' is already registered; `pgvault cluster show " + name + "` shows it");
        }
        repository.ensureReady();
        Instant now = clock.instant();
        // An existing descriptor (a catalog rebuilt or lost) keeps the identity it recorded.
        ClusterDescriptor descriptor = ClusterDescriptor.read(store, name)
                .map(d -> new ClusterDescriptor(name, conninfo, d.systemIdentifier(), d.walSegmentSize(), d.pgMajor(), d.createdAt()))
                .orElse(new ClusterDescriptor(name, conninfo, null, null, null, now.toString()));
        descriptor.write(store);
        if (!catalog.insertCluster(name, conninfo, descriptor.systemIdentifier(), descriptor.walSegmentSize(), descriptor.pgMajor(), now)) {
            throw new ApiException(HttpStatus.CONFLICT, "cluster '" + name + "' was registered concurrently");
        }
        return require(name);
    }

    public List<ClusterRow> list() {
        return catalog.listClusters();
    }

    /** The cluster, or a 404 that says how to register it. */
    public ClusterRow require(String name) {
        return catalog.findCluster(name).orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND,
                "cluster '" + name + "' is not registered with this pgvault server; register it first: "
                        + "pgvault cluster add " + name + " --conninfo 'host=... user=...' (or POST /v1/clusters)"));
    }
}

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
    private final List<java.util.function.Consumer<ClusterRow>> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    public ClusterService(Catalog catalog, ObjectStore store, RepositoryInitializer repository, Clock clock) {
        this.catalog = catalog;
        this.store = store;
        this.repository = repository;
        this.clock = clock;
    }

    public ClusterRow add(String name, String conninfo) throws IOException {
        return add(name, conninfo, null, null, null);
    }

    /**
     * Registers a cluster with an optional backup schedule (cron, e.g. {@code 0 2 * * *})
     * and retention policy (keep the newest N full backups and/or a recovery window in days).
     */
    public ClusterRow add(String name, String conninfo, String schedule, Integer retainFull, Integer retainDays) throws IOException {
        RepositoryLayout.checkCluster(name);
        checkPolicy(schedule, retainFull, retainDays);
        if (catalog.findCluster(name).isPresent()) {
            throw new ApiException(HttpStatus.CONFLICT, "cluster '" + name + "' is already registered; `pgvault cluster show " + name + "` shows it");
        }
        repository.ensureReady();
        Instant now = clock.instant();
        // An existing descriptor (a catalog rebuilt or lost) keeps the identity it recorded.
        ClusterDescriptor descriptor = ClusterDescriptor.read(store, name)
                .map(d -> new ClusterDescriptor(name, conninfo, d.systemIdentifier(), d.walSegmentSize(), d.pgMajor(), d.createdAt(),
                        schedule, retainFull, retainDays))
                .orElse(new ClusterDescriptor(name, conninfo, null, null, null, now.toString(), schedule, retainFull, retainDays));
        descriptor.write(store);
        if (!catalog.insertCluster(name, conninfo, descriptor.systemIdentifier(), descriptor.walSegmentSize(), descriptor.pgMajor(), now)) {
            throw new ApiException(HttpStatus.CONFLICT, "cluster '" + name + "' was registered concurrently");
        }
        ClusterRow row = require(name);
        catalog.updatePolicy(row.id(), schedule, retainFull, retainDays);
        ClusterRow registered = require(name);
        listeners.forEach(l -> l.accept(registered));
        return registered;
    }

    /** Called with each newly registered cluster (the backup scheduler listens). */
    public void onRegistered(java.util.function.Consumer<ClusterRow> listener) {
        listeners.add(listener);
    }

    private static void checkPolicy(String schedule, Integer retainFull, Integer retainDays) {
        if (schedule != null && !schedule.isBlank()) {
            try {
                io.micronaut.scheduling.cron.CronExpression.create(schedule);
            } catch (RuntimeException e) {
                throw new ApiException(HttpStatus.BAD_REQUEST, "backup schedule '" + schedule
                        + "' is not a cron expression: expected e.g. '0 2 * * *' (02:00 every day): " + e.getMessage());
            }
        }
        if (retainFull != null && retainFull < 1) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "retain-full " + retainFull + " would keep no backup: expected 1 or more");
        }
        if (retainDays != null && retainDays < 1) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "retain-days " + retainDays + " is not a recovery window: expected 1 or more days");
        }
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

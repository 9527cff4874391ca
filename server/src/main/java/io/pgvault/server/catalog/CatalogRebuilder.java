package io.pgvault.server.catalog;

import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Instant;
import java.util.Optional;

/**
 * Refills the catalog from the repository alone: cluster descriptors, then one header
 * read per WAL object. The repository is the truth, so the result equals what the
 * catalog held before, except rows for objects that are gone.
 */
@Singleton
public class CatalogRebuilder {

    private static final Logger LOG = LoggerFactory.getLogger(CatalogRebuilder.class);

    /** What a rebuild found. */
    @io.micronaut.serde.annotation.Serdeable
    public record Summary(int clusters, int walFiles, int skipped) {
    }

    private final Catalog catalog;
    private final ObjectStore store;

    public CatalogRebuilder(Catalog catalog, ObjectStore store) {
        this.catalog = catalog;
        this.store = store;
    }

    public synchronized Summary rebuild() throws IOException {
        RepositoryFormat.require(store);
        catalog.clear();
        int clusters = 0;
        int files = 0;
        int skipped = 0;
        for (ObjectStat stat : store.list("clusters/")) {
            String[] parts = stat.key().split("/");
            if (parts.length != 3 || !parts[2].equals("cluster.json")) {
                continue;
            }
            Optional<ClusterDescriptor> d = ClusterDescriptor.read(store, parts[1]);
            if (d.isEmpty()) {
                continue;
            }
            ClusterDescriptor c = d.get();
            if (c.removedAt() != null) {
                LOG.info("Cluster {} was removed at {}: not registered again (its WAL and backups stay in the repository)", c.name(), c.removedAt());
                continue;
            }
            catalog.insertCluster(c.name(), c.conninfo(), c.systemIdentifier(), c.walSegmentSize(), c.pgMajor(), Instant.parse(c.createdAt()));
            long clusterId = catalog.findCluster(c.name()).orElseThrow().id();
            catalog.updatePolicy(clusterId, c.backupSchedule(), c.retainFull(), c.retainDays());
            catalog.updateConnection(clusterId, c.conninfo(), c.streams(), c.slot());
            clusters++;
            for (ObjectStat wal : store.list(RepositoryLayout.walPrefix(c.name()))) {
                if (RepositoryLayout.isStreamingPartial(wal.key())) {
                    continue; // a streamed head, replaced as streaming goes on: not an archived file
                }
                String fileName = wal.key().substring(wal.key().lastIndexOf('/') + 1);
                Optional<WalFileName> name = WalFileName.tryParse(fileName);
                if (name.isEmpty()) {
                    LOG.warn("Skipping {}: not a WAL file name", wal.key());
                    skipped++;
                    continue;
                }
                ObjectHeader h = ObjectEnvelope.readHeader(store, wal.key()).orElseThrow();
                Long segment = null;
                Long start = null;
                if (name.get().hasSegment() && h.segmentSize() > 0) {
                    WalSegmentSize size = new WalSegmentSize(h.segmentSize());
                    segment = name.get().segmentNumber(size);
                    start = name.get().startLsn(size).value();
                }
                catalog.recordWal(clusterId, new WalRow(fileName, name.get().kind().name(), name.get().timeline().value(), segment, start,
                        h.rawSize(), wal.size(), h.codec(), h.sha256(), wal.key(), Instant.parse(h.createdAt())));
                files++;
            }
        }
        LOG.info("Catalog rebuilt from {}: {} clusters, {} WAL files, {} objects skipped", store.describe(), clusters, files, skipped);
        return new Summary(clusters, files, skipped);
    }
}

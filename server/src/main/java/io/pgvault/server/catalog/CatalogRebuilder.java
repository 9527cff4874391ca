package io.pgvault.server.catalog;

import io.pgvault.core.archive.WalSegmentIndex;
import io.pgvault.core.archive.WalSegmentIndexer;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.util.ParallelChecks;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Refills the catalog from the repository alone: cluster descriptors, then one header
 * read per WAL object. The repository is the truth, so the result equals what the
 * catalog held before, except rows for objects that are gone (and passwords, which the
 * repository never holds).
 */
@Singleton
public class CatalogRebuilder {

    private static final Logger LOG = LoggerFactory.getLogger(CatalogRebuilder.class);
    /** How many index formats are checked at once (a GET each). */
    private static final int INDEX_CHECKERS = 8;

    /** What a rebuild found. */
    @io.micronaut.serde.annotation.Serdeable
    public record Summary(int clusters, int walFiles, int backups, int skipped, int walIndexesWritten) {
    }

    private final Catalog catalog;
    private final ObjectStore store;

    public CatalogRebuilder(Catalog catalog, ObjectStore store) {
        this.catalog = catalog;
        this.store = store;
    }

    /**
     * Reads every descriptor and WAL header first, then replaces the catalog in one
     * transaction. The repository never holds a password, so a cluster the catalog knows
     * keeps its catalog connection string (with its password) as long as the repository's
     * says the same otherwise; without it, the password must come from the password file.
     */
    public synchronized Summary rebuild() throws IOException {
        RepositoryFormat.require(store);
        Map<String, String> known = new HashMap<>();
        catalog.listClusters().forEach(row -> known.put(row.name(), row.conninfo()));
        List<Catalog.RebuiltCluster> clusters = new ArrayList<>();
        int files = 0;
        int skipped = 0;
        int backupCount = 0;
        int indexed = 0;
        Map<String, List<WalRow>> walByCluster = new HashMap<>();
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
            List<WalRow> wal = new ArrayList<>();
            for (ObjectStat object : store.list(RepositoryLayout.walPrefix(c.name()))) {
                if (RepositoryLayout.isStreamingPartial(object.key())) {
                    continue; // a streamed head, replaced as streaming goes on: not an archived file
                }
                Optional<WalRow> row = walRow(object);
                if (row.isEmpty()) {
                    skipped++;
                    continue;
                }
                wal.add(row.get());
            }
            files += wal.size();
            walByCluster.put(c.name(), wal);
            List<BackupRow> backups = storedBackups(c.name());
            backupCount += backups.size();
            clusters.add(new Catalog.RebuiltCluster(c.name(), conninfo(c, known.get(c.name())), c.systemIdentifier(), c.walSegmentSize(),
                    c.pgMajor(), Instant.parse(c.createdAt()), c.backupSchedule(), c.retainFull(), c.retainDays(), c.streams(), c.slot(), wal,
                    backups, c.incrementalSchedule()));
        }
        catalog.replaceAll(clusters);
        // After the catalog is whole again: indexing an archive from before indexes reads every segment once.
        for (Map.Entry<String, List<WalRow>> e : walByCluster.entrySet()) {
            indexed += writeMissingIndexes(e.getKey(), e.getValue());
        }
        LOG.info("Catalog rebuilt from {}: {} clusters, {} WAL files, {} backups, {} objects skipped, {} WAL indexes written",
                store.describe(), clusters.size(), files, backupCount, skipped, indexed);
        return new Summary(clusters.size(), files, backupCount, skipped, indexed);
    }

    /**
     * Indexes the segments that have none (archived by a pgvault without indexes, or whose
     * index failed to store) or an outdated one (an older format, which may leave out prepared
     * transactions, or an unreadable one), reading each once. An outdated index is deleted
     * first: one whose segment cannot be indexed now is not checked again by the next rebuild.
     * A segment that cannot be read is left without one and logged: recovery planning reads such
     * a segment itself.
     */
    private int writeMissingIndexes(String cluster, List<WalRow> wal) throws IOException {
        Set<WalFileName> indexed = new HashSet<>();
        for (ObjectStat object : store.list(RepositoryLayout.walIndexPrefix(cluster))) {
            RepositoryLayout.indexedSegment(object.key()).ifPresent(indexed::add);
        }
        Set<WalFileName> current = currentIndexes(cluster, indexed);
        int written = 0;
        for (WalRow row : wal) {
            WalFileName name = WalFileName.parse(row.name());
            if (name.kind() != WalFileName.Kind.SEGMENT || current.contains(name)) {
                continue;
            }
            try {
                if (indexed.contains(name)) {
                    // Outdated: never read again, whether or not the segment can be indexed now.
                    store.delete(List.of(RepositoryLayout.walIndexKey(cluster, name)));
                }
                InputStream stored = store.get(row.objectKey()).orElseThrow(() -> new CorruptObjectException(row.objectKey() + " is gone"));
                WalSegmentIndexer indexer = new WalSegmentIndexer();
                WalSegmentSize size;
                try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(row.objectKey(), stored);
                     InputStream content = indexer.observing(opened.content())) {
                    size = new WalSegmentSize(opened.header().segmentSize());
                    content.transferTo(OutputStream.nullOutputStream());
                }
                Optional<WalSegmentIndex> index = indexer.index(name, size);
                if (index.isPresent()) {
                    index.get().write(store, cluster);
                    written++;
                }
            } catch (CorruptObjectException | RuntimeException e) {
                LOG.warn("WAL segment {} of {} was not indexed: {}", name, cluster, e.getMessage());
            } catch (IOException e) {
                // The repository failed: the rest waits for the next rebuild; planning reads unindexed segments meanwhile.
                LOG.warn("Indexing the WAL of {} stopped after {} indexes: {}", cluster, written, e.getMessage());
                return written;
            }
        }
        return written;
    }

    /**
     * Those of {@code indexed} whose index is of the current format (or newer): one small read
     * each, several at a time, since a repository may hold a hundred thousand on S3.
     */
    private Set<WalFileName> currentIndexes(String cluster, Set<WalFileName> indexed) throws IOException {
        Set<WalFileName> current = ConcurrentHashMap.newKeySet();
        List<Callable<Void>> checks = new ArrayList<>();
        for (WalFileName name : indexed) {
            checks.add(() -> {
                if (!WalSegmentIndex.outdated(store, cluster, name)) {
                    current.add(name);
                }
                return null;
            });
        }
        List<String> failed = ParallelChecks.run(INDEX_CHECKERS, "pgvault-index-check", checks);
        if (!failed.isEmpty()) {
            // The repository failed, not an index (an unreadable one is outdated): the rebuild stops here.
            throw new IOException("checking the WAL indexes of " + cluster + " failed: " + failed.get(0));
        }
        return current;
    }

    /** The backups whose manifest the repository holds (pieces without one are an interrupted backup, not a backup). */
    private List<BackupRow> storedBackups(String cluster) throws IOException {
        List<BackupRow> rows = new ArrayList<>();
        for (String id : BackupManifest.idsInRepository(store, cluster)) {
            try {
                BackupManifest.read(store, cluster, id).map(BackupRow::stored).ifPresent(rows::add);
            } catch (CorruptObjectException e) {
                LOG.warn("Backup {} of {} left out of the catalog: {}", id, cluster, e.getMessage());
            }
        }
        return rows;
    }

    /** The catalog's connection string when it is the repository's plus a password, else the repository's. */
    private static String conninfo(ClusterDescriptor descriptor, String known) {
        if (known != null && Objects.equals(ClusterDescriptor.withoutPassword(known), descriptor.conninfo())) {
            return known;
        }
        if (known != null && !known.equals(descriptor.conninfo())) {
            LOG.warn("Cluster {}: the catalog's connection string differs from the repository's; using the repository's ({}), "
                    + "whose password, if one is needed, must come from the password file (.pgpass)", descriptor.name(), descriptor.conninfo());
        }
        return descriptor.conninfo();
    }

    private Optional<WalRow> walRow(ObjectStat object) throws IOException {
        String fileName = object.key().substring(object.key().lastIndexOf('/') + 1);
        Optional<WalFileName> name = WalFileName.tryParse(fileName);
        if (name.isEmpty()) {
            LOG.warn("Skipping {}: not a WAL file name", object.key());
            return Optional.empty();
        }
        ObjectHeader h = ObjectEnvelope.readHeader(store, object.key()).orElseThrow();
        Long segment = null;
        Long start = null;
        if (name.get().hasSegment() && h.segmentSize() > 0) {
            WalSegmentSize size = new WalSegmentSize(h.segmentSize());
            segment = name.get().segmentNumber(size);
            start = name.get().startLsn(size).value();
        }
        return Optional.of(new WalRow(fileName, name.get().kind().name(), name.get().timeline().value(), segment, start,
                h.rawSize(), object.size(), h.codec(), h.sha256(), object.key(), Instant.parse(h.createdAt())));
    }
}

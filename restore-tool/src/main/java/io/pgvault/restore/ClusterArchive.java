package io.pgvault.restore;

import io.pgvault.core.archive.WalSegmentIndex;
import io.pgvault.core.archive.WalSource;
import io.pgvault.core.backup.BackupChain;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.repo.StreamedHeads;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalRecordScanner;
import io.pgvault.core.wal.WalSegmentSize;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the repository holds for one cluster, read from the repository alone (no server,
 * no catalog): its backups (those with a manifest, i.e. finished), the WAL segments and
 * the timeline histories. One listing of the cluster's WAL, then one read per backup
 * manifest and history file (a backup whose manifest is damaged is left out and reported,
 * not fatal to the others), and one listing of the segments' indexes, read when a plan
 * needs them. A segment the server was streaming and had not finished
 * counts as present: its streamed head, padded with zeros, is what wal-fetch serves.
 */
public final class ClusterArchive {

    /** Index reads in flight at once: small objects, where a bucket's latency, not its bandwidth, sets the pace. */
    private static final int INDEX_READERS = 8;

    private final ObjectStore store;
    private final String cluster;
    private final ClusterDescriptor descriptor;
    private final List<BackupManifest> backups;
    private final NavigableSet<WalFileName> segments;
    private final Set<WalFileName> streamedHeads;
    private final Map<TimelineId, TimelineHistory> histories;
    private final List<UnreadableBackup> unreadable;
    private final Set<WalFileName> indexed;
    private final Map<WalFileName, String> unreadableIndexes = new ConcurrentHashMap<>();
    private final Set<WalFileName> outdatedIndexes = ConcurrentHashMap.newKeySet();

    /** A backup whose manifest is damaged or refused: left out of every plan, and reported. */
    public record UnreadableBackup(String backupId, String reason) {
    }

    private ClusterArchive(ObjectStore store, String cluster, ClusterDescriptor descriptor, List<BackupManifest> backups,
                           NavigableSet<WalFileName> segments, Set<WalFileName> streamedHeads, Map<TimelineId, TimelineHistory> histories,
                           List<UnreadableBackup> unreadable, Set<WalFileName> indexed) {
        this.store = store;
        this.cluster = cluster;
        this.descriptor = descriptor;
        this.backups = backups;
        this.segments = segments;
        this.streamedHeads = streamedHeads;
        this.histories = histories;
        this.unreadable = unreadable;
        this.indexed = indexed;
    }

    /**
     * @throws RecoveryRefusedException for an empty repository or an unknown cluster (naming the ones there)
     * @throws io.pgvault.core.repo.UnsupportedFormatException when a newer pgvault wrote the repository
     */
    public static ClusterArchive load(ObjectStore store, String cluster) throws IOException {
        RepositoryLayout.checkCluster(cluster);
        if (RepositoryFormat.check(store).isEmpty()) {
            throw new NotInRepositoryException("no pgvault repository at " + store.describe() + ": " + RepositoryFormat.KEY
                    + " is missing (wrong URL or prefix, or nothing was ever archived there)");
        }
        Optional<ClusterDescriptor> descriptor = ClusterDescriptor.read(store, cluster);
        if (descriptor.isEmpty()) {
            List<String> known = knownClusters(store);
            throw new NotInRepositoryException("the repository at " + store.describe() + " has no cluster '" + cluster + "'; clusters there: "
                    + (known.isEmpty() ? "none" : String.join(", ", known)));
        }
        NavigableSet<WalFileName> segments = new TreeSet<>();
        Map<TimelineId, TimelineHistory> histories = new TreeMap<>(Comparator.comparingLong(TimelineId::value));
        Set<WalFileName> streamedHeads = new HashSet<>();
        for (ObjectStat o : store.list(RepositoryLayout.walPrefix(cluster))) {
            if (RepositoryLayout.isStreamingPartial(o.key())) {
                // The streamed head of an unfinished segment: recovery reads it padded, as wal-fetch serves it.
                StreamedHeads.segmentOf(o.key()).ifPresent(streamedHeads::add);
                continue;
            }
            Optional<WalFileName> name = WalFileName.tryParse(o.key().substring(o.key().lastIndexOf('/') + 1));
            if (name.isEmpty()) {
                continue;
            }
            if (name.get().kind() == WalFileName.Kind.SEGMENT) {
                segments.add(name.get());
            } else if (name.get().isHistory()) {
                histories.put(name.get().timeline(), TimelineHistory.parse(name.get().timeline(), readAll(store, o.key())));
            }
        }
        TreeSet<String> ids = new TreeSet<>();
        String prefix = RepositoryLayout.backupsPrefix(cluster);
        for (ObjectStat o : store.list(prefix)) {
            if (o.key().endsWith("/manifest.json")) {
                ids.add(o.key().substring(prefix.length()).split("/")[0]);
            }
        }
        List<BackupManifest> backups = new ArrayList<>();
        List<UnreadableBackup> unreadable = new ArrayList<>();
        for (String id : ids) {
            try {
                BackupManifest.read(store, cluster, id).ifPresent(backups::add);
            } catch (CorruptObjectException e) {
                // One damaged or crafted manifest must not make every other backup unusable. An unreachable
                // store is not this: its IOException still ends the load, as "absent" would mislead.
                unreadable.add(new UnreadableBackup(id, e.getMessage()));
            }
        }
        backups = withWholeChains(backups, unreadable);
        backups.sort(Comparator.comparing((BackupManifest b) -> java.time.Instant.parse(b.finishedAt())).thenComparing(BackupManifest::backupId));
        streamedHeads.removeAll(segments);
        Set<WalFileName> indexed = new HashSet<>();
        for (ObjectStat o : store.list(RepositoryLayout.walIndexPrefix(cluster))) {
            RepositoryLayout.indexedSegment(o.key()).filter(segments::contains).ifPresent(indexed::add);
        }
        segments.addAll(streamedHeads);
        return new ClusterArchive(store, cluster, descriptor.get(), List.copyOf(backups), segments, Set.copyOf(streamedHeads), histories,
                List.copyOf(unreadable), Set.copyOf(indexed));
    }

    /**
     * The backups that can be restored with their whole chain: an incremental backup whose
     * parent (or an older link) is missing, unreadable or not the one it names is left out,
     * with the reason, like a backup whose own manifest is refused.
     */
    private static List<BackupManifest> withWholeChains(List<BackupManifest> backups, List<UnreadableBackup> unreadable) throws IOException {
        Map<String, BackupManifest> byId = new HashMap<>();
        backups.forEach(b -> byId.put(b.backupId(), b));
        List<BackupManifest> usable = new ArrayList<>();
        for (BackupManifest b : backups) {
            try {
                BackupChain.of(b, id -> Optional.ofNullable(byId.get(id)));
                usable.add(b);
            } catch (CorruptObjectException e) {
                unreadable.add(new UnreadableBackup(b.backupId(), e.getMessage()));
            }
        }
        return usable;
    }

    /** The backup and the backups it builds on, newest first, down to its full backup (just itself for a full backup). */
    public List<BackupManifest> chainOf(BackupManifest backup) throws IOException {
        return BackupChain.of(backup, id -> backups.stream().filter(b -> b.backupId().equals(id)).findFirst());
    }

    private static List<String> knownClusters(ObjectStore store) throws IOException {
        TreeSet<String> names = new TreeSet<>();
        for (ObjectStat o : store.list("clusters/")) {
            if (o.key().endsWith("/cluster.json")) {
                names.add(o.key().split("/")[1]);
            }
        }
        return List.copyOf(names);
    }

    private static byte[] readAll(ObjectStore store, String key) throws IOException {
        InputStream stored = store.get(key).orElseThrow(() -> new CorruptObjectException(key + " was listed but is gone"));
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, stored); InputStream content = opened.content()) {
            return content.readAllBytes();
        }
    }

    /** Backups left out because their manifest could not be read or was refused. */
    public List<UnreadableBackup> unreadableBackups() {
        return unreadable;
    }

    public ObjectStore store() {
        return store;
    }

    public String cluster() {
        return cluster;
    }

    public ClusterDescriptor descriptor() {
        return descriptor;
    }

    /** Finished backups, oldest first. */
    public List<BackupManifest> backups() {
        return backups;
    }

    public WalSegmentSize segmentSize() {
        if (descriptor.walSegmentSize() != null) {
            return new WalSegmentSize(descriptor.walSegmentSize());
        }
        return backups.isEmpty() ? WalSegmentSize.DEFAULT : new WalSegmentSize(backups.get(0).walSegmentSize());
    }

    public boolean hasSegment(WalFileName name) {
        return segments.contains(name);
    }

    /** Archived segments and streamed heads. */
    public NavigableSet<WalFileName> segments() {
        return segments;
    }

    /** Segments present only as the streamed head of an unfinished segment. */
    public Set<WalFileName> streamedHeads() {
        return streamedHeads;
    }

    /** The history of {@code tli}: from its file, or the implicit one of timeline 1. */
    public Optional<TimelineHistory> history(TimelineId tli) {
        if (tli.equals(TimelineId.FIRST)) {
            return Optional.of(histories.getOrDefault(tli, TimelineHistory.first()));
        }
        return Optional.ofNullable(histories.get(tli));
    }

    /** The timeline PostgreSQL's {@code recovery_target_timeline = 'latest'} ends on: the newest with a history file. */
    public TimelineId latestTimeline() {
        TimelineId latest = TimelineId.FIRST;
        for (TimelineId tli : histories.keySet()) {
            if (tli.value() > latest.value()) {
                latest = tli;
            }
        }
        for (WalFileName s : segments) {
            if (s.timeline().value() > latest.value()) {
                latest = s.timeline();
            }
        }
        return latest;
    }

    /** Every timeline the repository has WAL or a history for. */
    public List<TimelineId> timelines() {
        TreeSet<Long> ids = new TreeSet<>();
        histories.keySet().forEach(t -> ids.add(t.value()));
        segments.forEach(s -> ids.add(s.timeline().value()));
        return ids.stream().map(TimelineId::new).toList();
    }

    /** Archived segments the server indexed when they arrived. */
    public Set<WalFileName> indexedSegments() {
        return indexed;
    }

    /**
     * The indexes of those of {@code names} that have one, read in parallel (on S3 each is a
     * request). An index that cannot be read or does not fit its segment is left out, so its
     * segment is read instead, and reported by {@link #unreadableIndexes}; an unreachable store
     * still fails the call.
     */
    public Map<WalFileName, WalSegmentIndex> indexes(List<WalFileName> names) throws IOException {
        List<WalFileName> wanted = names.stream().filter(indexed::contains).toList();
        Map<WalFileName, WalSegmentIndex> result = new ConcurrentHashMap<>();
        if (wanted.isEmpty()) {
            return result;
        }
        WalSegmentSize size = segmentSize();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(INDEX_READERS, wanted.size()), r -> {
            Thread t = new Thread(r, "pgvault-index-reader");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> reads = new ArrayList<>();
            for (WalFileName name : wanted) {
                reads.add(pool.submit(() -> {
                    try {
                        WalSegmentIndex.read(store, cluster, name, size).ifPresent(i -> result.put(name, i));
                    } catch (WalSegmentIndex.OutdatedException e) {
                        outdatedIndexes.add(name);
                    } catch (CorruptObjectException e) {
                        unreadableIndexes.put(name, e.getMessage());
                    }
                    return null;
                }));
            }
            for (Future<?> f : reads) {
                f.get();
            }
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while reading WAL indexes", e);
        } finally {
            pool.shutdownNow();
        }
        return result;
    }

    /** Indexes read so far that were damaged or did not fit their segment, with the reason. */
    public Map<WalFileName, String> unreadableIndexes() {
        return Map.copyOf(unreadableIndexes);
    }

    /** Segments whose index, read so far, an older pgvault wrote ({@link WalSegmentIndex.OutdatedException}): read instead. */
    public Set<WalFileName> outdatedIndexes() {
        return Set.copyOf(outdatedIndexes);
    }

    /**
     * Feeds an archived segment, or a streamed head padded to the segment size, to
     * {@code scanner} page by page as it is read, to its end: the content is verified there,
     * and no 16 MiB array is made per segment (making and zeroing one cost a cold JVM 60 ms).
     */
    public void scanSegment(WalFileName name, WalRecordScanner scanner) throws IOException {
        scanner.startSegment(name.startLsn(segmentSize()));
        byte[] pages = new byte[32 * WalRecordScanner.BLCKSZ];
        // The archived segment, or for one listed only as a streamed head, that head padded. The WalSource is not
        // closed: closing one closes the store, which is not its to close here.
        try (InputStream in = new WalSource(store, cluster, true).open(name)
                .orElseThrow(() -> new CorruptObjectException(RepositoryLayout.walKey(cluster, name) + " was listed but is gone"))) {
            int n;
            while ((n = in.readNBytes(pages, 0, pages.length)) > 0) {
                for (int off = 0; off + WalRecordScanner.BLCKSZ <= n; off += WalRecordScanner.BLCKSZ) {
                    scanner.page(pages, off);
                }
            }
        }
    }
}

package io.pgvault.server.stream;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.event.StartupEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.pgvault.core.compress.Codec;
import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.repo.StreamedHeads;
import io.pgvault.core.spool.SpoolBudget;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.stream.ArchiveSink;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.server.catalog.Catalog;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterListener;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.lease.Lease;
import io.pgvault.server.lease.LeaseKeeper;
import io.pgvault.server.lease.LeaseListener;
import io.pgvault.server.wal.WalService;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs one {@link ClusterStream} per cluster registered with {@code --stream} whose lease
 * this server holds ({@link LeaseKeeper}): starts it when the lease is taken, stops it when the
 * lease is lost, restarts it when its connection settings change (here or on another server
 * sharing the catalog), drops its slot when streaming is turned off or the cluster removed,
 * reads slot health on a timer and publishes it as metrics. Each stream stores its heads
 * under its lease's fencing token.
 */
@Singleton
public class StreamingService implements ClusterListener, LeaseListener {

    private static final Logger LOG = LoggerFactory.getLogger(StreamingService.class);

    private final ClusterService clusters;
    private final Catalog catalog;
    private final WalService wal;
    private final ObjectStore store;
    private final Codec codec;
    private final StreamingConfig config;
    private final MeterRegistry metrics;
    private final SpoolBudget spool;
    private final String writer;
    private final LeaseKeeper leases;
    private final Map<String, ClusterStream> streams = new ConcurrentHashMap<>();
    private final Map<String, List<Meter>> meters = new ConcurrentHashMap<>();
    private final ScheduledExecutorService slotChecks = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "stream-slot-checks");
        t.setDaemon(true);
        return t;
    });

    public StreamingService(ClusterService clusters, Catalog catalog, WalService wal, ObjectStore store, Codec codec, StreamingConfig config,
                            MeterRegistry metrics, SpoolBudget spool, LeaseKeeper leases) {
        this.clusters = clusters;
        this.catalog = catalog;
        this.wal = wal;
        this.store = store;
        this.codec = codec;
        this.config = config;
        this.metrics = metrics;
        this.spool = spool;
        this.writer = wal.writerId();
        this.leases = leases;
    }

    @EventListener
    void onStartup(StartupEvent event) {
        clusters.addListener(this);
        leases.addListener(this);
        long every = config.getSlotCheckInterval().toMillis();
        slotChecks.scheduleWithFixedDelay(this::checkSlots, every, every, TimeUnit.MILLISECONDS);
    }

    @PreDestroy
    void shutdown() {
        slotChecks.shutdownNow();
        for (String name : new ArrayList<>(streams.keySet())) {
            stop(name);
        }
    }

    /**
     * How the cluster is followed: by this server, by the server holding its lease
     * ({@code elsewhere}), or {@code off} when it is not streamed.
     */
    public StreamStatus status(String cluster) {
        ClusterStream stream = streams.get(cluster);
        if (stream != null) {
            return stream.status();
        }
        Optional<ClusterRow> row = clusters.find(cluster);
        if (row.isPresent() && row.get().stream()) {
            Optional<String> holder = leases.holderOf(row.get().id()).filter(id -> !id.equals(leases.serverId()));
            if (holder.isPresent()) {
                return StreamStatus.elsewhere(cluster, row.get().slot(), holder.get());
            }
        }
        return StreamStatus.off(cluster);
    }

    @Override
    public void gained(ClusterRow cluster, Lease lease) {
        if (cluster.stream()) {
            start(cluster, lease);
        }
    }

    /**
     * Stops the stream. When the lease went because the cluster was removed (on another server,
     * perhaps), drops its slot too: the server that removed it dropped it already, but this
     * stream may have connected again meanwhile, and creates the slot when it connects.
     */
    @Override
    public void lost(String cluster, Lease lease, String why) {
        ClusterStream stream = streams.get(cluster);
        stop(cluster);
        if (stream != null && stream.cluster().slot() != null && clusters.find(cluster).filter(c -> c.id() == stream.cluster().id()).isEmpty()) {
            dropSlot(stream.cluster()).ifPresent(warning -> LOG.warn("Cluster {}: {}", cluster, warning));
        }
    }

    /**
     * The cluster's row changed in the catalog (here or on another server): follows it if its
     * streaming settings did, and drops the old slot when it is no longer used (the server that
     * took the change dropped it, but this stream may have created it again by reconnecting).
     */
    @Override
    public void changed(ClusterRow before, ClusterRow after, Lease lease) {
        ClusterStream running = streams.get(after.name());
        if (running != null && sameStreaming(running.cluster(), after)) {
            return;
        }
        stop(after.name());
        ClusterRow old = running != null ? running.cluster() : before;
        if (old.stream() && old.slot() != null && (!after.stream() || !old.slot().equals(after.slot()))) {
            dropSlot(old).ifPresent(warning -> LOG.warn("Cluster {}: {}", old.name(), warning));
        }
        if (after.stream()) {
            start(after, lease);
        }
    }

    /** A change made on this server: the old slot is dropped here; the lease holder restarts its stream ({@link #changed}). */
    @Override
    public void updated(ClusterRow before, ClusterRow after) {
        if (sameStreaming(before, after)) {
            return;
        }
        Optional<Lease> lease = leases.lease(after.name());
        if (lease.isPresent()) {
            changed(before, after, lease.get());
            return;
        }
        stop(before.name());
        if (before.stream() && before.slot() != null && (!after.stream() || !before.slot().equals(after.slot()))) {
            dropSlot(before).ifPresent(warning -> LOG.warn("Cluster {}: {}", before.name(), warning));
        }
    }

    @Override
    public List<String> removing(ClusterRow cluster) {
        stop(cluster.name());
        return cluster.slot() == null ? List.of() : dropSlot(cluster).map(List::of).orElse(List.of());
    }

    private static boolean sameStreaming(ClusterRow a, ClusterRow b) {
        return a.stream() == b.stream() && Objects.equals(a.conninfo(), b.conninfo()) && Objects.equals(a.slot(), b.slot());
    }

    /**
     * Whether the stream started with {@code started} should go on: this server still holds the
     * lease it was started under, and the catalog still streams the cluster the same way. A
     * catalog that does not answer does not end it: the lease, checked first, runs out then.
     */
    private boolean wanted(ClusterRow started, Lease lease) {
        if (leases.lease(started.name()).filter(lease::equals).isEmpty()) {
            return false;
        }
        try {
            return clusters.find(started.name()).filter(now -> now.id() == started.id() && sameStreaming(now, started)).isPresent();
        } catch (RuntimeException e) {
            LOG.warn("Streaming {}: the catalog does not answer ({}); going on while the lease lasts", started.name(), e.getMessage());
            return true;
        }
    }

    private synchronized void start(ClusterRow cluster, Lease lease) {
        if (streams.containsKey(cluster.name())) {
            return;
        }
        String name = cluster.name();
        ArchiveSink sink = new ArchiveSink(store, (file, content) -> wal.push(name, file.toString(), new ByteArrayInputStream(content), content.length),
                codec, name, spool, writer, lease.token());
        ClusterStream stream = new ClusterStream(cluster, sink, config, () -> repositoryEnd(name), () -> clusters.require(name),
                () -> wanted(cluster, lease), leases.serverId());
        streams.put(name, stream);
        registerMeters(stream);
        stream.start();
    }

    private synchronized void stop(String cluster) {
        ClusterStream stream = streams.remove(cluster);
        if (stream == null) {
            return;
        }
        try {
            stream.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Optional.ofNullable(meters.remove(cluster)).ifPresent(list -> list.forEach(metrics::remove));
    }

    /**
     * Drops the cluster's slot so it stops keeping WAL for pgvault; a warning with what to do by
     * hand when that fails. The slot may still be in use by the receiver of another server (the
     * lease holder, which stops at its next look at the catalog): that walsender is ended first.
     */
    private static Optional<String> dropSlot(ClusterRow cluster) {
        Conninfo conninfo = Conninfo.parse(cluster.conninfo());
        try (ReplicationConnection rc = ReplicationConnection.open(conninfo, "pgvault")) {
            boolean dropped;
            try {
                dropped = rc.dropSlot(cluster.slot());
            } catch (io.pgvault.core.pgproto.PgServerException inUse) {
                if (!"55006".equals(inUse.sqlState()) || !SlotInspector.endOtherReceiver(conninfo, cluster.slot())) {
                    throw inUse;
                }
                Thread.sleep(200); // the ended walsender releases the slot as it exits
                dropped = rc.dropSlot(cluster.slot());
            }
            if (dropped) {
                LOG.info("Dropped replication slot {} of {}", cluster.slot(), cluster.name());
            }
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of("interrupted while dropping replication slot " + cluster.slot() + ": drop it on the cluster with SELECT "
                    + "pg_drop_replication_slot('" + cluster.slot() + "')");
        } catch (IOException | RuntimeException e) {
            return Optional.of("could not drop replication slot " + cluster.slot() + " on the cluster (" + e.getMessage()
                    + "): it keeps WAL until dropped; drop it there with SELECT pg_drop_replication_slot('" + cluster.slot() + "')");
        }
    }

    /**
     * The newest of: the segment after the last complete one the catalog has (newest
     * timeline), and the segment of any streamed head in the repository (not catalogued:
     * it is replaced as streaming goes on).
     */
    private Optional<ClusterStream.RepositoryEnd> repositoryEnd(String cluster) {
        List<ClusterStream.RepositoryEnd> ends = new ArrayList<>();
        catalog.lastSegment(clusters.require(cluster).id())
                .ifPresent(last -> ends.add(new ClusterStream.RepositoryEnd(new TimelineId(last.timeline()), last.segmentNumber() + 1)));
        try {
            for (ObjectStat head : StreamedHeads.list(store, cluster)) {
                Optional<WalFileName> name = StreamedHeads.segmentOf(head.key());
                Optional<ObjectHeader> header = readableHeader(head.key());
                if (name.isPresent() && header.isPresent() && header.get().segmentSize() > 0) {
                    WalFileName segment = name.get().segmentName();
                    ends.add(new ClusterStream.RepositoryEnd(segment.timeline(), segment.segmentNumber(new WalSegmentSize(header.get().segmentSize()))));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the streamed heads of " + cluster + ": " + e.getMessage(), e);
        }
        return ends.stream().max(Comparator.naturalOrder());
    }

    /** A head's header, or empty when it cannot be read (it holds nothing to resume from; {@link StreamedHeads} passes it over too). */
    private Optional<ObjectHeader> readableHeader(String key) throws IOException {
        try {
            return ObjectEnvelope.readHeader(store, key);
        } catch (io.pgvault.core.repo.CorruptObjectException e) {
            return Optional.empty();
        }
    }

    private void checkSlots() {
        for (ClusterStream stream : streams.values()) {
            try {
                stream.checkSlot();
            } catch (RuntimeException e) {
                LOG.warn("Slot check of {} failed: {}", stream.cluster().name(), e.getMessage());
            }
        }
    }

    private void registerMeters(ClusterStream stream) {
        String name = stream.cluster().name();
        meters.put(name, List.of(
                Gauge.builder("pgvault.stream.connected", stream, s -> s.streaming() ? 1 : 0).tag("cluster", name)
                        .description("1 while the server streams WAL from the cluster").register(metrics),
                Gauge.builder("pgvault.stream.flushed.lsn", stream, s -> s.flushed().value()).tag("cluster", name)
                        .description("End of the streamed WAL stored durably in the repository").register(metrics),
                Gauge.builder("pgvault.stream.lag.bytes", stream, s -> health(s, SlotHealth::lagBytes)).tag("cluster", name)
                        .description("WAL the cluster has written that the repository does not hold yet").register(metrics),
                Gauge.builder("pgvault.stream.slot.retained.bytes", stream, s -> health(s, SlotHealth::retainedBytes)).tag("cluster", name)
                        .description("WAL the cluster keeps for pgvault's slot").register(metrics),
                Gauge.builder("pgvault.stream.slot.active", stream, s -> {
                    SlotHealth h = s.status().slotHealth();
                    return h == null ? Double.NaN : h.active() ? 1 : 0;
                }).tag("cluster", name).description("1 while the slot is in use").register(metrics),
                FunctionCounter.builder("pgvault.stream.reconnects", stream, s -> s.status().reconnects()).tag("cluster", name)
                        .description("Connections lost and retried since the stream started").register(metrics)));
    }

    private static double health(ClusterStream stream, java.util.function.Function<SlotHealth, Long> field) {
        SlotHealth h = stream.status().slotHealth();
        Long value = h == null ? null : field.apply(h);
        return value == null ? Double.NaN : value;
    }
}

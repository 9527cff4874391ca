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
import io.pgvault.core.repo.RepositoryLayout;
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
 * Runs one {@link ClusterStream} per cluster registered with {@code --stream}: starts them
 * with the server, restarts one when its connection settings change, stops it and drops
 * its slot when streaming is turned off or the cluster removed, reads slot health on a
 * timer and publishes it as metrics.
 */
@Singleton
public class StreamingService implements ClusterListener {

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
    private final Map<String, ClusterStream> streams = new ConcurrentHashMap<>();
    private final Map<String, List<Meter>> meters = new ConcurrentHashMap<>();
    private final ScheduledExecutorService slotChecks = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "stream-slot-checks");
        t.setDaemon(true);
        return t;
    });

    public StreamingService(ClusterService clusters, Catalog catalog, WalService wal, ObjectStore store, Codec codec, StreamingConfig config,
                            MeterRegistry metrics, SpoolBudget spool) {
        this.clusters = clusters;
        this.catalog = catalog;
        this.wal = wal;
        this.store = store;
        this.codec = codec;
        this.config = config;
        this.metrics = metrics;
        this.spool = spool;
        this.writer = wal.writerId();
    }

    @EventListener
    void onStartup(StartupEvent event) {
        clusters.addListener(this);
        clusters.list().stream().filter(ClusterRow::stream).forEach(this::start);
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

    /** How the cluster is followed; {@code off} when it is not streamed. */
    public StreamStatus status(String cluster) {
        ClusterStream stream = streams.get(cluster);
        return stream == null ? StreamStatus.off(cluster) : stream.status();
    }

    @Override
    public void registered(ClusterRow cluster) {
        if (cluster.stream()) {
            start(cluster);
        }
    }

    @Override
    public void updated(ClusterRow before, ClusterRow after) {
        boolean same = before.stream() == after.stream() && Objects.equals(before.conninfo(), after.conninfo())
                && Objects.equals(before.slot(), after.slot());
        if (same) {
            return;
        }
        stop(before.name());
        if (before.stream() && before.slot() != null && (!after.stream() || !before.slot().equals(after.slot()))) {
            dropSlot(before).ifPresent(warning -> LOG.warn("Cluster {}: {}", before.name(), warning));
        }
        if (after.stream()) {
            start(after);
        }
    }

    @Override
    public List<String> removing(ClusterRow cluster) {
        stop(cluster.name());
        return cluster.slot() == null ? List.of() : dropSlot(cluster).map(List::of).orElse(List.of());
    }

    private synchronized void start(ClusterRow cluster) {
        if (streams.containsKey(cluster.name())) {
            return;
        }
        String name = cluster.name();
        ArchiveSink sink = new ArchiveSink(store, (file, content) -> wal.push(name, file.toString(), new ByteArrayInputStream(content), content.length),
                codec, name, spool, writer);
        ClusterStream stream = new ClusterStream(cluster, sink, config, () -> repositoryEnd(name), () -> clusters.require(name));
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

    /** Drops the cluster's slot so it stops keeping WAL for pgvault; a warning with what to do by hand when that fails. */
    private static Optional<String> dropSlot(ClusterRow cluster) {
        try (ReplicationConnection rc = ReplicationConnection.open(Conninfo.parse(cluster.conninfo()), "pgvault")) {
            if (rc.dropSlot(cluster.slot())) {
                LOG.info("Dropped replication slot {} of {}", cluster.slot(), cluster.name());
            }
            return Optional.empty();
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
            for (ObjectStat head : store.list(RepositoryLayout.streamingPrefix(cluster))) {
                Optional<WalFileName> name = WalFileName.tryParse(head.key().substring(head.key().lastIndexOf('/') + 1));
                Optional<ObjectHeader> header = ObjectEnvelope.readHeader(store, head.key());
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

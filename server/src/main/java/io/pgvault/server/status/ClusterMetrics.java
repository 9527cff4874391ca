package io.pgvault.server.status;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.event.StartupEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.pgvault.server.backup.BackupDue;
import io.pgvault.server.backup.BackupService;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterListener;
import io.pgvault.server.cluster.ClusterService;
import jakarta.inject.Singleton;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * Per-cluster gauges a DBA pages on (see docs/monitoring.md), read from the cluster's
 * status snapshot. Times are Unix seconds and 0 means "never", so an alert can tell a
 * cluster that never archived from one that stopped. The backup failure counter starts
 * at 0 for every cluster: a counter that appears at 1 is invisible to {@code increase()}.
 */
@Singleton
public class ClusterMetrics implements ClusterListener {

    private final ClusterService clusters;
    private final StatusService status;
    private final MeterRegistry registry;
    private final Clock clock;
    private final Map<String, List<Meter>> meters = new ConcurrentHashMap<>();

    public ClusterMetrics(ClusterService clusters, StatusService status, MeterRegistry registry, Clock clock) {
        this.clusters = clusters;
        this.status = status;
        this.registry = registry;
        this.clock = clock;
    }

    @EventListener
    void onStartup(StartupEvent event) {
        clusters.list().forEach(this::registered);
        clusters.addListener(this);
    }

    @Override
    public void registered(ClusterRow cluster) {
        String name = cluster.name();
        List<Meter> list = new ArrayList<>();
        list.add(gauge("pgvault.wal.last.archived.timestamp.seconds", name, "When the newest WAL file was stored (0: never)",
                s -> seconds(s.archiving().lastArchivedAt())));
        list.add(gauge("pgvault.backup.last.success.timestamp.seconds", name, "When the newest stored backup finished (0: never)",
                s -> s.backups().lastSuccess() == null ? 0 : seconds(s.backups().lastSuccess().finishedAt())));
        list.add(gauge("pgvault.backup.duration.seconds", name, "How long the newest stored backup took",
                s -> s.backups().lastSuccess() == null ? 0 : s.backups().lastSuccess().durationSeconds()));
        list.add(gauge("pgvault.backup.size.bytes", name, "Size of the newest stored backup: raw (the data directory) or stored",
                s -> s.backups().lastSuccess() == null ? 0 : s.backups().lastSuccess().rawBytes(), "kind", "raw"));
        list.add(gauge("pgvault.backup.size.bytes", name, "Size of the newest stored backup: raw (the data directory) or stored",
                s -> s.backups().lastSuccess() == null ? 0 : s.backups().lastSuccess().storedBytes(), "kind", "stored"));
        list.add(gauge("pgvault.backup.schedule.interval.seconds", name, "Time between two runs of the backup schedule (0: unscheduled)",
                s -> s.backups().schedule() == null ? 0 : BackupDue.interval(s.backups().schedule(), clock.instant()).toSeconds()));
        list.add(gauge("pgvault.backup.next.due.timestamp.seconds", name,
                "When the schedule wants the next backup: its first run after the last successful one (0: unscheduled)",
                s -> seconds(s.backups().nextDueAt())));
        list.add(gauge("pgvault.backup.running", name, "1 while a backup of the cluster runs", s -> s.backups().running() == null ? 0 : 1));
        list.add(gauge("pgvault.recovery.window.start.timestamp.seconds", name,
                "The earliest time a recovery can reach: when the oldest complete backup finished (0: none)", s -> seconds(s.window().start())));
        list.add(gauge("pgvault.recovery.window.end.timestamp.seconds", name, "The newest WAL stored (0: none)", s -> seconds(s.window().end())));
        list.add(gauge("pgvault.recovery.window.gaps", name, "Missing stretches of WAL after the oldest complete backup",
                s -> s.window().gaps()));
        list.add(gauge("pgvault.repository.bytes", name, "Bytes the cluster's WAL or backups take in the repository",
                s -> s.storage().walStoredBytes(), "kind", "wal"));
        list.add(gauge("pgvault.repository.bytes", name, "Bytes the cluster's WAL or backups take in the repository",
                s -> s.storage().backupStoredBytes(), "kind", "backup"));
        list.add(gauge("pgvault.stream.rpo.seconds", name, "Streamed clusters: time since the repository last held all WAL the cluster wrote",
                s -> s.streaming() == null || s.streaming().rpoSeconds() == null ? Double.NaN : s.streaming().rpoSeconds()));
        list.add(Counter.builder(BackupService.FAILURES).tag("cluster", name).description("Backups that failed").register(registry));
        List<Meter> previous = meters.put(name, list);
        if (previous != null) {
            previous.stream().filter(m -> !list.contains(m)).forEach(registry::remove);
        }
    }

    @Override
    public List<String> removing(ClusterRow cluster) {
        List<Meter> list = meters.remove(cluster.name());
        if (list != null) {
            list.forEach(registry::remove);
        }
        return List.of();
    }

    private Gauge gauge(String metric, String cluster, String description, ToDoubleFunction<ClusterStatus> value, String... tags) {
        return Gauge.builder(metric, status, s -> s.snapshot(cluster).map(value::applyAsDouble).orElse(Double.NaN))
                .tag("cluster", cluster).tags(tags).description(description).strongReference(true).register(registry);
    }

    private static double seconds(Instant at) {
        return at == null ? 0 : at.toEpochMilli() / 1000.0;
    }
}

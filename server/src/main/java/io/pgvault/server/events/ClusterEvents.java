package io.pgvault.server.events;

import io.micronaut.context.event.StartupEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterListener;
import io.pgvault.server.cluster.ClusterService;
import jakarta.inject.Singleton;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The recent events of each cluster since the server started, newest first, and when a
 * push was last accepted: enough to say whether archiving is failing now or failed once.
 * Kept in memory on purpose: the log has the full story, and a refusal storm must not
 * become catalog writes.
 */
@Singleton
public class ClusterEvents implements ClusterListener {

    static final int KEPT = 50;

    private final Map<String, Deque<ClusterEvent>> events = new ConcurrentHashMap<>();
    private final Map<String, Instant> lastAccepted = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> versions = new ConcurrentHashMap<>();
    private final ClusterService clusters;

    public ClusterEvents(ClusterService clusters) {
        this.clusters = clusters;
    }

    @EventListener
    void onStartup(StartupEvent event) {
        clusters.addListener(this);
    }

    public void record(String cluster, ClusterEvent event) {
        changed(cluster);
        Deque<ClusterEvent> deque = events.computeIfAbsent(cluster, c -> new ArrayDeque<>());
        synchronized (deque) {
            deque.addFirst(event);
            while (deque.size() > KEPT) {
                deque.removeLast();
            }
        }
    }

    /** A push was stored or found stored already. */
    public void accepted(String cluster, Instant at) {
        changed(cluster);
        lastAccepted.merge(cluster, at, (a, b) -> a.isAfter(b) ? a : b);
    }

    /** Something about the cluster changed (a push, a refusal, a backup started or ended): what was judged of it is stale. */
    public void changed(String cluster) {
        versions.computeIfAbsent(cluster, c -> new AtomicLong()).incrementAndGet();
    }

    /** Grows with every change to the cluster: a status judged at one version is current while it stays the same. */
    public long version(String cluster) {
        AtomicLong v = versions.get(cluster);
        return v == null ? 0 : v.get();
    }

    public Optional<Instant> lastAccepted(String cluster) {
        return Optional.ofNullable(lastAccepted.get(cluster));
    }

    public List<ClusterEvent> recent(String cluster) {
        Deque<ClusterEvent> deque = events.get(cluster);
        if (deque == null) {
            return List.of();
        }
        synchronized (deque) {
            return List.copyOf(deque);
        }
    }

    /** The newest refused or failed push. */
    public Optional<ClusterEvent> lastRefusal(String cluster) {
        return recent(cluster).stream().filter(ClusterEvent::isPush).findFirst();
    }

    @Override
    public List<String> removing(ClusterRow cluster) {
        // A cluster registered again under the name must not inherit these refusals.
        events.remove(cluster.name());
        lastAccepted.remove(cluster.name());
        changed(cluster.name());
        return List.of();
    }
}

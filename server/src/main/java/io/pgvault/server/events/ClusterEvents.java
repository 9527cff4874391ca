package io.pgvault.server.events;

import jakarta.inject.Singleton;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The recent events of each cluster since the server started, newest first, and when a
 * push was last accepted: enough to say whether archiving is failing now or failed once.
 * Kept in memory on purpose: the log has the full story, and a refusal storm must not
 * become catalog writes.
 */
@Singleton
public class ClusterEvents {

    static final int KEPT = 50;

    private final Map<String, Deque<ClusterEvent>> events = new ConcurrentHashMap<>();
    private final Map<String, Instant> lastAccepted = new ConcurrentHashMap<>();

    public void record(String cluster, ClusterEvent event) {
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
        lastAccepted.merge(cluster, at, (a, b) -> a.isAfter(b) ? a : b);
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

    public void forget(String cluster) {
        events.remove(cluster);
        lastAccepted.remove(cluster);
    }
}

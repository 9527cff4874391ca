package io.pgvault.server.lease;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.annotation.Value;
import io.micronaut.context.event.StartupEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.pgvault.server.catalog.ClusterLeases;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterListener;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.config.ServerIdentity;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Takes, keeps and gives up this server's share of the clusters' leases ({@link
 * ClusterLeases}), and tells the {@link LeaseListener}s (streaming, the backup scheduler).
 *
 * <ul>
 *   <li>Every {@code pgvault.lease.renew-interval} (a third of {@code pgvault.lease.ttl} unless
 *       set) it renews what it holds and takes expired or free leases up to its fair share:
 *       the clusters divided by the servers alive, rounded up. Holding more than that while
 *       another server is alive, it hands one lease over per round, so a server that joins
 *       gets work without a restart of the others.</li>
 *   <li>A holder acts on a lease only until 80% of the ttl after it <em>sent</em> its last
 *       successful renewal, by its own monotonic clock: by then the catalog's expiry is still
 *       ahead. A watchdog drops every lease past that point, whatever the reason (catalog
 *       unreachable, this JVM paused by a long GC or SIGSTOP). What a paused holder writes
 *       after it wakes and before its watchdog runs is kept from harm by fencing: streamed
 *       heads go under the lease's token, scheduled backups claim their slot in the catalog.</li>
 *   <li>On shutdown every lease is released at once, so another server takes over within a
 *       round instead of a ttl.</li>
 * </ul>
 */
@Singleton
public class LeaseKeeper implements ClusterListener {

    private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);

    /** One lease this server holds: the lease, the row its work was started with, and how long it may act on it. */
    private static final class Held {
        final Lease lease;
        final long acquiredNanos;
        volatile ClusterRow row;
        volatile long validUntilNanos;
        /** Set on the event thread once the listeners were told of it. */
        boolean announced;

        Held(Lease lease, ClusterRow row, long acquiredNanos, long validUntilNanos) {
            this.lease = lease;
            this.row = row;
            this.acquiredNanos = acquiredNanos;
            this.validUntilNanos = validUntilNanos;
        }
    }

    private final ClusterLeases leases;
    private final ClusterService clusters;
    private final String serverId;
    private final Duration ttl;
    private final Duration renewInterval;
    private final long validForNanos;
    private final Map<String, Held> held = new ConcurrentHashMap<>();
    private final Counter losses;
    private final java.util.concurrent.atomic.AtomicBoolean roundQueued = new java.util.concurrent.atomic.AtomicBoolean();
    private final List<LeaseListener> listeners = new CopyOnWriteArrayList<>();
    /** The leases as the last round read them, with the catalog's time then and when that was here. */
    private record Seen(Map<Long, ClusterLeases.LeaseRow> leases, long nowMs, long atNanos) {
    }

    private volatile Seen lastSeen = new Seen(Map.of(), 0, System.nanoTime());
    private volatile boolean catalogFailing;
    private final ScheduledThreadPoolExecutor ticker = new ScheduledThreadPoolExecutor(1, daemon("pgvault-lease-keeper"));
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(daemon("pgvault-lease-watchdog"));
    /** Listeners are told here, in order, so a slow one (a stream stopping) never delays a renewal. */
    private final ExecutorService events = Executors.newSingleThreadExecutor(daemon("pgvault-lease-events"));

    public LeaseKeeper(ClusterLeases leases, ClusterService clusters, ServerIdentity identity, @Value("${pgvault.lease.ttl:15s}") Duration ttl,
                       @Value("${pgvault.lease.renew-interval:}") Optional<Duration> renewInterval, MeterRegistry metrics) {
        if (ttl.compareTo(Duration.ofSeconds(2)) < 0) {
            throw new IllegalArgumentException("pgvault.lease.ttl is " + ttl + ": expected at least 2s (the default is 15s)");
        }
        this.renewInterval = renewInterval.orElse(ttl.dividedBy(3));
        if (this.renewInterval.multipliedBy(2).compareTo(ttl) > 0 || this.renewInterval.isNegative() || this.renewInterval.isZero()) {
            // Two renewals must fit in a ttl, or one slow catalog answer costs the lease.
            throw new IllegalArgumentException("pgvault.lease.renew-interval is " + this.renewInterval + ": expected more than 0 and at most half "
                    + "pgvault.lease.ttl (" + ttl + "); leave it unset for a third of the ttl");
        }
        this.leases = leases;
        this.clusters = clusters;
        this.serverId = identity.id();
        this.ttl = ttl;
        this.validForNanos = ttl.toNanos() / 10 * 8;
        ticker.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        Gauge.builder("pgvault.leases.held", held, Map::size).description("Cluster leases this server holds (it streams, schedules and "
                + "expires those clusters)").register(metrics);
        this.losses = Counter.builder("pgvault.leases.lost").description("Leases this server lost before giving them up: not renewed in "
                + "time, or taken by another server").register(metrics);
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /**
     * Adds a listener, on the event thread: it is told {@code gained} for each lease already
     * announced to the others (services register at start-up, in any order, and the first round
     * may have taken leases before), and every event after, once each.
     */
    public void addListener(LeaseListener listener) {
        tell(() -> {
            listeners.add(listener);
            for (Held h : held.values()) {
                if (h.announced) {
                    listener.gained(h.row, h.lease);
                }
            }
        });
    }

    @EventListener
    void onStartup(StartupEvent event) {
        clusters.addListener(this);
        ticker.scheduleWithFixedDelay(this::round, 0, renewInterval.toMillis(), TimeUnit.MILLISECONDS);
        long every = Math.max(50, Math.min(500, ttl.toMillis() / 20));
        watchdog.scheduleWithFixedDelay(this::expireOverdue, every, every, TimeUnit.MILLISECONDS);
    }

    @PreDestroy
    void shutdown() {
        ticker.shutdown();
        watchdog.shutdownNow();
        try {
            // A round in flight may be taking a lease: let it end, so that lease is released below too.
            ticker.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        events.shutdown();
        try {
            events.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Held h : new ArrayList<>(held.values())) {
            if (held.remove(h.lease.cluster(), h)) {
                tellLost(h.lease, "this server is stopping");
                try {
                    leases.release(h.lease.clusterId(), serverId, h.lease.token());
                } catch (RuntimeException e) {
                    LOG.warn("Could not release the lease of {} (another server takes it once it expires): {}", h.lease.cluster(), e.getMessage());
                }
            }
        }
        try {
            leases.forgetServer(serverId);
        } catch (RuntimeException e) {
            LOG.debug("Could not remove this server from the catalog's live servers: {}", e.getMessage());
        }
    }

    /** The lease this server holds on {@code cluster} and may act on now, if any. */
    public Optional<Lease> lease(String cluster) {
        Held h = held.get(cluster);
        return h != null && System.nanoTime() < h.validUntilNanos ? Optional.of(h.lease) : Optional.empty();
    }

    /**
     * Whether {@code lease} is still this server's, asked of the catalog now: for an action
     * that cannot be undone (deleting backups), right before it.
     */
    public boolean confirm(Lease lease) {
        return lease(lease.cluster()).filter(lease::equals).isPresent() && leases.holds(lease.clusterId(), serverId, lease.token());
    }

    /**
     * The server holding {@code clusterId}'s lease as of the last round: none when the lease had
     * expired then (its holder is gone and nobody took it over yet), or when that round is older
     * than the ttl (this server cannot read the catalog: it knows nothing).
     */
    public Optional<String> holderOf(long clusterId) {
        Seen seen = lastSeen;
        ClusterLeases.LeaseRow row = seen.leases().get(clusterId);
        if (row == null || row.expiresMs() <= seen.nowMs() || System.nanoTime() - seen.atNanos() > ttl.toNanos()) {
            return Optional.empty();
        }
        return Optional.of(row.serverId());
    }

    public String serverId() {
        return serverId;
    }

    /**
     * A round soon, instead of at the next interval (a cluster was registered or changed here).
     * Pokes while one is queued make no second round: registering hundreds of clusters costs a
     * few rounds, not one each.
     */
    public void poke() {
        if (!ticker.isShutdown() && roundQueued.compareAndSet(false, true)) {
            try {
                ticker.execute(() -> {
                    roundQueued.set(false);
                    round();
                });
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                roundQueued.set(false);
            }
        }
    }

    @Override
    public void registered(ClusterRow cluster) {
        poke();
    }

    @Override
    public void updated(ClusterRow before, ClusterRow after) {
        poke();
    }

    @Override
    public List<String> removing(ClusterRow cluster) {
        Held h = held.remove(cluster.name());
        if (h != null) {
            for (LeaseListener l : listeners) {
                l.lost(cluster.name(), h.lease, "the cluster is being removed");
            }
        }
        return List.of();
    }

    /** One round: renew, take, hand over. Runs on the ticker thread only. */
    void round() {
        try {
            ClusterLeases.Snapshot snapshot = leases.snapshot(serverId, ttl.toMillis());
            if (catalogFailing) {
                LOG.info("The catalog answers again: leases are renewed and taken again");
                catalogFailing = false;
            }
            lastSeen = new Seen(snapshot.leases().stream().collect(Collectors.toMap(ClusterLeases.LeaseRow::clusterId, Function.identity())),
                    snapshot.nowMs(), System.nanoTime());
            Map<Long, ClusterRow> registered = clusters.list().stream().collect(Collectors.toMap(ClusterRow::id, Function.identity()));
            renew(registered);
            int fairShare = (registered.size() + snapshot.liveServers() - 1) / snapshot.liveServers();
            take(snapshot, registered, fairShare);
            if (held.size() > fairShare && snapshot.liveServers() > 1) {
                handOver(held.size() - fairShare);
            } else if (held.size() < fairShare) {
                lookAgainAtNextExpiry(snapshot, registered);
            }
        } catch (RuntimeException e) {
            if (!catalogFailing) {
                LOG.warn("Cannot renew or take leases: {}; work on the clusters this server holds stops when their leases run out", e.getMessage());
                catalogFailing = true;
            }
        }
    }

    /**
     * Renews every lease held, in one statement for all. A lease that lapsed before this round
     * (its work may have ended already) is given up and taken anew, under a new token.
     */
    private void renew(Map<Long, ClusterRow> registered) {
        long sent = System.nanoTime();
        List<Held> toRenew = new ArrayList<>();
        for (Held h : new ArrayList<>(held.values())) {
            if (!registered.containsKey(h.lease.clusterId())) {
                lose(h, "the cluster was removed");
            } else if (sent - h.validUntilNanos > 0) {
                lose(h, "it could not be renewed in time (the catalog did not answer, or this server was paused)");
                release(h.lease);
            } else {
                toRenew.add(h);
            }
        }
        if (toRenew.isEmpty()) {
            return;
        }
        Set<Long> renewed = leases.renewAll(serverId, toRenew.stream().map(h -> h.lease.token()).toList(), ttl.toMillis());
        for (Held h : toRenew) {
            if (!renewed.contains(h.lease.token())) {
                lose(h, "it expired before it was renewed, or another server took it");
                continue;
            }
            h.validUntilNanos = sent + validForNanos;
            ClusterRow now = registered.get(h.lease.clusterId());
            if (!now.equals(h.row)) {
                ClusterRow before = h.row;
                h.row = now;
                tell(() -> listeners.forEach(l -> l.changed(before, now, h.lease)));
            }
        }
    }

    private void release(Lease lease) {
        try {
            leases.release(lease.clusterId(), serverId, lease.token());
        } catch (RuntimeException e) {
            LOG.warn("Could not release the lease of {} (another server takes it once it expires): {}", lease.cluster(), e.getMessage());
        }
    }

    private void take(ClusterLeases.Snapshot snapshot, Map<Long, ClusterRow> registered, int fairShare) {
        List<ClusterRow> candidates = registered.values().stream().sorted(Comparator.comparing(ClusterRow::name)).toList();
        for (ClusterRow row : candidates) {
            if (held.size() >= fairShare) {
                return;
            }
            if (held.containsKey(row.name())) {
                continue;
            }
            ClusterLeases.LeaseRow current = lastSeen.leases().get(row.id());
            if (current != null && !snapshot.expired(current)) {
                continue;
            }
            long sent = System.nanoTime();
            OptionalLong token;
            try {
                token = leases.acquire(row.id(), serverId, ttl.toMillis());
            } catch (RuntimeException e) {
                LOG.warn("Could not take the lease of {}: {}", row.name(), e.getMessage());
                continue;
            }
            if (token.isPresent()) {
                Lease lease = new Lease(row.id(), row.name(), token.getAsLong());
                Held h = new Held(lease, row, sent, sent + validForNanos);
                held.put(row.name(), h);
                LOG.info("Took the lease of {} (token {}{})", row.name(), lease.token(),
                        current == null ? "" : ", from " + current.serverId());
                tell(() -> {
                    if (held.get(row.name()) == h) {
                        h.announced = true;
                        for (LeaseListener l : listeners) {
                            try {
                                l.gained(row, lease);
                            } catch (RuntimeException e) {
                                LOG.warn("Starting the work on {} failed: {}", row.name(), e.getMessage());
                            }
                        }
                    }
                });
            }
        }
    }

    /**
     * When another server's lease runs out before the next round, looks again right then: a
     * dead holder's clusters move within the ttl of its last renewal, not a round later.
     */
    private void lookAgainAtNextExpiry(ClusterLeases.Snapshot snapshot, Map<Long, ClusterRow> registered) {
        snapshot.leases().stream()
                .filter(l -> registered.containsKey(l.clusterId()) && !l.serverId().equals(serverId) && !snapshot.expired(l))
                .mapToLong(l -> l.expiresMs() - snapshot.nowMs())
                .filter(untilExpiry -> untilExpiry < renewInterval.toMillis())
                .min()
                .ifPresent(untilExpiry -> {
                    if (!ticker.isShutdown()) {
                        ticker.schedule(this::round, untilExpiry + 20, TimeUnit.MILLISECONDS);
                    }
                });
    }

    /**
     * Gives the {@code count} most recently taken leases back at once, so the servers with less
     * than their share take them at their next round (a server joining a fleet gets its share in
     * a round or two, not one cluster a round).
     */
    private void handOver(int count) {
        List<Held> newest = held.values().stream().sorted(Comparator.comparingLong((Held h) -> h.acquiredNanos).reversed()).limit(count).toList();
        for (Held h : newest) {
            if (held.remove(h.lease.cluster(), h)) {
                LOG.info("Handing the lease of {} over: another server has less than its share", h.lease.cluster());
                tellLostAsync(h.lease, "handed over to another server");
                // Released once the work stopped (events run in order). Not renewed meanwhile: should the stop take
                // longer than the lease lasts, the next holder ends this stream's walsender and heads stay apart by token.
                tell(() -> release(h.lease));
            }
        }
    }

    private void expireOverdue() {
        long now = System.nanoTime();
        for (Held h : held.values()) {
            if (now - h.validUntilNanos > 0) {
                lose(h, "it could not be renewed in time (the catalog did not answer, or this server was paused)");
            }
        }
    }

    private void lose(Held h, String why) {
        if (held.remove(h.lease.cluster(), h)) {
            LOG.warn("Lost the lease of {} (token {}): {}", h.lease.cluster(), h.lease.token(), why);
            losses.increment();
            tellLostAsync(h.lease, why);
        }
    }

    private void tellLostAsync(Lease lease, String why) {
        tell(() -> tellLost(lease, why));
    }

    /** Queues a listener call; after shutdown began, {@link #shutdown} tells the listeners itself. */
    private void tell(Runnable call) {
        try {
            events.execute(call);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            LOG.debug("Lease event dropped: the server is stopping");
        }
    }

    private void tellLost(Lease lease, String why) {
        for (LeaseListener l : listeners) {
            try {
                l.lost(lease.cluster(), lease, why);
            } catch (RuntimeException e) {
                LOG.warn("Stopping the work on {} failed: {}", lease.cluster(), e.getMessage());
            }
        }
    }
}

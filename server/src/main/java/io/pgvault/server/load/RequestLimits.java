package io.pgvault.server.load;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.time.Duration;

/**
 * How many WAL pushes and WAL fetches the server runs at once, each kind fair across
 * clusters ({@link FairLimiter}). A push costs a core for compression while it runs, so
 * pushes are held to a few per core; a fetch mostly waits on the store and the network.
 * Requests beyond the limit queue for up to {@code pgvault.limits.queue-wait}: a queued
 * push costs PostgreSQL a little latency, while a refused one costs it a retry cycle
 * (the archiver sleeps up to a minute after three failures), so the wait is long.
 */
@Singleton
public class RequestLimits {

    static final int DEFAULT_FETCHES = 32;

    private final FairLimiter pushes;
    private final FairLimiter fetches;

    public RequestLimits(@Value("${pgvault.limits.concurrent-pushes:0}") int concurrentPushes,
                         @Value("${pgvault.limits.concurrent-fetches:0}") int concurrentFetches,
                         @Value("${pgvault.limits.queue-wait:60s}") Duration queueWait,
                         @Nullable MeterRegistry metrics) {
        // 0 (or less): the default, as for pushes.
        int pushLimit = concurrentPushes > 0 ? concurrentPushes : Math.max(4, 4 * Runtime.getRuntime().availableProcessors());
        this.pushes = new FairLimiter("pushes", pushLimit, queueWait);
        this.fetches = new FairLimiter("fetches", concurrentFetches > 0 ? concurrentFetches : DEFAULT_FETCHES, queueWait);
        if (metrics != null) {
            register(metrics, pushes);
            register(metrics, fetches);
        }
    }

    public FairLimiter pushes() {
        return pushes;
    }

    public FairLimiter fetches() {
        return fetches;
    }

    private static void register(MeterRegistry metrics, FairLimiter limiter) {
        Gauge.builder("pgvault.requests.running", limiter, FairLimiter::running).tag("kind", limiter.kind())
                .description("Requests of this kind being served").register(metrics);
        Gauge.builder("pgvault.requests.waiting", limiter, FairLimiter::waiting).tag("kind", limiter.kind())
                .description("Requests of this kind queued for a turn").register(metrics);
        Gauge.builder("pgvault.requests.limit", limiter, FairLimiter::permits).tag("kind", limiter.kind())
                .description("pgvault.limits.concurrent-" + limiter.kind()).register(metrics);
        FunctionCounter.builder("pgvault.requests.refused", limiter, FairLimiter::refused).tag("kind", limiter.kind())
                .description("Requests refused (503, Retry-After) after waiting pgvault.limits.queue-wait for a turn").register(metrics);
    }
}

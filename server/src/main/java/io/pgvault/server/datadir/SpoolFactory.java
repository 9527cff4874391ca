package io.pgvault.server.datadir;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import io.pgvault.core.spool.SpoolBudget;
import io.pgvault.core.util.ByteSize;
import io.pgvault.server.config.ServerConfig;
import jakarta.inject.Singleton;

import java.nio.file.Path;

/**
 * The server's one spool ({@code pgvault.data-dir/spool}) and its budget, shared by WAL
 * pushes, streamed heads and backup pieces: {@code pgvault.limits.spool-bytes} in flight at
 * most, and never closer than {@code pgvault.limits.spool-min-free} to a full file system.
 */
@Factory
public class SpoolFactory {

    static final String BYTES = "pgvault.limits.spool-bytes";
    static final String MIN_FREE = "pgvault.limits.spool-min-free";

    @Singleton
    SpoolBudget spoolBudget(ServerConfig config, @Value("${" + BYTES + ":2GB}") String bytes, @Value("${" + MIN_FREE + ":256MB}") String minFree,
                            @Nullable MeterRegistry metrics) {
        Path directory = Path.of(config.getDataDir()).toAbsolutePath().normalize().resolve("spool");
        SpoolBudget budget = new SpoolBudget(directory, ByteSize.parse(BYTES, bytes), ByteSize.parse(MIN_FREE, minFree));
        if (metrics != null) {
            Gauge.builder("pgvault.spool.reserved", budget, SpoolBudget::reservedBytes).baseUnit("bytes")
                    .description("Spool space held by uploads in flight (WAL pushes, streamed heads, backup pieces)").register(metrics);
            Gauge.builder("pgvault.spool.budget", budget, SpoolBudget::maxBytes).baseUnit("bytes")
                    .description("pgvault.limits.spool-bytes").register(metrics);
            FunctionCounter.builder("pgvault.spool.refusals", budget, SpoolBudget::refusals)
                    .description("Uploads refused (503, Retry-After) because the spool's budget or file system had no room").register(metrics);
        }
        return budget;
    }
}

package io.pgvault.server.wal;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micronaut.http.HttpStatus;
import io.pgvault.core.archive.ArchiveResult;
import io.pgvault.core.archive.ClusterIdentity;
import io.pgvault.core.archive.WalArchiver;
import io.pgvault.core.archive.WalConflictException;
import io.pgvault.core.archive.WalSource;
import io.pgvault.core.compress.Codec;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.spool.SpoolBudget;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.InvalidWalException;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.server.api.ApiErrors;
import io.pgvault.server.api.ApiException;
import io.pgvault.server.events.ClusterEvent;
import io.pgvault.server.events.ClusterEvents;
import io.pgvault.server.catalog.Catalog;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.catalog.WalRow;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.config.ServerConfig;
import io.pgvault.server.repository.RepositoryInitializer;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;

/**
 * Receives WAL for registered clusters: the HTTP front of {@link WalArchiver}, plus what
 * only the server knows: which clusters exist, their identity, the catalog and metrics.
 */
@Singleton
public class WalService {

    /** The raw content of an archived file, checked against its checksum as it is read. */
    public record Fetched(InputStream content, long rawSize) {
    }

    /** Histogram buckets: from a duplicate answered from its header to a 1 GiB segment over a slow bucket. */
    private static final Duration[] PUSH_BUCKETS = Stream.of(10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000)
            .map(Duration::ofMillis).toArray(Duration[]::new);

    private final ClusterService clusters;
    private final Catalog catalog;
    private final ObjectStore store;
    private final RepositoryInitializer repository;
    private final WalArchiver archiver;
    private final MeterRegistry metrics;
    private final ClusterEvents events;
    private final Clock clock;
    private final String writerId;
    private final ConcurrentHashMap<String, ReentrantLock> firstSegmentLocks = new ConcurrentHashMap<>();

    public WalService(ClusterService clusters, Catalog catalog, ObjectStore store, Codec codec, ServerConfig config, SpoolBudget spool,
                      RepositoryInitializer repository, Clock clock, MeterRegistry metrics, ClusterEvents events) {
        this.clusters = clusters;
        this.catalog = catalog;
        this.store = store;
        this.repository = repository;
        this.metrics = metrics;
        this.events = events;
        this.clock = clock;
        this.writerId = writerId(config);
        this.archiver = new WalArchiver(store, codec, spool, writerId, clock);
    }

    /** How this server names itself in the objects it writes. */
    public String writerId() {
        return writerId;
    }

    private static String writerId(ServerConfig config) {
        if (config.getServerId() != null && !config.getServerId().isBlank()) {
            return config.getServerId();
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "pgvault";
        }
    }

    /**
     * Archives one file; returns only once it is durable in the repository.
     *
     * @param contentLength the announced body length, or -1
     */
    public ArchiveResult push(String cluster, String file, InputStream body, long contentLength) throws IOException {
        return push(cluster, file, body, contentLength, false);
    }

    /**
     * @param contentLength the file's announced length, or -1
     * @param zstdBody      whether the body is zstd frames of the file ({@link io.pgvault.core.archive.ZstdUpload})
     */
    public ArchiveResult push(String cluster, String file, InputStream body, long contentLength, boolean zstdBody) throws IOException {
        WalFileName name = parseName(file);
        if (name.neverArchived()) {
            throw new ApiException(HttpStatus.BAD_REQUEST, name + " is never archived: PostgreSQL writes no history file for timeline 1; "
                    + "nothing was stored");
        }
        ClusterRow row = clusters.require(cluster);
        repository.ensureReady();
        Timer.Sample timer = Timer.start(metrics);
        String outcome = "failed";
        try {
            ArchiveResult result;
            if (identity(row).isKnown() || !name.hasSegment() || name.kind() == WalFileName.Kind.BACKUP) {
                // Listed already (streamed, or a retry whose answer was lost): compared, not compressed again.
                boolean listed = catalog.walArrival(row.id(), name.toString()).isPresent();
                result = archiver.archive(cluster, identity(row), name, body, contentLength, listed, zstdBody);
            } else {
                result = archiveFirstSegment(row, name, body, contentLength, zstdBody);
            }
            catalog.recordWal(row.id(), walRow(name, result));
            outcome = result.outcome().name().toLowerCase();
            events.accepted(cluster, clock.instant());
            if (result.outcome() == ArchiveResult.Outcome.STORED) {
                metrics.counter("pgvault.wal.raw.bytes", "cluster", cluster).increment(result.header().rawSize());
                metrics.counter("pgvault.wal.stored.bytes", "cluster", cluster).increment(result.storedBytes());
            }
            return result;
        } catch (InvalidWalException | WalConflictException e) {
            outcome = "rejected";
            events.record(cluster, new ClusterEvent(clock.instant(), ClusterEvent.REFUSAL, ApiErrors.statusOf(e).getCode(), name.toString(),
                    e.getMessage()));
            throw e;
        } catch (IOException | RuntimeException e) {
            int status = ApiErrors.statusOf(e).getCode();
            // A 5xx message names the bucket, paths or SQL: the log keeps it, a token scoped to this cluster sees what happened.
            String message = status < 500 ? e.getMessage() : "the server could not store it (HTTP " + status + ", "
                    + (status == 503 ? "the repository is unavailable or the server at capacity" : status == 507 ? "the repository is full"
                    : "a server error") + "); PostgreSQL retries, and the server log has the error";
            events.record(cluster, new ClusterEvent(clock.instant(), ClusterEvent.FAILURE, status, name.toString(), message));
            throw e;
        } finally {
            metrics.counter("pgvault.wal.pushes", "cluster", cluster, "outcome", outcome).increment();
            timer.stop(Timer.builder("pgvault.wal.push.duration").tag("cluster", cluster).serviceLevelObjectives(PUSH_BUCKETS)
                    .description("Time per WAL push over HTTP, the durable write included").register(metrics));
        }
    }

    /**
     * A push by reference ({@link WalArchiver#confirm}): a duplicate when the repository holds
     * the file with that SHA-256 and length, recorded as a duplicate push is; else empty.
     */
    public Optional<ArchiveResult> confirm(String cluster, String file, String sha256, long rawLength) throws IOException {
        WalFileName name = parseName(file);
        ClusterRow row = clusters.require(cluster);
        repository.ensureReady();
        Optional<ArchiveResult> result = archiver.confirm(cluster, name, sha256, rawLength);
        if (result.isPresent()) {
            catalog.recordWal(row.id(), walRow(name, result.get()));
            events.accepted(cluster, clock.instant());
            metrics.counter("pgvault.wal.pushes", "cluster", cluster, "outcome", "duplicate").increment();
        }
        return result;
    }

    /** The first segment fixes the cluster's identity; pushes racing it wait and are checked against it. */
    private ArchiveResult archiveFirstSegment(ClusterRow row, WalFileName name, InputStream body, long contentLength, boolean zstdBody)
            throws IOException {
        ReentrantLock lock = firstSegmentLocks.computeIfAbsent(row.name(), n -> new ReentrantLock());
        lock.lock();
        try {
            ClusterRow current = clusters.require(row.name());
            ClusterIdentity identity = identity(current);
            ArchiveResult result = archiver.archive(row.name(), identity, name, body, contentLength, false, zstdBody);
            if (!identity.isKnown()) {
                ObjectHeader h = result.header();
                if (catalog.fixIdentity(current.id(), h.systemIdentifier(), h.segmentSize(), h.pgMajor())) {
                    clusters.require(current.name()).descriptor().write(store);
                }
            }
            return result;
        } finally {
            lock.unlock();
        }
    }

    /**
     * An archived file, or for a segment not archived yet, the head the receiver streamed
     * of it padded with zeros (as wal-fetch serves it), so a curl restore_command reaches
     * the last streamed commit too.
     */
    public Fetched fetch(String cluster, String file) throws IOException {
        WalFileName name = parseName(file);
        clusters.require(cluster);
        // Not closed: closing a WalSource closes the store, which is the server's.
        WalSource source = new WalSource(store, cluster, true);
        WalSource.Content content = source.openSized(name).orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND,
                name + " is not in the archive of cluster '" + cluster + "'"));
        return new Fetched(content.stream(), content.length());
    }

    private static WalFileName parseName(String file) {
        return WalFileName.tryParse(file).orElseThrow(() -> new ApiException(HttpStatus.BAD_REQUEST,
                "'" + file + "' is not a WAL file name: expected a segment (24 upper-case hex digits), a .partial or .backup file, "
                        + "or a timeline history (00000002.history); archive_command must send %f as the last path element"));
    }

    static ClusterIdentity identity(ClusterRow row) {
        if (row.systemIdentifier() == null || row.walSegmentSize() == null) {
            return ClusterIdentity.UNKNOWN;
        }
        return new ClusterIdentity(OptionalLong.of(Long.parseUnsignedLong(row.systemIdentifier())),
                Optional.of(new WalSegmentSize(row.walSegmentSize())));
    }

    static WalRow walRow(WalFileName name, ArchiveResult result) {
        ObjectHeader h = result.header();
        Long segment = null;
        Long start = null;
        if (name.hasSegment() && h.segmentSize() > 0) {
            WalSegmentSize size = new WalSegmentSize(h.segmentSize());
            segment = name.segmentNumber(size);
            start = name.startLsn(size).value();
        }
        return new WalRow(name.toString(), name.kind().name(), name.timeline().value(), segment, start, h.rawSize(),
                result.storedBytes(), h.codec(), h.sha256(), result.key(), Instant.parse(h.createdAt()));
    }
}

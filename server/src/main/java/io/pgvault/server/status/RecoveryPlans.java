package io.pgvault.server.status;

import io.micronaut.context.annotation.Value;
import io.micronaut.http.HttpStatus;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.util.ByteSize;
import io.pgvault.core.util.ShellWords;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.restore.ClusterArchive;
import io.pgvault.restore.NotInRepositoryException;
import io.pgvault.restore.RecoveryPlanner;
import io.pgvault.restore.RecoveryRefusedException;
import io.pgvault.restore.RecoveryTarget;
import io.pgvault.server.api.ApiException;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.catalog.WalStatistics;
import io.pgvault.server.cluster.ClusterService;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * The dashboard's recovery planner: the plan {@code pgvault recover} would follow for a
 * target (the same {@link RecoveryPlanner}, over this server's repository), how much WAL
 * it replays, how long that should take, and the command that does it.
 */
@Singleton
public class RecoveryPlans {

    private static final Logger LOG = LoggerFactory.getLogger(RecoveryPlans.class);

    private final ClusterService clusters;
    private final WalStatistics wal;
    private final ObjectStore store;
    private final long restoreBytesPerSecond;
    private final long replayBytesPerSecond;
    private final Map<String, Semaphore> planning = new ConcurrentHashMap<>();

    public RecoveryPlans(ClusterService clusters, WalStatistics wal, ObjectStore store,
                         @Value("${pgvault.monitoring.restore-rate:150MB}") String restoreRate,
                         @Value("${pgvault.monitoring.replay-rate:100MB}") String replayRate) {
        this.clusters = clusters;
        this.wal = wal;
        this.store = store;
        this.restoreBytesPerSecond = ByteSize.parse("pgvault.monitoring.restore-rate", restoreRate);
        this.replayBytesPerSecond = ByteSize.parse("pgvault.monitoring.replay-rate", replayRate);
    }

    /** What the caller asked for: one target, and how to reach this server. */
    public record Request(RecoveryTarget target, Optional<TimelineId> timeline, String serverUrl, boolean tokenNeeded) {
    }

    public RecoveryPlanView plan(String cluster, Request request) throws IOException {
        ClusterRow row = clusters.require(cluster);
        RecoveryPlanner.Plan plan;
        Semaphore turn = planning.computeIfAbsent(cluster, c -> new Semaphore(1));
        if (!turn.tryAcquire()) {
            // Planning lists the cluster's WAL and reads its manifests: one at a time per cluster, however often a page clicks.
            throw new ApiException(HttpStatus.TOO_MANY_REQUESTS, "a recovery plan for cluster '" + cluster + "' is being made; "
                    + "ask again when it is done");
        }
        try {
            plan = new RecoveryPlanner(ClusterArchive.load(store, cluster)).plan(request.target(), request.timeline());
        } catch (NotInRepositoryException e) {
            // Its message lists the repository's other clusters and where it is: not for a token scoped to this one.
            LOG.error("Recovery plan for {}: {}", cluster, e.getMessage());
            throw new ApiException(HttpStatus.UNPROCESSABLE_ENTITY, "the repository lacks what cluster '" + cluster + "' needs to be "
                    + "recovered (its descriptor or the format object); the server log says what is missing");
        } catch (RecoveryRefusedException e) {
            throw new ApiException(HttpStatus.UNPROCESSABLE_ENTITY, e.getMessage());
        } finally {
            turn.release();
        }
        BackupManifest b = plan.backup();
        WalSegmentSize size = new WalSegmentSize(b.walSegmentSize());
        long first = Lsn.parse(b.startLsn()).segmentNumber(size);
        long last = lastSegment(row, plan, size);
        long segments = Math.max(1, last - first + 1);
        long walBytes = segments * size.bytes();
        double restore = (double) b.rawBytes() / restoreBytesPerSecond;
        double replay = (double) walBytes / replayBytesPerSecond;
        RecoveryPlanView.Estimate estimate = new RecoveryPlanView.Estimate(round(restore), round(replay), round(restore + replay),
                "restore at " + ByteSize.format(restoreBytesPerSecond) + "/s of the backup's " + ByteSize.format(b.rawBytes()) + ", replay at "
                        + ByteSize.format(replayBytesPerSecond) + "/s of WAL (pgvault.monitoring.restore-rate and replay-rate: set them to what "
                        + "your own recoveries measure; replay speed depends on the workload)");
        RecoveryTarget target = request.target();
        List<String> explain = new ArrayList<>(plan.explain());
        explain.add("WAL to replay: " + segments + " segments (" + ByteSize.format(walBytes) + ") from the backup's start"
                + (target.kind() == RecoveryTarget.Kind.LATEST ? " to the end of the archive" : " to the target"));
        return new RecoveryPlanView(new RecoveryPlanView.Target(target.kind().name().toLowerCase(), target.value()),
                new RecoveryPlanView.Backup(b.backupId(), b.finishedAt(), b.pgFinishedAt(), b.startLsn(), b.endLsn(), b.rawBytes(), b.storedBytes()),
                plan.timeline().value(), segments, walBytes, estimate, command(cluster, request), List.copyOf(explain));
    }

    /** The last segment replay reads: the one holding the target, or the archive's last for latest. */
    private long lastSegment(ClusterRow row, RecoveryPlanner.Plan plan, WalSegmentSize size) {
        Lsn end = plan.window().end();
        RecoveryTarget target = plan.target();
        Lsn stop = switch (target.kind()) {
            case LATEST -> end;
            case IMMEDIATE -> Lsn.parse(plan.backup().endLsn());
            case LSN -> target.lsn();
            case XID, NAME -> plan.stopAt().orElse(end);
            case TIME -> firstArrivedAfter(row, plan.timeline(), target.time(), size).orElse(end);
        };
        return stop.plus(-1).segmentNumber(size);
    }

    /** A time has no position of its own: the first segment stored after it holds it, or the stream's head does. */
    private Optional<Lsn> firstArrivedAfter(ClusterRow row, TimelineId timeline, Instant time, WalSegmentSize size) {
        return wal.firstSegmentArrivedAfter(row.id(), timeline.value(), time).map(segment -> Lsn.of((segment + 1) * size.bytes()));
    }

    /** The command that recovers to the same target, read-only through this server; the data directory is the DBA's to choose. */
    private static String command(String cluster, Request request) {
        List<String> words = new ArrayList<>(List.of("pgvault", "recover", "--cluster", cluster, "--server", request.serverUrl()));
        if (request.tokenNeeded()) {
            words.addAll(List.of("--token-file", "/path/to/read.token"));
        }
        RecoveryTarget t = request.target();
        switch (t.kind()) {
            case TIME -> words.addAll(List.of("--target-time", t.postgresTime()));
            case LSN -> words.addAll(List.of("--target-lsn", t.value()));
            case XID -> words.addAll(List.of("--target-xid", t.value()));
            // One word with the option: a name that starts with '-' is not read as an option.
            case NAME -> words.add("--target-name=" + t.value());
            case IMMEDIATE -> words.addAll(List.of("--target", "immediate"));
            case LATEST -> words.addAll(List.of("--target", "latest"));
        }
        if (!t.inclusive()) {
            words.add("--target-exclusive");
        }
        request.timeline().ifPresent(tli -> words.addAll(List.of("--target-timeline", Long.toString(tli.value()))));
        words.addAll(List.of("--pgdata", "/path/to/new/pgdata"));
        return ShellWords.join(words);
    }

    private static double round(double seconds) {
        return Math.round(seconds * 10) / 10.0;
    }
}

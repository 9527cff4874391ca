package io.pgvault.server.cluster;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Patch;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.security.Caller;

import java.io.IOException;
import java.util.List;

/** {@code /v1/clusters}: register, list, change and remove clusters. */
@Controller("/v1/clusters")
@ExecuteOn(TaskExecutors.BLOCKING)
public class ClusterController {

    @Serdeable
    public record NewCluster(String name, @Nullable String conninfo, @Nullable String backupSchedule, @Nullable Integer retainFull,
                             @Nullable Integer retainDays, @Nullable Boolean stream, @Nullable String slot, @Nullable String incrementalSchedule) {
    }

    /** Fields left out stay as they are; an empty schedule clears it, a retention of 0 clears it. */
    @Serdeable
    public record ClusterChange(@Nullable String conninfo, @Nullable Boolean stream, @Nullable String slot, @Nullable String backupSchedule,
                                @Nullable String incrementalSchedule, @Nullable Integer retainFull, @Nullable Integer retainDays) {
    }

    private final ClusterService clusters;

    public ClusterController(ClusterService clusters) {
        this.clusters = clusters;
    }

    @Post
    public HttpResponse<ClusterRow> add(@Body NewCluster request) throws IOException {
        return HttpResponse.created(clusters.add(new ClusterService.Registration(request.name(), request.conninfo(), request.backupSchedule(),
                request.retainFull(), request.retainDays(), Boolean.TRUE.equals(request.stream()), request.slot(), request.incrementalSchedule()))
                .redacted());
    }

    @Patch("/{name}")
    public ClusterRow update(String name, @Body ClusterChange change) throws IOException {
        return clusters.update(name, new ClusterService.Change(change.conninfo(), change.stream(), change.slot(), change.backupSchedule(),
                change.incrementalSchedule(), change.retainFull(), change.retainDays())).redacted();
    }

    /** Unregisters the cluster and drops its slot; its WAL and backups stay in the repository. */
    @Delete("/{name}")
    public ClusterService.Removal remove(String name) throws IOException {
        return clusters.remove(name);
    }

    /** The clusters the caller's token covers (all of them for an admin token or a server without tokens). */
    @Get
    public List<ClusterRow> list(HttpRequest<?> request) {
        Caller caller = Caller.of(request);
        return clusters.list().stream().filter(c -> caller.sees(c.name())).map(ClusterRow::redacted).toList();
    }

    @Get("/{name}")
    public ClusterRow show(String name) {
        return clusters.require(name).redacted();
    }
}

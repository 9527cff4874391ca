package io.pgvault.server.stream;

import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.pgvault.server.cluster.ClusterService;

/** {@code GET /v1/clusters/{name}/stream}: how the server follows the cluster, and its slot's health. */
@Controller("/v1/clusters/{name}/stream")
@ExecuteOn(TaskExecutors.BLOCKING)
public class StreamController {

    private final ClusterService clusters;
    private final StreamingService streaming;

    public StreamController(ClusterService clusters, StreamingService streaming) {
        this.clusters = clusters;
        this.streaming = streaming;
    }

    @Get
    public StreamStatus status(String name) {
        clusters.require(name);
        return streaming.status(name);
    }
}

package io.pgvault.server.check;

import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.pgvault.server.api.ApiException;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@link ClusterCheck}: {@code GET /v1/clusters/{cluster}/check} checks without touching the
 * cluster (read tokens: monitoring); {@code POST} also creates a restore point and forces a WAL
 * switch whose segment must arrive, which writes on the cluster (admin tokens). One check per
 * cluster at a time: a second one is refused with 409 rather than queued on the cluster.
 */
@Controller("/v1/clusters/{cluster}/check")
@ExecuteOn(TaskExecutors.BLOCKING)
public class CheckController {

    static final int MAX_WAL_TIMEOUT_SECONDS = 600;

    private final ClusterCheck check;
    private final Map<String, Boolean> running = new ConcurrentHashMap<>();

    public CheckController(ClusterCheck check) {
        this.check = check;
    }

    @Get
    public CheckReport look(String cluster) throws InterruptedException {
        return once(cluster, false, Duration.ZERO);
    }

    @Post
    public CheckReport prove(String cluster, @QueryValue(defaultValue = "60") int walTimeout) throws InterruptedException {
        if (walTimeout < 1 || walTimeout > MAX_WAL_TIMEOUT_SECONDS) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "walTimeout must be 1 to " + MAX_WAL_TIMEOUT_SECONDS + " seconds, not " + walTimeout);
        }
        return once(cluster, true, Duration.ofSeconds(walTimeout));
    }

    private CheckReport once(String cluster, boolean switchWal, Duration walTimeout) throws InterruptedException {
        if (running.putIfAbsent(cluster, Boolean.TRUE) != null) {
            throw new ApiException(HttpStatus.CONFLICT, "a check of cluster '" + cluster + "' is running; try again when it has answered");
        }
        try {
            return check.run(cluster, switchWal, walTimeout);
        } finally {
            running.remove(cluster);
        }
    }
}

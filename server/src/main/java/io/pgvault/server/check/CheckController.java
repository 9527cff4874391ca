package io.pgvault.server.check;

import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.pgvault.server.api.ApiException;

import java.time.Duration;

/**
 * {@code POST /v1/clusters/{cluster}/check}: {@link ClusterCheck}. A POST because it forces a
 * WAL switch on the cluster ({@code switchWal=false} leaves it out); allowed to read tokens so
 * that monitoring needs no admin token.
 */
@Controller("/v1/clusters/{cluster}/check")
@ExecuteOn(TaskExecutors.BLOCKING)
public class CheckController {

    static final int MAX_WAL_TIMEOUT_SECONDS = 600;

    private final ClusterCheck check;

    public CheckController(ClusterCheck check) {
        this.check = check;
    }

    @Post
    public CheckReport check(String cluster, @QueryValue(defaultValue = "true") boolean switchWal,
                             @QueryValue(defaultValue = "60") int walTimeout) throws InterruptedException {
        if (walTimeout < 1 || walTimeout > MAX_WAL_TIMEOUT_SECONDS) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "walTimeout must be 1 to " + MAX_WAL_TIMEOUT_SECONDS + " seconds, not " + walTimeout);
        }
        return check.run(cluster, switchWal, Duration.ofSeconds(walTimeout));
    }
}

package io.pgvault.server.backup;

import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.pgvault.server.api.ApiException;

import java.io.IOException;
import java.time.Duration;
import java.util.List;

/** {@code /v1/clusters/{cluster}/backups}: take, list and delete base backups; apply retention. */
@Controller("/v1/clusters/{cluster}")
@ExecuteOn(TaskExecutors.BLOCKING)
public class BackupController {

    private static final int MAX_WAIT_SECONDS = 300;

    private final BackupService backups;

    public BackupController(BackupService backups) {
        this.backups = backups;
    }

    /** {@code ?type=full} (the default) or {@code incremental} (PostgreSQL 17+: what changed since the newest backup). */
    @Post("/backups")
    public HttpResponse<BackupView> start(String cluster, @QueryValue(defaultValue = "full") String type) throws IOException {
        if (!type.equals("full") && !type.equals("incremental")) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "type=" + type + " is not a backup type: expected full or incremental");
        }
        return HttpResponse.accepted().body(backups.start(cluster, type.equals("incremental")));
    }

    @Get("/backups")
    public List<BackupView> list(String cluster) throws IOException {
        return backups.list(cluster);
    }

    /** {@code ?wait=SECONDS} (at most 300): while the backup runs, answer when it ends or the time is up. */
    @Get("/backups/{id}")
    public BackupView get(String cluster, String id, @QueryValue(defaultValue = "0") int wait) throws IOException {
        if (wait < 0 || wait > MAX_WAIT_SECONDS) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "wait=" + wait + " is out of range: expected 0 to " + MAX_WAIT_SECONDS + " seconds");
        }
        return backups.get(cluster, id, Duration.ofSeconds(wait));
    }

    /** {@code ?cascade=true}: also the incremental backups that build on it (otherwise they make it 409). */
    @Delete("/backups/{id}")
    public java.util.Map<String, List<String>> delete(String cluster, String id, @QueryValue(defaultValue = "false") boolean cascade)
            throws IOException {
        return java.util.Map.of("deleted", backups.delete(cluster, id, cascade));
    }

    @Post("/expire")
    public RetentionReport expire(String cluster, @QueryValue(defaultValue = "false") boolean dryRun) throws IOException {
        return backups.expire(cluster, dryRun);
    }
}

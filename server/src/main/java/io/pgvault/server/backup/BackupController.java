package io.pgvault.server.backup;

import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;

import java.io.IOException;
import java.util.List;

/** {@code /v1/clusters/{cluster}/backups}: take, list and delete base backups; apply retention. */
@Controller("/v1/clusters/{cluster}")
@ExecuteOn(TaskExecutors.BLOCKING)
public class BackupController {

    private final BackupService backups;

    public BackupController(BackupService backups) {
        this.backups = backups;
    }

    @Post("/backups")
    public HttpResponse<BackupView> start(String cluster) throws IOException {
        return HttpResponse.accepted().body(backups.start(cluster));
    }

    @Get("/backups")
    public List<BackupView> list(String cluster) throws IOException {
        return backups.list(cluster);
    }

    @Get("/backups/{id}")
    public BackupView get(String cluster, String id) throws IOException {
        return backups.get(cluster, id);
    }

    @Delete("/backups/{id}")
    public HttpResponse<String> delete(String cluster, String id) throws IOException {
        backups.delete(cluster, id);
        return HttpResponse.ok("deleted backup " + id + " of " + cluster + "\n");
    }

    @Post("/expire")
    public RetentionReport expire(String cluster, @QueryValue(defaultValue = "false") boolean dryRun) throws IOException {
        return backups.expire(cluster, dryRun);
    }
}

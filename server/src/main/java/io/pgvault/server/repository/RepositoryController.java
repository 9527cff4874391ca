package io.pgvault.server.repository;

import io.micronaut.http.HttpHeaders;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Head;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.server.api.ApiException;
import io.pgvault.server.api.DownloadBody;
import io.pgvault.server.load.FairLimiter;
import io.pgvault.server.load.RequestLimits;
import io.pgvault.server.security.ApiAccess;
import io.pgvault.server.security.Caller;
import jakarta.inject.Named;

import java.io.IOException;
import java.io.InputStream;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * Read-only access to the repository's objects, exactly as stored (envelope and all), so
 * that {@code pgvault recover --server URL} and {@code info --server URL} run the same
 * repository-only code over HTTP as over a bucket: every checksum is still checked on the
 * client. Only the format object and cluster objects are served, and to a token for some
 * clusters only theirs (see ApiAccess).
 * <pre>
 *   GET /v1/repository/objects?prefix=clusters/main/backups/   listing (key, size, lastModified)
 *   GET /v1/repository/object?key=clusters/main/cluster.json   the stored bytes
 * </pre>
 */
@Controller("/v1/repository")
@ExecuteOn(TaskExecutors.BLOCKING)
public class RepositoryController {

    private final ObjectStore store;
    private final RequestLimits limits;
    private final Executor blocking;

    /** Clients get the objects as stored: ciphertext in an encrypted repository, which they decrypt with their own key. */
    public RepositoryController(ObjectStore store, RequestLimits limits, @Named(TaskExecutors.BLOCKING) Executor blocking) {
        this.store = store instanceof KeyedRepository keyed ? keyed.stored() : store;
        this.limits = limits;
        this.blocking = blocking;
    }

    @Get(value = "/objects", produces = MediaType.APPLICATION_JSON)
    public List<Map<String, Object>> list(@QueryValue(defaultValue = "") String prefix, HttpRequest<?> request) throws IOException {
        checkServed(prefix.isEmpty() ? "clusters/" : prefix);
        Caller caller = Caller.of(request);
        return store.list(prefix).stream()
                .filter(o -> served(o.key()) && visible(o.key(), caller))
                .map(o -> Map.<String, Object>of("key", o.key(), "size", o.size(), "lastModified", o.lastModified().toString()))
                .toList();
    }

    /** The object's length and date, with no body: the GET route would open the object for a HEAD and never close it (its turn kept for good). */
    @Head("/object")
    @Produces(MediaType.APPLICATION_OCTET_STREAM)
    public HttpResponse<?> head(@QueryValue String key) throws IOException {
        checkServed(key);
        ObjectStat stat = store.stat(key).orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND, "no object " + key + " in the repository"));
        return HttpResponse.ok().contentType(MediaType.APPLICATION_OCTET_STREAM_TYPE).contentLength(stat.size())
                .header(HttpHeaders.LAST_MODIFIED, DateTimeFormatter.RFC_1123_DATE_TIME.format(stat.lastModified().atZone(ZoneOffset.UTC)));
    }

    @Get(value = "/object", produces = MediaType.APPLICATION_OCTET_STREAM, headRoute = false)
    public HttpResponse<?> get(@QueryValue String key) throws IOException {
        checkServed(key);
        // wal-fetch --server and recover --server read WAL and backup pieces here: fetches, as the WAL GETs are.
        String cluster = ApiAccess.clusterOf(key);
        FairLimiter.Permit turn = limits.fetches().acquire(cluster == null ? "" : cluster);
        try {
            Optional<ObjectStat> stat = store.stat(key);
            Optional<InputStream> in = stat.isEmpty() ? Optional.empty() : store.get(key);
            if (in.isEmpty()) {
                throw new ApiException(HttpStatus.NOT_FOUND, "no object " + key + " in the repository");
            }
            // Not a StreamedFile, whose conditional-GET shortcut answers 304 without ever closing the stream
            // (the turn and a store connection would leak).
            return HttpResponse.ok(DownloadBody.of(turn.heldBy(in.get()), blocking)).contentType(MediaType.APPLICATION_OCTET_STREAM_TYPE)
                    .header(HttpHeaders.LAST_MODIFIED, DateTimeFormatter.RFC_1123_DATE_TIME.format(stat.get().lastModified().atZone(ZoneOffset.UTC)));
        } catch (IOException | RuntimeException e) {
            turn.close();
            throw e;
        }
    }

    /** A token for some clusters lists only theirs (AccessFilter checked single-cluster prefixes and keys already). */
    private static boolean visible(String key, Caller caller) {
        String cluster = ApiAccess.clusterOf(key);
        return cluster == null || caller.sees(cluster);
    }

    private static boolean served(String key) {
        return key.startsWith("clusters/") || key.equals("pgvault-format.json");
    }

    private static void checkServed(String key) {
        if (!served(key) && !"clusters/".startsWith(key)) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "'" + key + "' is outside what the server shares: keys start with clusters/ "
                    + "or are pgvault-format.json");
        }
    }
}

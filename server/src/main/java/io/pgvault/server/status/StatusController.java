package io.pgvault.server.status;

import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpHeaders;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.restore.RecoveryTarget;
import io.pgvault.server.api.ApiException;
import io.pgvault.server.security.Caller;
import io.pgvault.server.security.TokenRegistry;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** What the dashboard reads: every cluster's status, one cluster's page, and recovery plans. */
@Controller("/v1")
@ExecuteOn(TaskExecutors.BLOCKING)
public class StatusController {

    /** {@code GET /v1/status}. */
    @Serdeable
    public record Overview(Instant generatedAt, List<ClusterStatus> clusters) {
    }

    private final StatusService status;
    private final RecoveryPlans plans;
    private final TokenRegistry tokens;
    private final Clock clock;
    private final String publicUrl;

    public StatusController(StatusService status, RecoveryPlans plans, TokenRegistry tokens, Clock clock,
                            @Value("${pgvault.monitoring.public-url:}") String publicUrl) {
        this.status = status;
        this.plans = plans;
        this.tokens = tokens;
        this.clock = clock;
        this.publicUrl = publicUrl.isBlank() ? null : publicUrl.replaceAll("/+$", "");
    }

    /** The clusters the caller's token covers. */
    @Get("/status")
    public Overview overview(HttpRequest<?> request) {
        Caller caller = Caller.of(request);
        return new Overview(clock.instant(), status.snapshots(caller::sees));
    }

    @Get("/clusters/{cluster}/status")
    public ClusterStatus cluster(String cluster) {
        return status.detail(cluster);
    }

    /** One target parameter at most; none means latest. */
    @Get("/clusters/{cluster}/plan")
    public RecoveryPlanView plan(HttpRequest<?> request, String cluster,
                                 @Nullable @QueryValue("target-time") String time, @Nullable @QueryValue("target-lsn") String lsn,
                                 @Nullable @QueryValue("target-xid") String xid, @Nullable @QueryValue("target-name") String name,
                                 @Nullable @QueryValue("target") String keyword, @Nullable @QueryValue("target-timeline") Long timeline,
                                 @QueryValue(value = "target-exclusive", defaultValue = "false") boolean exclusive) throws IOException {
        RecoveryTarget target = target(time, lsn, xid, name, keyword, !exclusive);
        Optional<TimelineId> tli = Optional.ofNullable(timeline).map(TimelineId::new);
        String server = publicUrl != null ? publicUrl : serverUrl(request);
        return plans.plan(cluster, new RecoveryPlans.Request(target, tli, server, tokens.enabled()));
    }

    private static RecoveryTarget target(String time, String lsn, String xid, String name, String keyword, boolean inclusive) {
        List<String> given = new ArrayList<>();
        for (String[] p : new String[][] {{"target-time", time}, {"target-lsn", lsn}, {"target-xid", xid}, {"target-name", name},
                {"target", keyword}}) {
            if (p[1] != null && !p[1].isBlank()) {
                given.add(p[0]);
            }
        }
        if (given.size() > 1) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "give one target, not " + String.join(" and ", given));
        }
        if (present(time)) {
            return RecoveryTarget.time(time, inclusive);
        } else if (present(lsn)) {
            return RecoveryTarget.lsn(lsn, inclusive);
        } else if (present(xid)) {
            return RecoveryTarget.xid(xid, inclusive);
        } else if (present(name)) {
            return RecoveryTarget.name(name, inclusive);
        } else if (present(keyword) && keyword.equals("immediate")) {
            return RecoveryTarget.immediate();
        } else if (present(keyword) && !keyword.equals("latest")) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "target=" + keyword + " is not a target: expected latest or immediate, "
                    + "or target-time, target-lsn, target-xid, target-name");
        }
        return RecoveryTarget.latest();
    }

    private static boolean present(String value) {
        return value != null && !value.isBlank();
    }

    /**
     * How the caller reached this server, for the command it is to run; behind a proxy that
     * ends TLS this says http, which is why {@code pgvault.monitoring.public-url} exists.
     */
    private static String serverUrl(HttpRequest<?> request) {
        String host = request.getHeaders().get(HttpHeaders.HOST);
        if (host == null || !host.matches("[A-Za-z0-9.:\\[\\]-]+")) {
            host = "HOST:PORT";
        }
        return (request.isSecure() ? "https://" : "http://") + host;
    }
}

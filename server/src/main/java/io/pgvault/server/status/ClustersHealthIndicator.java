package io.pgvault.server.status;

import io.micronaut.context.annotation.Requires;
import io.micronaut.health.HealthStatus;
import io.micronaut.http.context.ServerRequestContext;
import io.micronaut.management.endpoint.health.HealthEndpoint;
import io.micronaut.management.health.indicator.AbstractHealthIndicator;
import io.pgvault.server.catalog.ClusterRow;
import io.pgvault.server.cluster.ClusterService;
import io.pgvault.server.security.Caller;
import jakarta.inject.Singleton;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code /health} details per cluster (shown only to a caller with a token, and only the
 * clusters it covers): health, reasons and freshness. Always UP: a cluster's missing
 * backup is a reason to page a DBA, not to take this server out of a load balancer.
 */
@Singleton
@Requires(beans = HealthEndpoint.class)
public class ClustersHealthIndicator extends AbstractHealthIndicator<Map<String, Object>> {

    private final ClusterService clusters;
    private final StatusService status;

    public ClustersHealthIndicator(ClusterService clusters, StatusService status) {
        this.clusters = clusters;
        this.status = status;
    }

    @Override
    protected String getName() {
        return "clusters";
    }

    @Override
    protected Map<String, Object> getHealthInformation() {
        healthStatus = HealthStatus.UP;
        Caller caller = ServerRequestContext.currentRequest().map(Caller::of).orElse(null);
        Map<String, Object> details = new LinkedHashMap<>();
        if (caller == null) {
            return details;
        }
        List<ClusterRow> visible;
        try {
            visible = clusters.list().stream().filter(row -> caller.sees(row.name())).toList();
        } catch (RuntimeException e) {
            return details;
        }
        // Snapshots: a load balancer polling /health must not cost a round of catalog queries each time.
        for (ClusterRow row : visible) {
            ClusterStatus c;
            try {
                c = status.snapshot(row.name()).orElse(null);
            } catch (RuntimeException e) {
                // The catalog failing is the catalog component's to report; this one stays UP.
                details.put(row.name(), Map.of("error", "cannot judge the cluster now: " + e.getMessage()));
                continue;
            }
            if (c == null) {
                continue;
            }
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("health", c.health());
            one.put("reasons", c.reasons());
            one.put("lastArchivedAt", String.valueOf(c.archiving().lastArchivedAt()));
            one.put("lastBackupAt", c.backups().lastSuccess() == null ? "never" : c.backups().lastSuccess().finishedAt().toString());
            one.put("recoverableFrom", String.valueOf(c.window().start()));
            one.put("recoverableTo", String.valueOf(c.window().end()));
            details.put(c.name(), one);
        }
        return details;
    }
}

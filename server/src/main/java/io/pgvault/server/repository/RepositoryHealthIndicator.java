package io.pgvault.server.repository;

import io.micronaut.health.HealthStatus;
import io.micronaut.management.health.indicator.AbstractHealthIndicator;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.ObjectStore;
import jakarta.inject.Singleton;

import java.util.LinkedHashMap;
import java.util.Map;

/** {@code /health} reports the repository DOWN when its format object cannot be read. */
@Singleton
public class RepositoryHealthIndicator extends AbstractHealthIndicator<Map<String, Object>> {

    private final ObjectStore store;

    public RepositoryHealthIndicator(ObjectStore store) {
        this.store = store;
    }

    @Override
    protected String getName() {
        return "repository";
    }

    @Override
    protected Map<String, Object> getHealthInformation() {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("url", store.describe());
        try {
            details.put("formatVersion", RepositoryFormat.require(store).formatVersion());
            healthStatus = HealthStatus.UP;
        } catch (Exception e) {
            details.put("error", String.valueOf(e.getMessage()));
            healthStatus = HealthStatus.DOWN;
        }
        return details;
    }
}

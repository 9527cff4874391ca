package io.pgvault.server.config;

import io.micronaut.context.annotation.ConfigurationProperties;

import java.time.Duration;

/**
 * {@code pgvault.retention.*}: how the clusters' retention policies are applied.
 * {@code PGVAULT_RETENTION_GRACE} sets {@link #getGrace()}, e.g. {@code 36h}.
 */
@ConfigurationProperties("pgvault.retention")
public class RetentionConfig {

    /**
     * A backup the policy no longer keeps stays, with its WAL, this long after it was
     * superseded: a recovery started from it meanwhile must find every segment it needs.
     * Zero deletes it as soon as it is superseded.
     */
    private Duration grace = Duration.ofDays(1);

    public Duration getGrace() {
        return grace;
    }

    public void setGrace(Duration grace) {
        if (grace.isNegative()) {
            throw new IllegalArgumentException("pgvault.retention.grace is " + grace + ", a negative duration: expected zero (delete a "
                    + "superseded backup at once) or more, e.g. 36h; the default is 1d");
        }
        this.grace = grace;
    }
}

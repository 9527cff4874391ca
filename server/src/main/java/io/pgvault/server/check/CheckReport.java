package io.pgvault.server.check;

import io.micronaut.serde.annotation.Serdeable;

import java.time.Instant;
import java.util.List;

/** Every check of one cluster; {@code status} is the worst of them. */
@Serdeable
public record CheckReport(String cluster, CheckStatus status, Instant checkedAt, List<CheckResult> checks) {

    static CheckReport of(String cluster, Instant at, List<CheckResult> checks) {
        CheckStatus worst = CheckStatus.OK;
        for (CheckResult c : checks) {
            worst = worst.worse(c.status());
        }
        return new CheckReport(cluster, worst, at, List.copyOf(checks));
    }
}

package io.pgvault.server.status;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.util.List;

/**
 * What {@code pgvault recover} would do for a target, as the dashboard's planner shows it.
 *
 * @param walSegments segments from the backup's start to the one holding the target (to the archive's end for latest)
 * @param command the command to run, with a placeholder for the new data directory
 */
@Serdeable
public record RecoveryPlanView(Target target, Backup backup, long timeline, long walSegments, long walBytes, Estimate estimate,
                               String command, List<String> explain) {

    @Serdeable
    public record Target(String kind, @Nullable String value) {
    }

    @Serdeable
    public record Backup(String id, String finishedAt, @Nullable String pgFinishedAt, String startLsn, String endLsn,
                         long rawBytes, long storedBytes) {
    }

    /** @param basis where the rates come from, so nobody mistakes the estimate for a measurement of this recovery */
    @Serdeable
    public record Estimate(double restoreSeconds, double replaySeconds, double totalSeconds, String basis) {
    }
}

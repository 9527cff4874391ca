package io.pgvault.server.backup;

import io.micronaut.scheduling.cron.CronExpression;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;

/**
 * When a cron schedule wants the next backups, read in the zone the scheduler fires in,
 * and following from the last backup: a weekday schedule is not late on Sunday.
 *
 * @param next the first run due after the last backup started
 * @param afterNext the run after that: missing both is worse than missing one
 */
public record BackupDue(Instant next, Instant afterNext) {

    /** How late a scheduled backup may finish (it takes time, and the schedule's minute is when it starts). */
    public static final Duration GRACE = Duration.ofHours(1);

    public static BackupDue after(String cron, Instant lastBackupStart) {
        CronExpression expression = CronExpression.create(cron);
        ZonedDateTime next = expression.nextTimeAfter(ZonedDateTime.ofInstant(lastBackupStart, ZoneId.systemDefault()));
        return new BackupDue(next.toInstant(), expression.nextTimeAfter(next).toInstant());
    }

    /** How long the schedule leaves between two backups, from its next two runs after {@code now}. */
    public static Duration interval(String cron, Instant now) {
        BackupDue due = after(cron, now);
        return Duration.between(due.next(), due.afterNext());
    }
}

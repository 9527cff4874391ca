package io.pgvault.server.backup;

import io.micronaut.scheduling.cron.CronExpression;

import java.time.ZonedDateTime;
import java.util.Optional;

/**
 * When a cluster's schedules fire: the times its full and incremental cron expressions name
 * (its slots). When both name the same time the full backup runs: an incremental one then
 * would only build on the backup before.
 */
final class ScheduleSlots {

    /** The slot to run now: its time, its kind, and how many earlier slots of the window it stands for (missed ones). */
    record Due(ZonedDateTime at, boolean full, int missed) {
    }

    private final Optional<CronExpression> full;
    private final Optional<CronExpression> incremental;

    ScheduleSlots(Optional<String> full, Optional<String> incremental) {
        this.full = full.map(CronExpression::create);
        this.incremental = incremental.map(CronExpression::create);
    }

    boolean any() {
        return full.isPresent() || incremental.isPresent();
    }

    /** The newest slot after {@code after} and at or before {@code now}, if any. */
    Optional<Due> latest(ZonedDateTime after, ZonedDateTime now) {
        Optional<ZonedDateTime> lastFull = latest(full, after, now);
        Optional<ZonedDateTime> lastIncremental = latest(incremental, after, now);
        int slots = count(full, after, now) + count(incremental, after, now);
        if (lastFull.isPresent() && (lastIncremental.isEmpty() || !lastIncremental.get().isAfter(lastFull.get()))) {
            boolean both = lastIncremental.filter(lastFull.get()::isEqual).isPresent();
            return Optional.of(new Due(lastFull.get(), true, slots - 1 - (both ? 1 : 0)));
        }
        return lastIncremental.map(at -> new Due(at, false, slots - 1));
    }

    private static Optional<ZonedDateTime> latest(Optional<CronExpression> cron, ZonedDateTime after, ZonedDateTime now) {
        if (cron.isEmpty()) {
            return Optional.empty();
        }
        ZonedDateTime last = null;
        for (ZonedDateTime t = cron.get().nextTimeAfter(after); !t.isAfter(now); t = cron.get().nextTimeAfter(t)) {
            last = t;
        }
        return Optional.ofNullable(last);
    }

    private static int count(Optional<CronExpression> cron, ZonedDateTime after, ZonedDateTime now) {
        int n = 0;
        if (cron.isPresent()) {
            for (ZonedDateTime t = cron.get().nextTimeAfter(after); !t.isAfter(now); t = cron.get().nextTimeAfter(t)) {
                n++;
            }
        }
        return n;
    }
}

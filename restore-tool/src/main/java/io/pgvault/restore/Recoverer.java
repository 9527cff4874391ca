package io.pgvault.restore;

import io.pgvault.core.archive.WalSegmentIndex;
import io.pgvault.core.backup.BackupChain;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.BackupRestorer;
import io.pgvault.core.backup.TablespacePlan;
import io.pgvault.core.util.ByteSize;
import io.pgvault.core.util.FileTrees;
import io.pgvault.core.wal.TimelineId;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * {@code pgvault recover}: plans (and refuses before writing anything when the target
 * cannot be reached), unpacks the chosen backup's pieces in parallel, each checked against
 * its SHA-256, and writes the recovery settings. The DBA then starts PostgreSQL, which
 * fetches WAL through the {@code restore_command} written here.
 *
 * @param restoreCommand the {@code restore_command} to write (wal-fetch against the same repository)
 * @param action {@code recovery_target_action}, or null for PostgreSQL's default (pause)
 */
public record Recoverer(Path dataDirectory, RecoveryTarget target, Optional<TimelineId> timeline, String action, boolean standby,
                        String primaryConninfo, String slot, boolean keepArchiving, int parallelism, Map<String, Path> tablespaceMap,
                        String restoreCommand) {

    /**
     * What runs beside the restore: started once the plan is made, before the first byte is
     * written (restore_command's prefetcher, so that its start-up overlaps the unpacking),
     * and stopped if the restore fails.
     */
    public interface Companion {
        void start(RecoveryPlanner.Plan plan) throws IOException;

        void stop();
    }

    public RecoveryPlanner.Plan run(ClusterArchive archive, PrintWriter out, boolean terminal, Companion companion) throws IOException {
        boolean created = !Files.exists(dataDirectory);
        if (!created) {
            if (!Files.isDirectory(dataDirectory)) {
                throw new RecoveryRefusedException(dataDirectory + " is not a directory");
            }
            try (Stream<Path> entries = Files.list(dataDirectory)) {
                if (entries.findAny().isPresent()) {
                    throw new RecoveryRefusedException(dataDirectory + " is not empty: pgvault recover writes into an empty or new directory "
                            + "(move the old data directory away first; nothing was changed)");
                }
            }
        }
        long planning = System.nanoTime();
        RecoveryPlanner.Plan plan = new RecoveryPlanner(archive).plan(standby ? RecoveryTarget.latest() : target, timeline);
        archive.unreadableBackups().forEach(b -> out.println("pgvault recover: warning: backup " + b.backupId()
                + " is left out, its manifest cannot be used: " + b.reason()));
        archive.unreadableIndexes().forEach((segment, reason) -> out.println("pgvault recover: warning: the index of " + segment
                + " was not used, the segment was read instead: " + reason));
        if (!archive.outdatedIndexes().isEmpty()) {
            out.println("pgvault recover: note: " + WalSegmentIndex.OutdatedException.summary(archive.outdatedIndexes().size()));
        }
        plan.explain().forEach(line -> out.println("pgvault recover: " + line));
        out.printf(java.util.Locale.ROOT, "pgvault recover: planned in %.1f s%n", (System.nanoTime() - planning) / 1e9);
        // Where each tablespace goes, shown and checked before a byte is written: a target that
        // exists and is not empty (the live cluster's own tablespace, on the host the backup came from) is refused.
        TablespacePlan tablespaces = TablespacePlan.of(plan.backup(), tablespaceMap, dataDirectory);
        tablespaces.describe().forEach(line -> out.println("pgvault recover: " + line));
        tablespaces.checkTargets();
        // Built (and every value checked, e.g. no line break in a restore point's name) before a byte is copied.
        RecoverySettings settings = settings(plan);
        try {
            companion.start(plan);
            long restoring = System.nanoTime();
            List<BackupManifest> chain = archive.chainOf(plan.backup());
            long bytes = BackupChain.rawBytes(chain);
            Progress progress = new Progress(out, bytes, terminal);
            new BackupRestorer(archive.store(), parallelism).restore(chain, dataDirectory, tablespaces, progress);
            settings.writeTo(dataDirectory);
            out.printf(java.util.Locale.ROOT, "pgvault recover: restored %s in %.1f s%s%n", ByteSize.format(bytes),
                    (System.nanoTime() - restoring) / 1e9, chain.size() > 1 ? " from a chain of " + chain.size() + " backups" : "");
        } catch (IOException | RuntimeException e) {
            companion.stop();
            FileTrees.delete(dataDirectory, created);
            tablespaces.removeWritten();
            throw e;
        }
        out.println("pgvault recover: " + dataDirectory + " is ready; start PostgreSQL on it (e.g. pg_ctl -D " + dataDirectory + " start)"
                + (standby ? ": it will follow the primary as a standby" : ": it replays WAL from the repository to the target"));
        return plan;
    }

    RecoverySettings settings(RecoveryPlanner.Plan plan) {
        RecoverySettings s = new RecoverySettings(standby, (standby ? "standby of " : "recovery of ") + "cluster " + plan.backup().cluster()
                + " from backup " + plan.backup().backupId() + (standby ? "" : " to " + target));
        s.set("restore_command", restoreCommand);
        if (standby) {
            s.set("recovery_target_timeline", "latest");
            if (primaryConninfo != null) {
                s.set("primary_conninfo", primaryConninfo);
            }
            if (slot != null) {
                s.set("primary_slot_name", slot);
            }
            return s;
        }
        switch (target.kind()) {
            case LATEST -> { }
            case IMMEDIATE -> s.set("recovery_target", "immediate");
            case TIME -> s.set("recovery_target_time", target.postgresTime());
            case LSN -> s.set("recovery_target_lsn", target.value());
            case XID -> s.set("recovery_target_xid", target.value());
            case NAME -> s.set("recovery_target_name", target.value());
        }
        if (!target.inclusive()) {
            s.set("recovery_target_inclusive", "off");
        }
        s.set("recovery_target_timeline", target.kind() == RecoveryTarget.Kind.LATEST && timeline.isEmpty() ? "latest"
                : Long.toString(plan.timeline().value()));
        if (action != null) {
            s.set("recovery_target_action", action);
        }
        if (!keepArchiving) {
            // A point-in-time copy that archived into the same cluster would add a timeline every
            // later 'latest' recovery follows. Turn it on again once this copy is the new primary.
            s.set("archive_mode", "off");
        }
        return s;
    }
}

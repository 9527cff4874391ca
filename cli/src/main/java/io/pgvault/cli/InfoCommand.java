package io.pgvault.cli;

import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.restore.ClusterArchive;
import io.pgvault.restore.RecoveryPlanner;
import io.pgvault.restore.RecoveryWindow;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code pgvault info CLUSTER}: how far back and how close to now the cluster can be recovered, from the repository alone. */
@Command(name = "info", footerHeading = "%nExamples:%n",
        footer = {"  pgvault info main --repo s3://backups/prod",
                "  pgvault info main --server http://127.0.0.1:8432 --json"},
        mixinStandardHelpOptions = true,
        description = "Show a cluster's recovery window per timeline (earliest and latest recoverable point), its last backup and WAL gaps.")
final class InfoCommand implements Callable<Integer> {

    @Mixin
    RepositoryOptions repository;

    @Mixin
    ServerSourceOptions via;

    @Parameters(index = "0", paramLabel = "CLUSTER", description = "The cluster's name in the repository.")
    String cluster;

    @Option(names = "--json", description = "Print JSON (schema: docs/json.md).")
    boolean json;

    @Spec
    CommandSpec spec;

    private static Map<String, Object> backup(BackupManifest b) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", b.backupId());
        m.put("type", b.type());
        m.put("parent", b.isIncremental() ? b.parent().backupId() : null);
        m.put("label", b.label());
        m.put("startedAt", b.startedAt());
        m.put("finishedAt", b.finishedAt());
        m.put("pgFinishedAt", b.pgFinishedAt());
        m.put("startLsn", b.startLsn());
        m.put("endLsn", b.endLsn());
        m.put("startTimeline", b.startTimeline());
        m.put("endTimeline", b.endTimeline());
        m.put("pgMajor", b.pgMajor());
        m.put("codec", b.codec());
        m.put("rawBytes", b.rawBytes());
        m.put("storedBytes", b.storedBytes());
        m.put("pieces", b.pieces().size());
        return m;
    }

    /** How many backups of each type, and the newest with the chain a recovery from it restores. */
    private String backupsLine(ClusterArchive archive, List<BackupManifest> backups) throws IOException {
        if (backups.isEmpty()) {
            return "backups: 0 (take one: pgvault backup " + cluster + " --wait)";
        }
        long incremental = backups.stream().filter(BackupManifest::isIncremental).count();
        BackupManifest last = backups.get(backups.size() - 1);
        String chain = "";
        if (last.isIncremental()) {
            List<BackupManifest> links = archive.chainOf(last);
            chain = " (incremental, a chain of " + links.size() + " from full backup " + links.get(links.size() - 1).backupId() + ")";
        }
        return "backups: " + backups.size() + (incremental > 0 ? " (" + (backups.size() - incremental) + " full, " + incremental + " incremental)" : "")
                + ", last " + last.backupId() + chain + " finished " + last.finishedAt();
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (ObjectStore store = repository.open(via)) {
            ClusterArchive archive = ClusterArchive.load(store, cluster);
            List<RecoveryWindow> windows = new RecoveryPlanner(archive).windows();
            List<BackupManifest> backups = archive.backups();
            if (json) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("cluster", cluster);
                doc.put("systemIdentifier", archive.descriptor().systemIdentifier());
                doc.put("removedAt", archive.descriptor().removedAt());
                // Like pgbackrest info --output=json: a status, every backup, the archive's extent per timeline.
                doc.put("status", windows.isEmpty() ? Map.of("code", 1, "message", "nothing recoverable yet: no backup with all of its WAL")
                        : Map.of("code", 0, "message", "ok"));
                doc.put("lastBackup", backups.isEmpty() ? null : backups.get(backups.size() - 1).backupId());
                doc.put("backups", backups.stream().map(InfoCommand::backup).toList());
                doc.put("archive", archive.timelines().stream().map(t -> {
                    List<io.pgvault.core.wal.WalFileName> on = archive.segments().stream().filter(n -> n.timeline().equals(t)).toList();
                    Map<String, Object> a = new LinkedHashMap<>();
                    a.put("timeline", t.value());
                    a.put("min", on.isEmpty() ? null : on.get(0).toString());
                    a.put("max", on.isEmpty() ? null : on.get(on.size() - 1).toString());
                    a.put("segments", on.size());
                    return a;
                }).toList());
                List<Map<String, Object>> tl = new ArrayList<>();
                for (RecoveryWindow w : windows) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("timeline", w.timeline().value());
                    m.put("earliestTime", w.oldest().consistentBy().toString());
                    m.put("earliestLsn", w.oldest().endLsn());
                    m.put("latestCommitTime", w.lastCommitTime().map(Object::toString).orElse(null));
                    m.put("latestCommitLsn", w.lastCommitLsn().map(Object::toString).orElse(null));
                    m.put("walEnd", w.end().toString());
                    m.put("nextMissingSegment", w.firstMissing().toString());
                    m.put("usableBackups", w.backups().stream().map(BackupManifest::backupId).toList());
                    m.put("gaps", w.gaps());
                    tl.add(m);
                }
                doc.put("timelines", tl);
                doc.put("streamedHeads", archive.streamedHeads().stream().map(Object::toString).sorted().toList());
                doc.put("archivedSegments", archivedSegments(archive));
                doc.put("indexedSegments", archive.indexedSegments().size());
                doc.put("unusableBackups", archive.unreadableBackups().stream()
                        .map(b -> Map.of("id", b.backupId(), "reason", b.reason())).toList());
                Json.print(out, doc);
                return 0;
            }
            out.printf("cluster %s (system identifier %s) in %s%n", cluster, archive.descriptor().systemIdentifier(), store.describe());
            if (archive.descriptor().removedAt() != null) {
                out.printf("removed from its server at %s; its archive stays recoverable (pgvault cluster add %s brings it back)%n",
                        archive.descriptor().removedAt(), cluster);
            }
            out.println(backupsLine(archive, backups));
            if (windows.isEmpty()) {
                out.println("recoverable: nothing yet (no backup with all of its WAL archived)");
            }
            for (RecoveryWindow w : windows) {
                out.println("recovery window on " + w.describe());
                out.println("  next segment the archive lacks: " + w.firstMissing());
            }
            archive.streamedHeads().stream().sorted().forEach(head -> out.println("streamed head (segment not finished yet, served padded): " + head));
            int archived = archivedSegments(archive);
            if (archive.indexedSegments().size() < archived) {
                // Planning reads a segment without an index whole: say so, with the way out.
                out.printf("WAL indexes: %d of %d archived segments (the others are read whole when a recovery is planned; "
                        + "'pgvault catalog rebuild' on the server indexes them)%n", archive.indexedSegments().size(), archived);
            }
            archive.unreadableBackups().forEach(b -> out.println("unusable backup " + b.backupId() + ": " + b.reason()
                    + " (pgvault verify " + cluster + " --backup " + b.backupId() + "; take a new backup)"));
            if (via.given()) {
                // The live side only the server knows: is it streaming now, and how is the slot.
                ClusterCommand.printStream(out, ServerClient.of(via.server, via.token(), via.caCert()).get("/v1/clusters/" + cluster + "/stream"));
            }
            return 0;
        }
    }

    private static int archivedSegments(ClusterArchive archive) {
        return archive.segments().size() - archive.streamedHeads().size();
    }
}

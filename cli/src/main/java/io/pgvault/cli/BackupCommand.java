package io.pgvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgvault.restore.Progress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Callable;

/** {@code pgvault backup CLUSTER [--full|--incremental] [--wait]} and {@code pgvault backup delete CLUSTER ID [--cascade]}. */
@Command(name = "backup", footerHeading = "%nExamples:%n",
        footer = {"  pgvault backup main --wait",
                "  pgvault backup main --incremental --wait      # changed blocks on 17+ (summarize_wal = on), changed files on 14-16",
                "  pgvault backup main --wait --server https://pgvault:8432 --token-file /etc/pgvault/admin.token"},
        mixinStandardHelpOptions = true,
        description = "Take a base backup of a cluster now (the server connects to it over the replication protocol).",
        subcommands = {BackupCommand.DeleteBackup.class})
final class BackupCommand implements Callable<Integer> {

    @Parameters(paramLabel = "CLUSTER", arity = "0..1", description = "The cluster to back up (its name in pgvault).")
    String cluster;

    /** Exclusive: one or the other, full when neither is given. */
    static final class Type {
        @Option(names = "--full", description = "A full backup (the default).")
        boolean full;
        @Option(names = "--incremental", description = "Only what changed since the cluster's newest backup: the changed blocks on "
                + "PostgreSQL 17+ (needs summarize_wal = on), the changed files on 14-16; a restore rebuilds the files from the chain.")
        boolean incremental;
    }

    @picocli.CommandLine.ArgGroup(exclusive = true)
    Type type;

    @Option(names = "--wait", description = "Wait until the backup is stored and the WAL it needs is archived; exit 1 if it failed "
            + "or its WAL did not arrive within --wal-timeout.")
    boolean await;

    @Option(names = "--wal-timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "With --wait: how long to wait for archive_command (or streaming) to deliver the backup's last WAL segment "
                    + "(default ${DEFAULT-VALUE}).")
    int walTimeout;

    @Mixin
    ServerClient server;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (cluster == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "Missing required parameter: 'CLUSTER'");
        }
        PrintWriter out = spec.commandLine().getOut();
        boolean incremental = type != null && type.incremental;
        JsonNode started = server.post("/v1/clusters/" + cluster + "/backups" + (incremental ? "?type=incremental" : ""), java.util.Map.of());
        String id = started.path("id").asText();
        out.printf("%s backup %s of %s started%n", incremental ? "incremental" : "full", id, cluster);
        if (!await) {
            return 0;
        }
        JsonNode b;
        Progress progress = null;
        long estimated = 0;
        do {
            // The server answers when the backup ends, or after two seconds with how far it is (against PostgreSQL's estimate).
            b = server.get("/v1/clusters/" + cluster + "/backups/" + id + "?wait=2");
            if (progress == null && b.hasNonNull("estimatedBytes")) {
                estimated = Math.max(1, b.get("estimatedBytes").asLong());
                progress = new Progress(out, estimated, System.console() != null, "received");
            }
            if (progress != null && b.path("status").asText().equals("running")) {
                // The directory may grow past the estimate while it is copied: the line ends when the backup does.
                progress.accept(Math.min(b.path("receivedBytes").asLong(), estimated - 1));
            }
        } while (b.path("status").asText().equals("running"));
        if (progress != null && !b.path("status").asText().equals("failed")) {
            progress.accept(estimated);
        } else if (progress != null && System.console() != null) {
            out.println();  // end the redrawn line before the error
        }
        // Stored; "incomplete" until the segment holding its end is archived, which a working archive_command does within seconds.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(walTimeout);
        while (b.path("status").asText().equals("incomplete") && System.nanoTime() < deadline) {
            Thread.sleep(500);
            b = server.get("/v1/clusters/" + cluster + "/backups/" + id);
        }
        BackupsCommand.print(out, b);
        out.flush();
        switch (b.path("status").asText()) {
            case "complete" -> {
                return ExitCodes.OK;
            }
            case "failed" -> spec.commandLine().getErr().println("pgvault: backup " + id + " failed: " + b.path("reason").asText());
            default -> spec.commandLine().getErr().println("pgvault: backup " + id + " is stored but its WAL did not arrive within "
                    + walTimeout + " s, so it cannot be restored yet; pgvault check " + cluster + " shows whether archiving works");
        }
        return ExitCodes.FAILED;
    }

    @Command(name = "delete", footerHeading = "%nExamples:%n",
            footer = {"  pgvault backup delete main 20261204T020000Z-1a2b3c"},
            mixinStandardHelpOptions = true, description = "Delete one backup. One that incremental backups build on is refused, "
                    + "naming them, unless --cascade.")
    static final class DeleteBackup implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "CLUSTER", description = "The cluster the backup belongs to.")
        String cluster;
        @Parameters(index = "1", paramLabel = "ID", description = "The backup's id, as pgvault backups lists it.")
        String id;
        @Option(names = "--cascade", description = "Also delete the incremental backups that build on it.")
        boolean cascade;
        @Mixin
        ServerClient server;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            JsonNode answer = server.delete("/v1/clusters/" + cluster + "/backups/" + id + (cascade ? "?cascade=true" : ""));
            for (JsonNode deleted : answer.path("deleted")) {
                spec.commandLine().getOut().printf("deleted backup %s of %s%n", deleted.asText(), cluster);
            }
            return 0;
        }
    }
}

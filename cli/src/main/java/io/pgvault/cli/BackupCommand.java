package io.pgvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** {@code pgvault backup CLUSTER [--wait]} and {@code pgvault backup delete CLUSTER ID}. */
@Command(name = "backup", mixinStandardHelpOptions = true,
        description = "Take a base backup of a cluster now (the server connects to it over the replication protocol).",
        subcommands = {BackupCommand.DeleteBackup.class})
final class BackupCommand implements Callable<Integer> {

    @Parameters(paramLabel = "CLUSTER", arity = "0..1")
    String cluster;

    @Option(names = "--wait", description = "Wait until the backup is stored (and say whether its WAL is complete).")
    boolean await;

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
        JsonNode started = server.post("/v1/clusters/" + cluster + "/backups", java.util.Map.of());
        String id = started.path("id").asText();
        out.printf("backup %s of %s started%n", id, cluster);
        if (!await) {
            return 0;
        }
        while (true) {
            // The server answers when the backup ends (or after a minute, and we ask again).
            JsonNode b = server.get("/v1/clusters/" + cluster + "/backups/" + id + "?wait=60");
            String status = b.path("status").asText();
            if (status.equals("running")) {
                continue;
            }
            BackupsCommand.print(out, b);
            if (status.equals("failed")) {
                spec.commandLine().getErr().println("pgvault: backup " + id + " failed: " + b.path("reason").asText());
                return 1;
            }
            return 0;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete one backup.")
    static final class DeleteBackup implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "CLUSTER")
        String cluster;
        @Parameters(index = "1", paramLabel = "ID")
        String id;
        @Mixin
        ServerClient server;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            server.delete("/v1/clusters/" + cluster + "/backups/" + id);
            spec.commandLine().getOut().printf("deleted backup %s of %s%n", id, cluster);
            return 0;
        }
    }
}

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

/** {@code pgvault backups CLUSTER [--json]}. */
@Command(name = "backups", footerHeading = "%nExamples:%n",
        footer = {"  pgvault backups main",
                "  pgvault backups main --json"},
        mixinStandardHelpOptions = true, description = "List a cluster's base backups.")
final class BackupsCommand implements Callable<Integer> {

    @Parameters(paramLabel = "CLUSTER", description = "The cluster whose backups to list.")
    String cluster;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Mixin
    ServerClient server;

    @Spec
    CommandSpec spec;

    static void print(PrintWriter out, JsonNode b) {
        out.printf("%-24s %-10s %-11s start %-12s end %-12s tli %-3s %8.1f s  raw %,15d  stored %,13d%s%s%n", b.path("id").asText(),
                b.path("status").asText(), b.path("type").asText("-"), b.path("startLsn").asText("-"), b.path("endLsn").asText("-"), b.path("timeline").asText("-"),
                b.path("durationSeconds").asDouble(0), b.path("rawBytes").asLong(0), b.path("storedBytes").asLong(0),
                b.hasNonNull("parent") ? "\n    on " + b.get("parent").asText() : "",
                b.hasNonNull("reason") ? "\n    " + b.get("reason").asText() : "");
    }

    @Override
    public Integer call() throws Exception {
        JsonNode list = server.get("/v1/clusters/" + cluster + "/backups");
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Json.print(out, list);
            return 0;
        }
        if (list.isEmpty()) {
            out.println("no backups of " + cluster + " yet: pgvault backup " + cluster + " --wait");
        }
        list.forEach(b -> print(out, b));
        return 0;
    }
}

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

/** {@code pgvault expire CLUSTER [--dry-run]}: apply the cluster's retention policy now. */
@Command(name = "expire", footerHeading = "%nExamples:%n",
        footer = {"  pgvault expire main --dry-run",
                "  pgvault expire main --dry-run --json"},
        mixinStandardHelpOptions = true,
        description = "Apply the cluster's retention policy (--retain-full / --retain-days of cluster add); --dry-run only shows it.")
final class ExpireCommand implements Callable<Integer> {

    @Parameters(paramLabel = "CLUSTER", description = "The cluster whose retention policy to apply.")
    String cluster;

    @Option(names = "--dry-run", description = "Show what would be deleted; delete nothing.")
    boolean dryRun;

    @Option(names = "--json", description = "Print JSON: {keptBackups, deletedBackups, deletedWal} (docs/json.md).")
    boolean json;

    @Mixin
    ServerClient server;

    @Spec
    CommandSpec spec;

    /** The server leaves empty lists out of its JSON. */
    private static String ids(JsonNode list) {
        if (list.isMissingNode() || list.isEmpty()) {
            return "none";
        }
        StringBuilder sb = new StringBuilder();
        list.forEach(id -> sb.append(sb.length() == 0 ? "" : ", ").append(id.asText()));
        return sb.toString();
    }

    @Override
    public Integer call() throws Exception {
        JsonNode r = server.post("/v1/clusters/" + cluster + "/expire?dryRun=" + dryRun, java.util.Map.of());
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            java.util.Map<String, Object> doc = new java.util.LinkedHashMap<>();
            doc.put("cluster", cluster);
            doc.put("dryRun", dryRun);
            for (String list : java.util.List.of("keptBackups", "deletedBackups", "deletedWal")) {
                doc.put(list, r.hasNonNull(list) ? r.get(list) : java.util.List.of());
            }
            Json.print(out, doc);
            return 0;
        }
        String verb = dryRun ? "would delete" : "deleted";
        out.printf("kept backups: %s%n", ids(r.path("keptBackups")));
        out.printf("%s backups: %s%n", verb, ids(r.path("deletedBackups")));
        out.printf("%s %d WAL files%s%n", verb, r.path("deletedWal").size(),
                r.path("deletedWal").isEmpty() ? "" : " (" + r.path("deletedWal").get(0).asText() + " ... "
                        + r.path("deletedWal").get(r.path("deletedWal").size() - 1).asText() + ")");
        return 0;
    }
}

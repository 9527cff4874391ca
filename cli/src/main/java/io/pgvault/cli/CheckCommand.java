package io.pgvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code pgvault check CLUSTER}: proof that a cluster is archived and restorable, as a monitoring plugin reports it. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Prove a cluster's setup end to end: the server's replication and SQL connections, the cluster's identity, "
                + "archive_mode and archive_command (pointing at this server and cluster) and its archiver, a forced WAL switch whose "
                + "segment must reach the archive, streaming and its slot, the last backup against its schedule, and gaps in the archive. "
                + "Each line is OK, WARNING or CRITICAL, with the fix.",
                "Exit code (Nagios/Icinga): 0 OK, 1 WARNING, 2 CRITICAL (also when the server cannot be reached or the cluster is unknown)."},
        footerHeading = "%nExamples:%n",
        footer = {"  pgvault check main",
                "  pgvault check main --json --server https://pgvault:8432 --token-file /etc/pgvault/admin.token",
                "  pgvault check main --no-wal-switch --token-file /etc/pgvault/nagios.token   # a read token, no write on the cluster"})
final class CheckCommand implements Callable<Integer> {

    static final int CRITICAL = 2;

    @Parameters(paramLabel = "CLUSTER", description = "The cluster's name in pgvault.")
    String cluster;

    @Option(names = "--json", description = "Print the report as JSON: {cluster, status, checkedAt, checks: [{check, status, detail, fix}]}.")
    boolean json;

    @Option(names = "--wal-timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "How long the switched segment may take to reach the archive (default ${DEFAULT-VALUE}).")
    int walTimeout;

    @Option(names = "--no-wal-switch", description = "Do not create a restore point and force a WAL switch on the cluster (which needs "
            + "an admin token): a read token is enough, but archiving is not proven.")
    boolean noWalSwitch;

    @Mixin
    ServerClient server;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (walTimeout < 1 || walTimeout > 600) {
            throw new UsageException("--wal-timeout must be 1 to 600 seconds, not " + walTimeout);
        }
        JsonNode report;
        try {
            // The switch writes on the cluster (admin token); without it a read token does.
            report = noWalSwitch ? server.get("/v1/clusters/" + cluster + "/check")
                    : server.post("/v1/clusters/" + cluster + "/check?walTimeout=" + walTimeout, Map.of());
        } catch (IOException | RuntimeException e) {
            // Monitoring must see CRITICAL, not a failure of another kind, when the server or the cluster is not there.
            report = failed(e);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(report.toPrettyString());
        } else {
            print(out, report);
        }
        out.flush();
        return switch (report.path("status").asText()) {
            case "OK" -> ExitCodes.OK;
            case "WARNING" -> 1;
            default -> CRITICAL;
        };
    }

    private ObjectNode failed(Exception e) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode report = json.createObjectNode().put("cluster", cluster).put("status", "CRITICAL").put("checkedAt", Instant.now().toString());
        boolean unknown = e instanceof ServerClient.NotFoundException;
        report.putArray("checks").addObject().put("check", unknown ? "registration" : "server").put("status", "CRITICAL")
                .put("detail", e.getMessage())
                .put("fix", unknown ? "register it: pgvault cluster add " + cluster + " --conninfo '...'"
                        : e.getMessage() != null && e.getMessage().contains("403") ? "the forced WAL switch writes on the cluster: use an "
                        + "admin token, or --no-wal-switch with a read token"
                        : "start the pgvault server or give its address (--server, PGVAULT_SERVER) and a token (--token-file)");
        return report;
    }

    /** Nagios reads the first line: the verdict and the counts; then one line per check. */
    static void print(PrintWriter out, JsonNode report) {
        long warnings = 0;
        long critical = 0;
        for (JsonNode c : report.path("checks")) {
            warnings += c.path("status").asText().equals("WARNING") ? 1 : 0;
            critical += c.path("status").asText().equals("CRITICAL") ? 1 : 0;
        }
        out.printf("pgvault check %s: %s - %d critical, %d warning, %d checks%n", report.path("cluster").asText(),
                report.path("status").asText(), critical, warnings, report.path("checks").size());
        for (JsonNode c : report.path("checks")) {
            printLine(out, c);
        }
    }

    static void printLine(PrintWriter out, JsonNode c) {
        out.printf("%-8s %-22s %s%n", c.path("status").asText(), c.path("check").asText(), c.path("detail").asText());
        if (c.hasNonNull("fix")) {
            out.printf("%-8s %-22s fix: %s%n", "", "", c.path("fix").asText());
        }
    }
}

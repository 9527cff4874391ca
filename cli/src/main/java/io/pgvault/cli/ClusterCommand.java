package io.pgvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code pgvault cluster add|list|show}: clusters registered with a pgvault server. */
@Command(name = "cluster", description = "Register and list the clusters a pgvault server archives.",
        mixinStandardHelpOptions = true,
        subcommands = {ClusterCommand.Add.class, ClusterCommand.ListClusters.class, ClusterCommand.Show.class})
final class ClusterCommand {

    static void print(PrintWriter out, JsonNode c) {
        out.printf("%-20s system identifier %-20s segment size %-8s PostgreSQL %-4s %s%n", c.path("name").asText(),
                c.path("systemIdentifier").asText("(first segment not yet archived)"),
                c.has("walSegmentSize") ? (c.get("walSegmentSize").asLong() >> 20) + "MB" : "-",
                c.path("pgMajor").asText("-"), c.path("conninfo").asText(""));
    }

    @Command(name = "add", description = "Register a cluster; then point its archive_command at the server.", mixinStandardHelpOptions = true)
    static final class Add implements Callable<Integer> {
        @Parameters(paramLabel = "NAME", description = "Cluster name: lower-case letters, digits, '_' or '-'.")
        String name;
        @Option(names = "--conninfo", description = "libpq connection string the server uses to reach the cluster (a role with REPLICATION).")
        String conninfo;
        @Option(names = "--backup-schedule", description = "Cron expression for base backups, e.g. '0 2 * * *' (02:00 daily).")
        String schedule;
        @Option(names = "--retain-full", description = "Keep the newest N complete base backups (and the WAL they need).")
        Integer retainFull;
        @Option(names = "--retain-days", description = "Keep every point of the last N days recoverable.")
        Integer retainDays;
        @Mixin
        ServerClient server;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("name", name);
            body.put("conninfo", conninfo);
            body.put("backupSchedule", schedule);
            body.put("retainFull", retainFull);
            body.put("retainDays", retainDays);
            JsonNode created = server.post("/v1/clusters", body);
            PrintWriter out = spec.commandLine().getOut();
            print(out, created);
            out.printf("%nNow set in postgresql.conf of that cluster (then reload):%n  archive_mode = on%n"
                    + "  archive_command = 'curl -fsS -T %%p %s/v1/clusters/%s/wal/%%f'%n", server.server.replaceAll("/+$", ""), name);
            return 0;
        }
    }

    @Command(name = "list", description = "List registered clusters.", mixinStandardHelpOptions = true)
    static final class ListClusters implements Callable<Integer> {
        @Mixin
        ServerClient server;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            JsonNode clusters = server.get("/v1/clusters");
            if (clusters.isEmpty()) {
                spec.commandLine().getOut().println("no clusters registered; add one with: pgvault cluster add NAME --conninfo '...'");
            }
            clusters.forEach(c -> print(spec.commandLine().getOut(), c));
            return 0;
        }
    }

    @Command(name = "show", description = "Show one cluster and its archived WAL.", mixinStandardHelpOptions = true)
    static final class Show implements Callable<Integer> {
        @Parameters(paramLabel = "NAME")
        String name;
        @Mixin
        ServerClient server;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            print(out, server.get("/v1/clusters/" + name));
            JsonNode wal = server.get("/v1/clusters/" + name + "/wal");
            long raw = 0;
            long stored = 0;
            for (JsonNode w : wal) {
                raw += w.path("rawSize").asLong();
                stored += w.path("storedSize").asLong();
            }
            out.printf("archived files: %d, %d bytes raw, %d bytes stored%s%n", wal.size(), raw, stored,
                    raw > 0 ? String.format(" (%.1f%%)", 100.0 * stored / raw) : "");
            if (!wal.isEmpty()) {
                out.printf("first: %s  last: %s%n", wal.get(0).path("name").asText(), wal.get(wal.size() - 1).path("name").asText());
            }
            return 0;
        }
    }
}

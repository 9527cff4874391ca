package io.pgvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgvault.core.util.ByteSize;
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

/** {@code pgvault cluster add|list|show|update|remove}: clusters registered with a pgvault server. */
@Command(name = "cluster", footerHeading = "%nExamples:%n",
        footer = {"  pgvault cluster add main --conninfo 'host=db1 user=pgvault_repl' --backup-schedule '0 2 * * *' --retain-full 2",
                "  pgvault cluster list --json",
                "  pgvault cluster update main --stream"},
        description = "Register, list, change and remove the clusters a pgvault server archives.",
        mixinStandardHelpOptions = true,
        subcommands = {ClusterCommand.Add.class, ClusterCommand.ListClusters.class, ClusterCommand.Show.class, ClusterCommand.Update.class,
                ClusterCommand.Remove.class})
final class ClusterCommand {

    static void print(PrintWriter out, JsonNode c) {
        out.printf("%-20s system identifier %-20s segment size %-8s PostgreSQL %-4s %s%n", c.path("name").asText(),
                c.path("systemIdentifier").asText("(first segment not yet archived)"),
                c.has("walSegmentSize") ? (c.get("walSegmentSize").asLong() >> 20) + "MB" : "-",
                c.path("pgMajor").asText("-"), c.path("conninfo").asText(""));
        if (c.path("stream").asBoolean()) {
            out.printf("%-20s streamed from slot %s%n", "", c.path("slot").asText());
        }
        if (c.hasNonNull("backupSchedule") || c.hasNonNull("incrementalSchedule") || c.hasNonNull("retainFull") || c.hasNonNull("retainDays")) {
            out.printf("%-20s backups: full %s, incremental %s; keep %s full, %s days%n", "", c.path("backupSchedule").asText("on demand"),
                    c.path("incrementalSchedule").asText("on demand"), c.path("retainFull").asText("any number of"),
                    c.path("retainDays").asText("any number of"));
        }
    }

    /** The receiver's state and the slot's health, as {@code GET /v1/clusters/NAME/stream} reports them. */
    static void printStream(PrintWriter out, JsonNode s) {
        if ("off".equals(s.path("state").asText())) {
            out.println("streaming: off (pgvault cluster update " + s.path("cluster").asText() + " --stream turns it on)");
            return;
        }
        out.printf("streaming: %s from slot %s, timeline %s, stored up to %s (last stored %s), %d reconnects%n", s.path("state").asText(),
                s.path("slot").asText(), s.path("timeline").asText("-"), s.path("flushedLsn").asText("-"), s.path("lastFlushAt").asText("never"),
                s.path("reconnects").asLong());
        if (s.hasNonNull("lastError")) {
            out.printf("  last error (%s): %s%n", s.path("lastErrorAt").asText(), s.path("lastError").asText());
        }
        JsonNode slot = s.path("slotHealth");
        if (slot.isObject()) {
            if (slot.hasNonNull("error")) {
                out.printf("  slot: %s%n", slot.path("error").asText());
            } else if (slot.path("exists").asBoolean()) {
                out.printf("  slot: %s, wal_status %s, restart_lsn %s, holds %s on the cluster, lag %s%n",
                        slot.path("active").asBoolean() ? "active" : "inactive", slot.path("walStatus").asText(), slot.path("restartLsn").asText(),
                        bytes(slot.path("retainedBytes")), bytes(slot.path("lagBytes")));
            }
            if (slot.hasNonNull("warning")) {
                out.printf("  WARNING: %s%n", slot.path("warning").asText());
            }
        }
    }

    private static String bytes(JsonNode n) {
        if (!n.isNumber()) {
            return "-";
        }
        return ByteSize.format(n.asLong());
    }

    @Command(name = "add", footerHeading = "%nExamples:%n",
            footer = {"  pgvault cluster add main --conninfo 'host=db1 user=pgvault_repl sslmode=verify-full' --backup-schedule '0 2 * * *'",
                    "  pgvault cluster add main --conninfo 'host=db1 user=pgvault_repl' --stream --retain-days 14"},
            description = "Register a cluster; then point its archive_command at the server.", mixinStandardHelpOptions = true)
    static final class Add implements Callable<Integer> {
        @Parameters(paramLabel = "NAME", description = "Cluster name: lower-case letters, digits, '_' or '-'.")
        String name;
        @Option(names = "--conninfo", description = "libpq connection string the server uses to reach the cluster (a role with REPLICATION).")
        String conninfo;
        @Option(names = {"--full-schedule", "--backup-schedule"}, description = "Cron expression for full base backups, e.g. '0 2 * * 0' "
                + "(02:00 on Sundays).")
        String schedule;
        @Option(names = "--incremental-schedule", description = "Cron expression for incremental backups (changed blocks on PostgreSQL "
                + "17+ with summarize_wal = on, changed files on 14-16), e.g. '0 2 * * 1-6'; when both fall on the same minute the full "
                + "backup runs.")
        String incrementalSchedule;
        @Option(names = "--retain-full", description = "Keep the newest N complete full backups, the incremental ones built on them, "
                + "and the WAL they need.")
        Integer retainFull;
        @Option(names = "--retain-days", description = "Keep every point of the last N days recoverable.")
        Integer retainDays;
        @Option(names = "--stream", description = "Follow the cluster over streaming replication from a slot of pgvault's own, "
                + "so a lost primary costs about a second of commits (archive_command may stay on too).")
        boolean stream;
        @Option(names = "--slot", description = "Name of that physical slot (default pgvault_NAME).")
        String slot;
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
            body.put("incrementalSchedule", incrementalSchedule);
            body.put("retainFull", retainFull);
            body.put("retainDays", retainDays);
            body.put("stream", stream);
            body.put("slot", slot);
            JsonNode created = server.post("/v1/clusters", body);
            PrintWriter out = spec.commandLine().getOut();
            print(out, created);
            if (stream) {
                out.printf("The server now streams from the cluster; `pgvault cluster show %s` shows how far.%n", name);
            }
            String url = server.server.replaceAll("/+$", "");
            String ca = server.caCert == null || server.caCert.toString().isBlank() ? "" : "--cacert " + server.caCert.toAbsolutePath() + " ";
            if (server.usesToken()) {
                // Never the token itself: any SQL role can SHOW archive_command.
                String file = "/etc/pgvault/" + name + ".token";
                out.printf("%nMake the cluster's archive token, readable by PostgreSQL's OS user only:%n"
                        + "  pgvault token create %s-archive --role archive --cluster %s --out %s --add-to TOKENS_FILE; chown postgres %s%n",
                        name, name, file, file);
                out.printf("Then set in postgresql.conf of that cluster (then reload):%n  archive_mode = on%n"
                        + "  archive_command = 'curl -fsS %s-H @%s -T %%p %s/v1/clusters/%s/wal/%%f'%n", ca, file, url, name);
            } else {
                out.printf("%nNow set in postgresql.conf of that cluster (then reload):%n  archive_mode = on%n"
                        + "  archive_command = 'curl -fsS %s-T %%p %s/v1/clusters/%s/wal/%%f'%n", ca, url, name);
            }
            whatIsMissing(out);
            return 0;
        }

        /** The check without its WAL switch: what the cluster still lacks (archive_command is rarely set yet). */
        private void whatIsMissing(PrintWriter out) {
            JsonNode report;
            try {
                report = server.get("/v1/clusters/" + name + "/check");
            } catch (java.io.IOException e) {
                out.printf("%n(pgvault check %s could not run: %s)%n", name, e.getMessage());
                return;
            }
            java.util.List<JsonNode> missing = new java.util.ArrayList<>();
            report.path("checks").forEach(c -> {
                if (!c.path("status").asText().equals("OK")) {
                    missing.add(c);
                }
            });
            if (missing.isEmpty()) {
                out.printf("%nChecked: nothing missing. Once it archives, pgvault check %s proves it with a forced WAL switch.%n", name);
                return;
            }
            out.printf("%nStill missing (pgvault check %s shows it all, and proves archiving with a WAL switch):%n", name);
            missing.forEach(c -> CheckCommand.printLine(out, c));
        }
    }

    @Command(name = "list", footerHeading = "%nExamples:%n",
            footer = {"  pgvault cluster list",
                    "  pgvault cluster list --json"},
            description = "List registered clusters.", mixinStandardHelpOptions = true)
    static final class ListClusters implements Callable<Integer> {
        @Mixin
        ServerClient server;
        @Spec
        CommandSpec spec;

        @Option(names = "--json", description = "Print JSON: the server's cluster records (docs/json.md).")
        boolean json;

        @Override
        public Integer call() throws Exception {
            JsonNode clusters = server.get("/v1/clusters");
            if (json) {
                Json.print(spec.commandLine().getOut(), clusters);
                return 0;
            }
            if (clusters.isEmpty()) {
                spec.commandLine().getOut().println("no clusters registered; add one with: pgvault cluster add NAME --conninfo '...'");
            }
            clusters.forEach(c -> print(spec.commandLine().getOut(), c));
            return 0;
        }
    }

    @Command(name = "show", footerHeading = "%nExamples:%n",
            footer = {"  pgvault cluster show main",
                    "  pgvault cluster show main --json"},
            description = "Show one cluster and its archived WAL.", mixinStandardHelpOptions = true)
    static final class Show implements Callable<Integer> {
        @Parameters(paramLabel = "NAME", description = "The cluster's name in pgvault.")
        String name;
        @Mixin
        ServerClient server;
        @Spec
        CommandSpec spec;

        @Option(names = "--json", description = "Print JSON: {cluster, wal: {files, rawBytes, storedBytes, first, last}, stream} (docs/json.md).")
        boolean json;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            JsonNode cluster = server.get("/v1/clusters/" + name);
            JsonNode wal = server.get("/v1/clusters/" + name + "/wal");
            JsonNode stream = server.get("/v1/clusters/" + name + "/stream");
            long raw = 0;
            long stored = 0;
            for (JsonNode w : wal) {
                raw += w.path("rawSize").asLong();
                stored += w.path("storedSize").asLong();
            }
            if (json) {
                Map<String, Object> walSummary = new LinkedHashMap<>();
                walSummary.put("files", wal.size());
                walSummary.put("rawBytes", raw);
                walSummary.put("storedBytes", stored);
                walSummary.put("first", wal.isEmpty() ? null : wal.get(0).path("name").asText());
                walSummary.put("last", wal.isEmpty() ? null : wal.get(wal.size() - 1).path("name").asText());
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("cluster", cluster);
                doc.put("wal", walSummary);
                doc.put("stream", stream);
                Json.print(out, doc);
                return 0;
            }
            print(out, cluster);
            out.printf("archived files: %d, %d bytes raw, %d bytes stored%s%n", wal.size(), raw, stored,
                    raw > 0 ? String.format(" (%.1f%%)", 100.0 * stored / raw) : "");
            if (!wal.isEmpty()) {
                out.printf("first: %s  last: %s%n", wal.get(0).path("name").asText(), wal.get(wal.size() - 1).path("name").asText());
            }
            printStream(out, stream);
            return 0;
        }
    }

    @Command(name = "update", footerHeading = "%nExamples:%n",
            footer = {"  pgvault cluster update main --conninfo 'host=db2 user=pgvault_repl'   # after a failover",
                    "  pgvault cluster update main --no-stream",
                    "  pgvault cluster update main --full-schedule '0 2 * * 0' --incremental-schedule '0 2 * * 1-6' --retain-full 2",
                    "  pgvault cluster update main --incremental-schedule ''   # no more incremental backups"},
            description = "Change a cluster's connection string, streaming, backup schedules or retention.", mixinStandardHelpOptions = true)
    static final class Update implements Callable<Integer> {
        @Parameters(paramLabel = "NAME", description = "The cluster's name in pgvault.")
        String name;
        @Option(names = "--conninfo", description = "New libpq connection string (e.g. after a failover, the new primary).")
        String conninfo;
        @Option(names = "--stream", negatable = true, description = "Start (--stream) or stop (--no-stream) streaming; stopping drops the slot.")
        Boolean stream;
        @Option(names = "--slot", description = "Stream from this physical slot instead (the old one is dropped).")
        String slot;
        @Option(names = {"--full-schedule", "--backup-schedule"}, description = "New cron expression for full backups ('' for none).")
        String schedule;
        @Option(names = "--incremental-schedule", description = "New cron expression for incremental backups ('' for none).")
        String incrementalSchedule;
        @Option(names = "--retain-full", description = "Keep the newest N complete full backups (0: no such limit).")
        Integer retainFull;
        @Option(names = "--retain-days", description = "Keep every point of the last N days recoverable (0: no such limit).")
        Integer retainDays;
        @Mixin
        ServerClient server;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("conninfo", conninfo);
            body.put("stream", stream);
            body.put("slot", slot);
            body.put("backupSchedule", schedule);
            body.put("incrementalSchedule", incrementalSchedule);
            body.put("retainFull", retainFull);
            body.put("retainDays", retainDays);
            print(spec.commandLine().getOut(), server.patch("/v1/clusters/" + name, body));
            return 0;
        }
    }

    @Command(name = "remove", footerHeading = "%nExamples:%n",
            footer = {"  pgvault cluster remove main"},
            description = "Unregister a cluster and drop its replication slot; its WAL and backups stay in the repository, "
            + "restorable with pgvault recover.", mixinStandardHelpOptions = true)
    static final class Remove implements Callable<Integer> {
        @Parameters(paramLabel = "NAME", description = "The cluster's name in pgvault.")
        String name;
        @Mixin
        ServerClient server;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            JsonNode removal = server.delete("/v1/clusters/" + name);
            PrintWriter out = spec.commandLine().getOut();
            out.printf("removed %s; its WAL and backups stay in the repository%n", name);
            for (JsonNode w : removal.path("warnings")) {
                spec.commandLine().getErr().printf("WARNING: %s%n", w.asText());
            }
            return 0;
        }
    }
}

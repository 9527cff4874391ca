package io.pgvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.util.concurrent.Callable;

/** {@code pgvault catalog rebuild}: the server refills its catalog from the repository alone. */
@Command(name = "catalog", footerHeading = "%nExamples:%n",
        footer = {"  pgvault catalog rebuild"},
        description = "Maintain the server's catalog (an index of the repository).",
        mixinStandardHelpOptions = true, subcommands = {CatalogCommand.Rebuild.class})
final class CatalogCommand {

    @Command(name = "rebuild", footerHeading = "%nExamples:%n",
            footer = {"  pgvault catalog rebuild --server http://127.0.0.1:8432"},
            description = "Rebuild the catalog from the repository alone.", mixinStandardHelpOptions = true)
    static final class Rebuild implements Callable<Integer> {
        @Mixin
        ServerClient server;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            JsonNode summary = server.post("/v1/catalog/rebuild", java.util.Map.of());
            spec.commandLine().getOut().printf("catalog rebuilt from the repository: %d clusters, %d WAL files, %d backups, %d objects skipped, %d WAL indexes written%n",
                    summary.path("clusters").asInt(), summary.path("walFiles").asInt(), summary.path("backups").asInt(), summary.path("skipped").asInt(),
                    summary.path("walIndexesWritten").asInt());
            return 0;
        }
    }
}

package io.pgvault.cli;

import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code pgvault repo init|info}: a repository read or prepared directly, no server involved. */
@Command(name = "repo", description = "Create or inspect a repository directly (no server needed).",
        mixinStandardHelpOptions = true,
        subcommands = {RepoCommand.Init.class, RepoCommand.Info.class})
final class RepoCommand {

    @Command(name = "init", description = "Create the repository's format object, or check an existing one.", mixinStandardHelpOptions = true)
    static final class Init implements Callable<Integer> {
        @Mixin
        RepositoryOptions repository;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            try (ObjectStore store = repository.open()) {
                RepositoryFormat.Descriptor d = RepositoryFormat.initialize(store, "pgvault cli");
                spec.commandLine().getOut().printf("repository %s: format version %d, created %s by %s%n",
                        store.describe(), d.formatVersion(), d.createdAt(), d.createdBy());
                return 0;
            }
        }
    }

    @Command(name = "info", description = "Show a repository's format and the clusters it holds.", mixinStandardHelpOptions = true)
    static final class Info implements Callable<Integer> {
        @Mixin
        RepositoryOptions repository;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            try (ObjectStore store = repository.open()) {
                RepositoryFormat.Descriptor d = RepositoryFormat.require(store);
                out.printf("repository:     %s%n", store.describe());
                out.printf("format version: %d (this pgvault reads up to %d)%n", d.formatVersion(), RepositoryFormat.CURRENT);
                out.printf("created:        %s by %s%n", d.createdAt(), d.createdBy());
                Map<String, long[]> clusters = new TreeMap<>();
                for (ObjectStat o : store.list("clusters/")) {
                    String[] parts = o.key().split("/", 3);
                    long[] totals = clusters.computeIfAbsent(parts[1], k -> new long[2]);
                    totals[0]++;
                    totals[1] += o.size();
                }
                if (clusters.isEmpty()) {
                    out.println("clusters:       none yet");
                }
                clusters.forEach((name, t) -> out.printf("cluster %-20s %8d objects %14d bytes stored%n", name, t[0], t[1]));
                return 0;
            }
        }
    }
}

package io.pgvault.cli;

import io.pgvault.core.storage.ObjectStore;
import io.pgvault.restore.ArchiveVerifier;
import io.pgvault.restore.ClusterArchive;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code pgvault verify CLUSTER}: proof, from the repository alone, that a cluster's backups and WAL can be restored. */
@Command(name = "verify", footerHeading = "%nExamples:%n",
        footer = {"  pgvault verify main --repo s3://backups/prod",
                "  pgvault verify main --server http://127.0.0.1:8432 --backup 20261204T020000Z-1a2b3c --json"},
        mixinStandardHelpOptions = true,
        description = {"Read every backup piece and archived WAL segment of a cluster as a recovery would (checksums, compression, "
                + "tar headers), writing nothing, and report what would stop a recovery: damaged or missing objects, backups whose "
                + "WAL is not all archived, stretches a missing segment makes unreachable.",
                "Exit code 0 when everything can be restored, 1 when a problem was found (each one is named)."})
final class VerifyCommand implements Callable<Integer> {

    @Mixin
    RepositoryOptions repository;

    @Mixin
    ServerSourceOptions via;

    @Parameters(index = "0", paramLabel = "CLUSTER", description = "The cluster's name in the repository.")
    String cluster;

    @Option(names = "--backup", description = "Check only this backup's pieces and its WAL's presence (no WAL pass).")
    String backup;

    @Option(names = "--no-wal", description = "Do not read the archived WAL segments (backups and the recovery window only).")
    boolean noWal;

    @Option(names = "--parallel", defaultValue = "4", description = "Objects read at once (default ${DEFAULT-VALUE}).")
    int parallel;

    @Option(names = "--json", description = "Print JSON: {cluster, repository, status: ok|problems, problems: [...]} (docs/json.md); "
            + "no progress lines.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (ObjectStore store = repository.open(via)) {
            ClusterArchive archive = ClusterArchive.load(store, cluster);
            if (!json) {
                out.printf("verifying cluster %s in %s%n", cluster, store.describe());
            }
            PrintWriter progress = json ? new PrintWriter(java.io.Writer.nullWriter()) : out;
            List<String> problems = new ArchiveVerifier(archive, parallel).verify(Optional.ofNullable(backup), !noWal, progress,
                    !json && System.console() != null);
            if (json) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("cluster", cluster);
                doc.put("repository", store.describe());
                doc.put("backup", backup);
                doc.put("wal", !noWal && backup == null);
                doc.put("status", problems.isEmpty() ? "ok" : "problems");
                doc.put("problems", problems);
                Json.print(out, doc);
                return problems.isEmpty() ? ExitCodes.OK : ExitCodes.FAILED;
            }
            if (problems.isEmpty()) {
                out.println("verify: ok, everything read can be restored");
                out.flush();
                return 0;
            }
            out.flush();
            PrintWriter err = spec.commandLine().getErr();
            err.println("pgvault verify: " + problems.size() + " problem(s) in cluster " + cluster + " (listed above); a recovery that needs "
                    + "them would stop there: take a new backup if a backup is damaged, and check the archiving if WAL is");
            err.flush();
            return 1;
        }
    }
}

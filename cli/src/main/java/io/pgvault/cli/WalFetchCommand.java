package io.pgvault.cli;

import io.pgvault.restore.fetch.WalFetchMain;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code pgvault wal-fetch}: listed here for {@code pgvault --help}; the work (and its own
 * argument parsing, to start fast) is in {@link WalFetchMain}, which bin/pgvault calls
 * directly when the prefetch spool does not already hold the file.
 */
@Command(name = "wal-fetch", footerHeading = "%nExamples:%n",
        footer = {"  restore_command = '/opt/pgvault/bin/pgvault wal-fetch --server http://pgvault:8432 --cluster main %%f %%p'"},
        description = {"restore_command: copy WAL file %%f of a cluster to %%p, verified. "
        + "Run 'pgvault wal-fetch --help' for its options and exit codes."})
final class WalFetchCommand implements Callable<Integer> {

    @Unmatched
    List<String> arguments = new ArrayList<>();

    @Override
    public Integer call() {
        return WalFetchMain.run(arguments, System.getenv(), System.err, Path.of("").toAbsolutePath());
    }
}

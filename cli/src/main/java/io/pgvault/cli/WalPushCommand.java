package io.pgvault.cli;

import io.pgvault.cli.push.WalPushMain;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code pgvault wal-push}: listed here for {@code pgvault --help}; the work (and its own
 * argument parsing, to start fast) is in {@link WalPushMain}, which bin/pgvault calls directly
 * when the push spool has not already answered for the file.
 */
@Command(name = "wal-push", footerHeading = "%nExamples:%n",
        footer = {"  archive_command = '/opt/pgvault/bin/pgvault wal-push --server http://pgvault:8432 --cluster main "
                + "--token-file /etc/pgvault/archive.token --spool pg_wal/pgvault-push %%p'"},
        description = {"archive_command: send WAL file %%p to the pgvault server; with --spool, push ready files ahead of the archiver. "
        + "Run 'pgvault wal-push --help' for its options and exit codes."})
final class WalPushCommand implements Callable<Integer> {

    @Unmatched
    List<String> arguments = new ArrayList<>();

    @Override
    public Integer call() {
        return WalPushMain.run(arguments, System.getenv(), System.err, Path.of("").toAbsolutePath());
    }
}

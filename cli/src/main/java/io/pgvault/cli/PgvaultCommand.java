package io.pgvault.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code pgvault} command. Exit codes: {@link ExitCodes}, with a message on stderr;
 * {@code wal-fetch} and {@code check} document their own.
 */
@Command(name = "pgvault", footerHeading = "%nExamples:%n",
        footer = {"  pgvault cluster add main --conninfo 'host=db1 user=pgvault_repl'",
                "  pgvault check main",
                "  pgvault backup main --wait",
                "  pgvault info main --repo s3://backups/prod --json",
                "  pgvault recover --repo s3://backups/prod --cluster main --pgdata /srv/pg/restore --target-time '2026-12-04 10:00:00+00'",
                "  (exit codes: 0 ok, 1 failed or problems found, 2 usage, 3 not found, 4 unreachable; docs/troubleshooting.md)"},
        
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "PostgreSQL WAL archive, base backups and point-in-time recovery.",
        subcommands = {
                ClusterCommand.class,
                CheckCommand.class,
                BackupCommand.class,
                BackupsCommand.class,
                ExpireCommand.class,
                CatalogCommand.class,
                TokenCommand.class,
                RepoCommand.class,
                WalInspectCommand.class,
                InfoCommand.class,
                VerifyCommand.class,
                RecoverCommand.class,
                WalFetchCommand.class,
                CommandLine.HelpCommand.class
        })
public final class PgvaultCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("wal-fetch")) {
            // restore_command: skip the command-line framework, it costs PostgreSQL time on every segment.
            io.pgvault.restore.fetch.WalFetchMain.main(java.util.Arrays.copyOfRange(args, 1, args.length));
        }
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; tests run it in-process. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new PgvaultCommand());
        cl.setExitCodeExceptionMapper(ExitCodes::of);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("pgvault: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            if (e instanceof picocli.CommandLine.ParameterException) {
                commandLine.getErr().println("Try '" + commandLine.getCommandSpec().qualifiedName() + " --help'.");
            }
            return ExitCodes.of(e);
        });
        cl.setParameterExceptionHandler((e, args) -> {
            e.getCommandLine().getErr().println("pgvault: " + e.getMessage());
            e.getCommandLine().getErr().println("Try '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help'.");
            return ExitCodes.USAGE;
        });
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}

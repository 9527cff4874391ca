package io.pgvault.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
        description = "PostgreSQL WAL archive, base backups and point-in-time recovery.")
public final class PgvaultCommand implements Runnable {

    /**
     * The subcommands by name, in the order help lists them. Registered here rather than in the
     * annotation: see {@link #commandLine(String[])}. The names repeat each command's
     * {@code @Command(name)}: reading the annotations to find one loaded and parsed those of
     * every command (and their own subcommands), 30-40 ms of every run. PgvaultCommandTest
     * checks that each name is its command's.
     */
    private static final Map<String, Class<?>> SUBCOMMANDS = subcommands(
            "cluster", ClusterCommand.class,
            "check", CheckCommand.class,
            "backup", BackupCommand.class,
            "backups", BackupsCommand.class,
            "expire", ExpireCommand.class,
            "catalog", CatalogCommand.class,
            "token", TokenCommand.class,
            "repo", RepoCommand.class,
            "wal-inspect", WalInspectCommand.class,
            "info", InfoCommand.class,
            "verify", VerifyCommand.class,
            "recover", RecoverCommand.class,
            "wal-fetch", WalFetchCommand.class,
            "wal-push", WalPushCommand.class,
            "help", CommandLine.HelpCommand.class);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("wal-fetch")) {
            // restore_command: skip the command-line framework, it costs PostgreSQL time on every segment.
            io.pgvault.restore.fetch.WalFetchMain.main(java.util.Arrays.copyOfRange(args, 1, args.length));
        }
        if (args.length > 0 && args[0].equals("wal-push")) {
            // archive_command: likewise, once per WAL file.
            io.pgvault.cli.push.WalPushMain.main(java.util.Arrays.copyOfRange(args, 1, args.length));
        }
        System.exit(commandLine(args).execute(args));
    }

    /** The configured command line with every subcommand; tests run it in-process. */
    public static CommandLine commandLine() {
        return commandLine(new String[0]);
    }

    /**
     * The command line for these arguments: when the first names a subcommand, only that one is
     * built. picocli reads every option of every command it registers, through reflection,
     * before it parses anything: about 75 ms of each run for commands that are never used.
     * Anything else (help, a typo, no subcommand) gets them all, for help and error messages.
     */
    static CommandLine commandLine(String[] arguments) {
        String first = arguments.length > 0 ? arguments[0] : "";
        Class<?> named = first.equals("help") ? null : SUBCOMMANDS.get(first);
        CommandLine cl = new CommandLine(new PgvaultCommand());
        for (Class<?> subcommand : named == null ? SUBCOMMANDS.values() : List.of(named)) {
            cl.addSubcommand(subcommand);
        }
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

    private static Map<String, Class<?>> subcommands(Object... nameThenClass) {
        Map<String, Class<?>> byName = new LinkedHashMap<>();
        for (int i = 0; i < nameThenClass.length; i += 2) {
            byName.put((String) nameThenClass[i], (Class<?>) nameThenClass[i + 1]);
        }
        return Collections.unmodifiableMap(byName);
    }

    /** The subcommands' names, as {@link #commandLine(String[])} looks them up. */
    static Set<String> subcommandNames() {
        return SUBCOMMANDS.keySet();
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}

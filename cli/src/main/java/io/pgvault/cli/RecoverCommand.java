package io.pgvault.cli;

import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.RepositorySource;
import io.pgvault.core.storage.s3.S3Settings;
import io.pgvault.core.storage.server.BearerToken;
import io.pgvault.core.util.SecretFile;
import io.pgvault.core.util.ShellWords;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.restore.ClusterArchive;
import io.pgvault.restore.Recoverer;
import io.pgvault.restore.RecoveryPlanner;
import io.pgvault.restore.RecoveryTarget;
import io.pgvault.restore.fetch.PrefetchDaemon;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/** {@code pgvault recover}: a data directory from the repository alone, set up to recover to a target or to follow a primary. */
@Command(name = "recover", footerHeading = "%nExamples:%n",
        footer = {"  pgvault recover --repo s3://backups/prod --cluster main --pgdata /srv/pg/restore --target-time '2026-12-04 10:00:00+00' --target-action promote",
                "  pgvault recover --server http://pgvault:8432 --cluster main --pgdata /srv/pg/standby --standby --primary-conninfo 'host=db1 user=replicator'",
                "  pgvault recover --repo file:///srv/pgvault --cluster main --pgdata /srv/pg/restore --target immediate"},
        mixinStandardHelpOptions = true,
        description = {"Restore a backup from the repository into an empty directory and write the recovery settings "
                + "(point-in-time recovery, or a standby with --standby). Then start PostgreSQL on it.",
                "Before copying anything it picks the newest backup that can reach the target and refuses targets "
                        + "outside the recovery window, saying what the window is."})
final class RecoverCommand implements Callable<Integer> {


    @Mixin
    RepositoryOptions repository;

    @Mixin
    ServerSourceOptions via;

    @Option(names = "--cluster", required = true, description = "The cluster's name in pgvault.")
    String cluster;

    @Option(names = "--pgdata", required = true, description = "The new data directory (must be empty or absent).")
    Path pgdata;

    @ArgGroup(exclusive = true)
    Target target = new Target();

    static final class Target {
        @Option(names = "--target-time", description = "Stop at this time; give a zone, e.g. '2026-11-25 10:00:00+00'.")
        String time;
        @Option(names = "--target-lsn", description = "Stop at this WAL position, e.g. 0/5A3F2C8.")
        String lsn;
        @Option(names = "--target-xid", description = "Stop at the commit of this transaction (txid_current()).")
        String xid;
        @Option(names = "--target-name", description = "Stop at this restore point (pg_create_restore_point()).")
        String name;
        @Option(names = "--target", description = "immediate (the end of the backup) or latest (all archived WAL, the default). "
                + "Valid values: ${COMPLETION-CANDIDATES}.")
        TargetKeyword keyword;
    }

    /** The targets that name no point: picocli lists them in --help and refuses others as a usage error. */
    enum TargetKeyword { immediate, latest }

    /** What PostgreSQL does at the target (recovery_target_action). */
    enum TargetAction { promote, pause, shutdown }

    @Option(names = "--target-exclusive", description = "Stop just before the target instead of just after it.")
    boolean exclusive;

    @Option(names = "--target-timeline", description = "Timeline to recover along (default: the latest in the repository).")
    Long targetTimeline;

    @Option(names = "--target-action", description = "What PostgreSQL does once the target is reached: ${COMPLETION-CANDIDATES} "
            + "(PostgreSQL's default: pause).")
    TargetAction action;

    @Option(names = "--standby", description = "Seed a standby (standby.signal) instead of a point-in-time recovery.")
    boolean standby;

    @Option(names = "--primary-conninfo", description = "With --standby: how the standby connects to its primary.")
    String primaryConninfo;

    @Option(names = "--slot", description = "With --standby: the primary's replication slot to use.")
    String slot;

    @Option(names = "--keep-archiving", description = "Keep the backup's archive_mode; by default a point-in-time copy does not archive "
            + "into the cluster it came from (its new timeline would be followed by later recoveries).")
    boolean keepArchiving;

    @Option(names = "--parallel", defaultValue = "4", description = "Pieces fetched and unpacked at once (default ${DEFAULT-VALUE}).")
    int parallel;

    @Option(names = "--tablespace-map", description = "OLD=NEW: restore the tablespace at OLD into NEW (repeatable).")
    List<String> tablespaceMap = new ArrayList<>();

    @Option(names = "--spool", defaultValue = "pg_wal/pgvault-spool",
            description = "Where restore_command's prefetcher keeps segments, relative to the data directory (default ${DEFAULT-VALUE}).")
    String spool;

    @Option(names = "--no-prefetch", description = "restore_command fetches each segment itself (a JVM per segment).")
    boolean noPrefetch;

    @Option(names = "--fetch-retry", defaultValue = "60",
            description = "Seconds restore_command retries an unreachable repository before stopping recovery (default ${DEFAULT-VALUE}).")
    int fetchRetry;

    @Option(names = "--launcher", defaultValue = "${env:PGVAULT_LAUNCHER}",
            description = "The pgvault launcher restore_command runs (default: this one, env PGVAULT_LAUNCHER).")
    String launcher;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        RecoveryTarget recoveryTarget = recoveryTarget();
        if (!standby && (primaryConninfo != null || slot != null)) {
            throw new UsageException("--primary-conninfo and --slot seed a standby: add --standby");
        }
        if (launcher == null || launcher.isBlank()) {
            throw new UsageException("cannot tell where bin/pgvault is: run recover through bin/pgvault or give --launcher PATH");
        }
        Map<String, Path> tablespaces = new LinkedHashMap<>();
        for (String m : tablespaceMap) {
            int eq = m.indexOf('=');
            if (eq <= 0) {
                throw new UsageException("--tablespace-map '" + m + "': expected OLD=NEW");
            }
            tablespaces.put(m.substring(0, eq), Path.of(m.substring(eq + 1)).toAbsolutePath());
        }
        Path dataDirectory = pgdata.toAbsolutePath();
        secret = secret(dataDirectory);
        PrintWriter out = spec.commandLine().getOut();
        try (ObjectStore store = repository.open(via)) {
            // On an encrypted repository bin/pgvault has C2 compile the JDK's AES-GCM within a few calls (CipherJit).
            ClusterArchive archive = ClusterArchive.load(store, cluster);
            Recoverer recoverer = new Recoverer(dataDirectory, recoveryTarget, Optional.ofNullable(targetTimeline).map(TimelineId::new),
                    action == null ? null : action.name(), standby, primaryConninfo, slot, keepArchiving, parallel, tablespaces, restoreCommand());
            recoverer.run(archive, out, System.console() != null, new Prefetcher(dataDirectory, out));
        }
        out.flush();
        return 0;
    }

    /**
     * Writes what restore_command needs beside the data (the S3 credentials file) and starts
     * its prefetcher on the backup's first segment before the unpacking, so that its start-up
     * (a JVM and the repository's first answers: most of a second, seconds on S3) is over when
     * PostgreSQL first asks. The prefetcher runs only when this user owns the data directory,
     * i.e. is the user PostgreSQL will run as (never root): the spool must be theirs.
     */
    private final class Prefetcher implements Recoverer.Companion {
        private final Path dataDirectory;
        private final PrintWriter out;
        private ProcessHandle process;
        /** The secret file this run wrote, removed again if the restore fails. */
        private Path written;

        Prefetcher(Path dataDirectory, PrintWriter out) {
            this.dataDirectory = dataDirectory;
            this.out = out;
        }

        @Override
        public void start(RecoveryPlanner.Plan plan) throws IOException {
            Files.createDirectories(dataDirectory);
            if (secret != null) {
                if (secret.content() != null) {
                    try {
                        SecretFile.write(secret.file(), secret.content());
                    } catch (IOException e) {
                        throw new IllegalArgumentException("cannot write restore_command's secret beside the data directory, to " + secret.file()
                                + " (" + e + "): give " + secret.option() + " FILE, a file of your own (mode 0600) outside the data directory");
                    }
                    written = secret.file();
                }
                out.println("pgvault recover: restore_command reads its " + (via.given() ? "token" : "S3 keys") + " from " + secret.file()
                        + " (mode 0600, outside the data directory" + ("root".equals(System.getProperty("user.name"))
                        ? "; it must belong to the user PostgreSQL runs as, like the data directory)" : ")"));
            }
            String user = System.getProperty("user.name");
            if (noPrefetch || "root".equals(user) || !Files.getOwner(dataDirectory).getName().equals(user)) {
                return;
            }
            BackupManifest backup = plan.backup();
            WalFileName first = WalFileName.segmentOf(new TimelineId(backup.startTimeline()), Lsn.parse(backup.startLsn()),
                    new WalSegmentSize(backup.walSegmentSize()));
            process = PrefetchDaemon.startFor(dataDirectory, walFetchOptions(), Path.of(spool), first).orElse(null);
            if (process != null) {
                out.println("pgvault recover: restore_command's prefetcher is starting, to fetch from " + first + " on (it stops after "
                        + PrefetchDaemon.IDLE.toMinutes() + " minutes if PostgreSQL is not started)");
            }
        }

        @Override
        public void stop() {
            if (written != null) {
                try {
                    Files.deleteIfExists(written);
                } catch (IOException e) {
                    // the restore's failure is what the DBA needs to see
                }
            }
            if (process != null) {
                // Before the data directory is cleared: it must not write into it afterwards.
                process.destroy();
                try {
                    process.onExit().get(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    // it stops on its own once the data directory is gone
                }
            }
        }
    }

    /**
     * A file restore_command reads a secret from, named by {@code option}: one the DBA keeps
     * ({@code content} null), or one recover writes beside the data directory, never inside it
     * (every later base backup of the cluster would copy it) and never in restore_command itself
     * (any SQL role can read it) or in an argument (any local user can).
     */
    record Secret(String option, Path file, String content) {
    }

    Secret secret;

    Secret secret(Path dataDirectory) {
        Secret found = null;
        if (via.given()) {
            String token = via.token();  // reads and checks a --token-file now, before anything is restored
            if (via.tokenFile != null && !via.tokenFile.toString().isBlank()) {
                found = new Secret("--token-file", via.tokenFile.toAbsolutePath(), null);
            } else if (token != null) {
                found = new Secret("--token-file", beside(dataDirectory, ".pgvault-token"), BearerToken.fileContent(token));
            }
        } else if (repository.source().isS3()) {
            RepositorySource source = repository.source();
            if (source.s3CredentialsFile() != null) {
                found = new Secret("--s3-credentials-file", source.s3CredentialsFile(), null);
            } else if (source.hasInlineKeys()) {
                found = new Secret("--s3-credentials-file", beside(dataDirectory, ".pgvault-s3.credentials"),
                        S3Settings.credentialsFileContent(source.s3AccessKey(), source.s3SecretKey()));
            }
        }
        if (repository.keyFile() != null && SecretFile.isInside(repository.keyFile(), dataDirectory)) {
            throw new IllegalArgumentException("--key-file " + repository.keyFile() + " is inside the data directory " + dataDirectory
                    + ", where every base backup of the recovered cluster would copy the repository's key: keep it elsewhere");
        }
        if (found != null && SecretFile.isInside(found.file(), dataDirectory)) {
            throw new IllegalArgumentException(found.option() + " " + found.file() + " is inside the data directory " + dataDirectory
                    + ", where every base backup of the recovered cluster would copy it: keep it elsewhere");
        }
        return found;
    }

    private static Path beside(Path dataDirectory, String suffix) {
        return dataDirectory.resolveSibling(dataDirectory.getFileName() + suffix);
    }

    private RecoveryTarget recoveryTarget() {
        boolean inclusive = !exclusive;
        if (target.time != null) {
            return RecoveryTarget.time(target.time, inclusive);
        } else if (target.lsn != null) {
            return RecoveryTarget.lsn(target.lsn, inclusive);
        } else if (target.xid != null) {
            return RecoveryTarget.xid(target.xid, inclusive);
        } else if (target.name != null) {
            return RecoveryTarget.name(target.name, inclusive);
        }
        return target.keyword == TargetKeyword.immediate ? RecoveryTarget.immediate() : RecoveryTarget.latest();
    }

    /** wal-fetch against the same repository; relative paths resolve in the data directory, where PostgreSQL runs it. */
    String restoreCommand() {
        List<String> args = new ArrayList<>(List.of(launcher, "wal-fetch"));
        args.addAll(walFetchOptions());
        return shellWords(args);
    }

    /** wal-fetch's options, without the file names. */
    private List<String> walFetchOptions() {
        List<String> args = new ArrayList<>();
        boolean viaServer = via.given();
        if (viaServer) {
            args.addAll(List.of("--server", via.server));
            if (secret != null) {
                args.addAll(List.of(secret.option(), secret.file().toString()));
            }
        } else {
            // The same source as this run read, S3 keys moved to the file beside the data directory.
            args.addAll(repository.source().withCredentialsFile(secret == null ? null : secret.file()).arguments());
        }
        args.addAll(List.of("--cluster", cluster));
        if (!noPrefetch) {
            args.addAll(List.of("--spool", spool));
        }
        if (viaServer && via.caCert() != null) {
            args.addAll(List.of("--cacert", via.caCert().toAbsolutePath().toString()));
        }
        if (repository.keyFile() != null) {
            // The file's name only: the key stays where the DBA keeps it, readable by PostgreSQL's OS user.
            args.addAll(List.of("--key-file", repository.keyFile().toString()));
        }
        args.addAll(List.of("--retry-for", Integer.toString(fetchRetry)));
        if (targetTimeline != null) {
            args.addAll(List.of("--target-timeline", Long.toString(targetTimeline)));
        }
        return args;
    }

    /**
     * Words for the shell PostgreSQL runs restore_command with, after it has replaced
     * {@code %f}, {@code %p} and {@code %%}: so a {@code %} of our own is doubled.
     */
    static String shellWords(List<String> args) {
        StringBuilder command = new StringBuilder();
        for (String a : args) {
            command.append(ShellWords.quote(a).replace("%", "%%")).append(' ');
        }
        return command.append("%f %p").toString();
    }
}

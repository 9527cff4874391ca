package io.pgvault.restore.fetch;

import io.pgvault.core.archive.WalSource;
import io.pgvault.core.repo.UnsupportedFormatException;
import io.pgvault.core.storage.StorageUnavailableException;
import io.pgvault.core.util.Backoff;
import io.pgvault.core.wal.WalFileName;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code pgvault wal-fetch}: PostgreSQL's {@code restore_command}. A plain {@code main}
 * (no command-line framework) because it runs once per segment; with {@code --spool}
 * most calls never get here: {@code bin/pgvault} starts {@link PrefetchDaemon}, moves the
 * files it fills ahead of recovery out of the spool, and only a miss starts a JVM.
 *
 * <p>Exit codes follow what PostgreSQL does with them: 0 restored; 1 not archived, which
 * ends archive recovery; during archive recovery any failure (unreachable repository,
 * damaged object, bad arguments) exits {@value #RECOVERY_FAILURE} after bounded retries,
 * a code PostgreSQL treats as fatal, so it stops instead of promoting on a partial
 * history; a standby ({@code standby.signal}) gets {@value #STANDBY_FAILURE} and simply
 * tries again later.
 */
public final class WalFetchMain {

    public static final int RESTORED = 0;
    public static final int NOT_ARCHIVED = 1;
    public static final int STANDBY_FAILURE = 3;
    public static final int RECOVERY_FAILURE = 200;

    private WalFetchMain() {
    }

    public static void main(String[] args) {
        System.exit(run(List.of(args), System.getenv(), System.err, Path.of("").toAbsolutePath()));
    }

    /** @param dataDirectory where PostgreSQL runs the command: its data directory */
    public static int run(List<String> args, Map<String, String> env, PrintStream err, Path dataDirectory) {
        if (args.contains("--help") || args.contains("-h")) {
            err.println(WalFetchOptions.USAGE);
            return RESTORED;
        }
        boolean standby = Files.exists(dataDirectory.resolve("standby.signal"));
        boolean recovering = standby || Files.exists(dataDirectory.resolve("recovery.signal"));
        int failure = standby ? STANDBY_FAILURE : recovering ? RECOVERY_FAILURE : NOT_ARCHIVED;
        WalFetchOptions options;
        WalFileName name;
        try {
            options = WalFetchOptions.parse(args, env);
            name = WalFileName.parse(options.fileName());
        } catch (IllegalArgumentException e) {
            err.println("pgvault wal-fetch: " + e.getMessage());
            err.println(WalFetchOptions.USAGE);
            return failure;
        }
        if (name.neverArchived()) {
            return NOT_ARCHIVED;
        }
        Path target = dataDirectory.resolve(options.target());
        // The spool serves PostgreSQL's recovery only (its prefetcher waits for the signal file), as in bin/pgvault.
        Optional<PrefetchSpool> spool = Optional.ofNullable(options.spool()).filter(s -> recovering).map(dataDirectory::resolve)
                .map(PrefetchSpool::new);
        try {
            // What bin/pgvault moves without a JVM, in case the launcher was bypassed or gave up waiting.
            if (spool.isPresent() && spool.get().take(name, target)) {
                return RESTORED;
            }
        } catch (IOException e) {
            err.println("pgvault wal-fetch: the spool " + spool.get().directory() + " is unusable (" + e.getMessage() + "); fetching directly");
        }
        if (spool.isPresent() && name.kind() == WalFileName.Kind.SEGMENT) {
            // Tell the prefetcher (bin/pgvault starts it) where recovery is, in case the launcher was bypassed.
            try {
                spool.get().request(name);
            } catch (IOException e) {
                err.println("pgvault wal-fetch: cannot write to the spool " + spool.get().directory() + " (" + e.getMessage() + "); fetching directly");
            }
        }
        Instant deadline = Instant.now().plus(options.retryFor());
        Backoff backoff = new Backoff(Duration.ofMillis(250), Duration.ofSeconds(5));
        int attempt = 0;
        Exception last;
        try (WalSource source = options.openSource(true)) {
            WalFetcher fetcher = new WalFetcher(source, message -> err.println("pgvault wal-fetch: " + message));
            while (true) {
                try {
                    // Not archived (or only a head shorter than PostgreSQL's own copy): PostgreSQL reads pg_wal next.
                    return fetcher.fetch(name, target) == WalFetcher.Outcome.RESTORED ? RESTORED : NOT_ARCHIVED;
                } catch (UnsupportedFormatException e) {
                    last = e;
                    break;
                } catch (IOException | RuntimeException e) {
                    last = e;
                    Duration pause = backoff.delay(++attempt);
                    if (e instanceof StorageUnavailableException busy && busy.retryAfter().isPresent()
                            && busy.retryAfter().get().compareTo(pause) > 0) {
                        pause = busy.retryAfter().get(); // what a server at its limits asked for
                    }
                    Duration left = Duration.between(Instant.now(), deadline);
                    if (left.isNegative() || left.isZero()) {
                        break;
                    }
                    if (pause.compareTo(left) > 0) {
                        pause = left; // one last try at the deadline rather than none
                    }
                    err.println("pgvault wal-fetch: " + name + ": " + e.getMessage() + "; retrying in " + pause.toMillis() + " ms");
                    Thread.sleep(pause.toMillis());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            last = e;
        } catch (IOException | RuntimeException e) {
            last = e;
        }
        err.println("pgvault wal-fetch: could not restore " + name + " for " + options.retryFor().toSeconds() + " s: " + last.getMessage());
        if (failure == RECOVERY_FAILURE) {
            err.println("pgvault wal-fetch: exiting with " + RECOVERY_FAILURE + " so that PostgreSQL stops recovery here instead of ending it "
                    + "early on a partial history; once the repository is readable again, start PostgreSQL and recovery resumes");
        }
        return failure;
    }
}

package io.pgvault.cli.push;

import io.pgvault.core.util.Backoff;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * {@code pgvault wal-push}: PostgreSQL's {@code archive_command}. A plain {@code main} (no
 * command-line framework) because it runs once per WAL file. With {@code --spool}, most calls
 * never get here: {@code bin/pgvault} starts {@link PushAheadDaemon} and answers from its spool;
 * this runs for a file the pusher has not stored (refused, not yet pushed in the time a call
 * waits, or no pusher) and pushes it itself.
 *
 * <p>Exit codes: 0 only once the server has the file durably (stored now, or already stored
 * with the same content); 1 otherwise, with the reason on stderr (PostgreSQL's log), after
 * retrying an unreachable or busy server for {@code --retry-for}. PostgreSQL keeps the file and
 * calls again. Never a code above 125, which would stop PostgreSQL's archiver process.
 */
public final class WalPushMain {

    public static final int STORED = 0;
    public static final int NOT_STORED = 1;

    private WalPushMain() {
    }

    public static void main(String[] args) {
        System.exit(run(List.of(args), System.getenv(), System.err, Path.of("").toAbsolutePath()));
    }

    /** @param dataDirectory where PostgreSQL runs the command: its data directory */
    public static int run(List<String> args, Map<String, String> env, PrintStream err, Path dataDirectory) {
        if (args.size() == 1 && (args.get(0).equals("--help") || args.get(0).equals("-h"))) {
            // Not 0 even so: as archive_command, nothing but the server's acknowledgement may report a file stored.
            err.println(WalPushOptions.USAGE);
            return NOT_STORED;
        }
        WalPushOptions options;
        try {
            options = WalPushOptions.parse(args, env, true);
        } catch (IllegalArgumentException e) {
            err.println("pgvault wal-push: " + e.getMessage());
            err.println(WalPushOptions.USAGE);
            return NOT_STORED;
        }
        Path file = dataDirectory.resolve(options.file());
        String name = file.getFileName().toString();
        if (options.spool() != null) {
            // What bin/pgvault answers without a JVM, in case the launcher was bypassed or gave up waiting.
            PushSpool spool = new PushSpool(dataDirectory.resolve(options.spool()));
            // What the launcher also checks: a spool that is not this user's own directory answers nothing.
            PushSpool.Answer answer = spool.answer(name, PushSpool.stamp(args.subList(0, args.size() - 1), env));
            if (answer == PushSpool.Answer.PUSHED) {
                return STORED;
            }
        }
        if (!Files.isRegularFile(file)) {
            err.println("pgvault wal-push: " + file + " is not a file: archive_command passes %p, the WAL file's path relative to the "
                    + "data directory");
            return NOT_STORED;
        }
        Instant deadline = Instant.now().plus(options.retryFor());
        Backoff backoff = new Backoff(Duration.ofMillis(250), Duration.ofSeconds(5));
        int attempt = 0;
        try (WalPusher pusher = new WalPusher(options)) {
            while (true) {
                WalPusher.Outcome outcome = pusher.push(file);
                switch (outcome.kind()) {
                    case STORED -> {
                        return STORED;
                    }
                    case REFUSED -> {
                        err.println("pgvault wal-push: " + name + " was not stored: " + outcome.message());
                        return NOT_STORED;
                    }
                    case RETRY -> {
                        Duration pause = backoff.delay(++attempt);
                        if (outcome.retryAfter().isPresent() && outcome.retryAfter().get().compareTo(pause) > 0) {
                            pause = outcome.retryAfter().get(); // what a server at its limits asked for
                        }
                        Duration left = Duration.between(Instant.now(), deadline);
                        if (left.isNegative() || left.isZero()) {
                            err.println("pgvault wal-push: " + name + " was not stored in " + options.retryFor().toSeconds() + " s: "
                                    + outcome.message() + "; PostgreSQL keeps it and calls again");
                            return NOT_STORED;
                        }
                        pause = pause.compareTo(left) > 0 ? left : pause;
                        err.println("pgvault wal-push: " + name + ": " + outcome.message() + "; retrying in " + pause.toMillis() + " ms");
                        Thread.sleep(pause.toMillis());
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("pgvault wal-push: interrupted; " + name + " was not stored");
            return NOT_STORED;
        }
    }
}

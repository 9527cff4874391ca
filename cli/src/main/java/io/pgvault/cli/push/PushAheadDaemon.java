package io.pgvault.cli.push;

import io.pgvault.core.util.Backoff;
import io.pgvault.core.wal.WalFileName;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchService;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The push-ahead pusher behind {@code pgvault wal-push --spool}: it sends every WAL file
 * PostgreSQL has marked ready for archiving ({@code archive_status/NAME.ready}), oldest first,
 * {@code --parallel} at a time, and states in the {@link PushSpool} each one the server has
 * stored. When PostgreSQL's archiver, which calls archive_command for one file at a time, gets
 * to a file the pusher has stored, the call returns at once without a JVM. Under a backlog
 * (a burst of writes, a server that was away) the archiver no longer waits for each file's
 * upload in turn.
 *
 * <p>Started by {@code bin/pgvault} with the call's options (without {@code %p}), in the data
 * directory, detached from PostgreSQL; it owns the spool for its life and ends once nothing has
 * been ready for {@link #IDLE_EXIT}, when its WAL directory or spool goes (a data directory
 * removed or restored), when the server refuses its token, or on SIGTERM. Nothing it does can
 * make PostgreSQL drop a file that is not stored: it only ever states what the server
 * acknowledged as durable.
 */
public final class PushAheadDaemon {

    /** How long the pusher stays once nothing is ready; the next call starts another. */
    static final Duration IDLE_EXIT = Duration.ofSeconds(60);
    /** How long a refused file waits before it is pushed again (the call in between pushes it itself and logs why). */
    static final Duration REFUSED_AGAIN = Duration.ofSeconds(10);
    /** How often archive_status is listed even without an event from the kernel. */
    private static final Duration LOOK_EVERY = Duration.ofMillis(200);

    private final WalPushOptions options;
    private final PushSpool.Owner owner;
    private final Path walDirectory;
    private final Path status;
    private final PrintStream log;
    private final Backoff backoff = new Backoff(Duration.ofMillis(200), Duration.ofSeconds(10));
    /** Wakes the loop: a new ready file (from the watch thread) or a finished push. */
    private final LinkedBlockingQueue<Boolean> wakeups = new LinkedBlockingQueue<>();
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    private final Set<String> stored = ConcurrentHashMap.newKeySet();
    private final Map<String, Instant> notBefore = new ConcurrentHashMap<>();
    private final Map<String, Integer> attempts = new ConcurrentHashMap<>();
    private volatile boolean credentialsRefused;
    /** Whether pushes first name the file by its SHA-256 (see {@link WalPusher#push(Path, boolean)}). */
    private volatile boolean byReference;

    PushAheadDaemon(WalPushOptions options, PushSpool.Owner owner, Path walDirectory, PrintStream log) {
        this.options = options;
        this.owner = owner;
        this.walDirectory = walDirectory;
        this.status = walDirectory.resolve("archive_status");
        this.log = log;
    }

    public static void main(String[] args) {
        System.exit(run(List.of(args), System.getenv(), Path.of("").toAbsolutePath(), System.out));
    }

    /** @param dataDirectory where the call that started it ran: the data directory */
    static int run(List<String> args, Map<String, String> env, Path dataDirectory, PrintStream log) {
        WalPushOptions options;
        try {
            options = WalPushOptions.parse(args, env, false);
        } catch (IllegalArgumentException e) {
            log.println(now() + " pgvault push-ahead: " + e.getMessage());
            return 2;
        }
        if (options.spool() == null) {
            log.println(now() + " pgvault push-ahead: --spool DIR is required");
            return 2;
        }
        PushSpool spool = new PushSpool(dataDirectory.resolve(options.spool()));
        Optional<PushSpool.Owner> owner;
        try {
            owner = spool.acquire(PushSpool.stamp(args, env));
        } catch (IOException e) {
            log.println(now() + " pgvault push-ahead: cannot use the spool " + spool.directory() + ": " + e.getMessage());
            return 1;
        }
        if (owner.isEmpty()) {
            return 0; // another pusher owns it (two calls raced to start one)
        }
        Runtime.getRuntime().addShutdownHook(new Thread(owner.get()::close, "pgvault-push-withdraw"));
        log.println(now() + " pgvault push-ahead: pushing ready WAL files of " + dataDirectory.resolve(options.walDirectory()) + " to cluster '"
                + options.cluster() + "' at " + options.server() + ", " + options.parallel() + " at a time");
        try (PushSpool.Owner held = owner.get()) {
            new PushAheadDaemon(options, held, dataDirectory.resolve(options.walDirectory()), log).loop();
        } catch (IOException | RuntimeException e) {
            log.println(now() + " pgvault push-ahead: stopped: " + e);
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    private void loop() throws IOException, InterruptedException {
        ExecutorService workers = Executors.newFixedThreadPool(options.parallel(), r -> {
            Thread t = new Thread(r, "pgvault-push");
            t.setDaemon(true);
            return t;
        });
        try (WalPusher pusher = new WalPusher(options); WatchService watch = walDirectory.getFileSystem().newWatchService()) {
            status.register(watch, StandardWatchEventKinds.ENTRY_CREATE);
            Thread watcher = new Thread(() -> forwardEvents(watch), "pgvault-push-watch");
            watcher.setDaemon(true);
            watcher.start();
            Instant busy = Instant.now();
            while (true) {
                if (credentialsRefused) {
                    log.println(now() + " pgvault push-ahead: the server refused the token; stopping (the next call starts a pusher that "
                            + "reads the token file again)");
                    return;
                }
                if (!owner.stillOwned() || !Files.isDirectory(status)) {
                    log.println(now() + " pgvault push-ahead: the spool or the WAL directory is gone (a data directory removed or "
                            + "restored?); stopping");
                    return;
                }
                List<String> ready = readyFiles();
                Set<String> readySet = Set.copyOf(ready);
                owner.forgetAllBut(readySet);
                stored.retainAll(readySet);
                notBefore.keySet().retainAll(readySet);
                attempts.keySet().retainAll(readySet);
                Instant now = Instant.now();
                for (String name : ready) {
                    if (inFlight.size() >= options.parallel()) {
                        break;
                    }
                    if (stored.contains(name) || inFlight.contains(name) || notBefore.getOrDefault(name, Instant.MIN).isAfter(now)) {
                        continue;
                    }
                    inFlight.add(name);
                    workers.execute(() -> push(pusher, name));
                }
                if (!inFlight.isEmpty() || !stored.containsAll(readySet)) {
                    busy = now;
                } else if (Duration.between(busy, now).compareTo(IDLE_EXIT) > 0) {
                    log.println(now() + " pgvault push-ahead: nothing ready for " + IDLE_EXIT.toSeconds() + " s; stopping");
                    return;
                }
                wakeups.poll(LOOK_EVERY.toMillis(), TimeUnit.MILLISECONDS);
                wakeups.clear();
            }
        } finally {
            workers.shutdownNow();
            workers.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    private void forwardEvents(WatchService watch) {
        try {
            while (true) {
                var key = watch.take();
                key.pollEvents();
                key.reset();
                wakeups.offer(Boolean.TRUE);
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // the loop ended
        }
    }

    /** The WAL files PostgreSQL has marked ready, in the order its archiver takes them: history files first, then oldest first. */
    List<String> readyFiles() throws IOException {
        List<String> ready = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(status, "*.ready")) {
            for (Path f : files) {
                String marker = f.getFileName().toString();
                String name = marker.substring(0, marker.length() - ".ready".length());
                if (WalFileName.tryParse(name).isPresent()) {
                    ready.add(name);
                }
            }
        }
        ready.sort(Comparator.comparing((String n) -> !n.endsWith(".history")).thenComparing(Comparator.naturalOrder()));
        return ready;
    }

    private void push(WalPusher pusher, String name) {
        try {
            WalPusher.Outcome outcome = pusher.push(walDirectory.resolve(name), byReference);
            if (outcome.kind() == WalPusher.Outcome.Kind.STORED) {
                // A duplicate suggests the cluster also streams and the next files are stored already: name them by reference
                // until one is not.
                byReference = outcome.duplicate();
            }
            switch (outcome.kind()) {
                case STORED -> {
                    owner.pushed(name);
                    stored.add(name);
                    attempts.remove(name);
                }
                case REFUSED -> {
                    owner.refused(name, outcome.message());
                    notBefore.put(name, Instant.now().plus(REFUSED_AGAIN));
                    int refusals = attempts.merge(name, 1, Integer::sum);
                    if (refusals == 1 || refusals % 30 == 0) {
                        log.println(now() + " pgvault push-ahead: " + name + " refused (" + refusals + " times): " + outcome.message());
                    }
                    if (outcome.credentialsRefused()) {
                        // The token file may have been replaced since it was read: the next call starts an owner that reads it again.
                        credentialsRefused = true;
                        wakeups.offer(Boolean.TRUE);
                    }
                }
                case RETRY -> {
                    int attempt = attempts.merge(name, 1, Integer::sum);
                    Duration pause = backoff.delay(attempt);
                    if (outcome.retryAfter().isPresent() && outcome.retryAfter().get().compareTo(pause) > 0) {
                        pause = outcome.retryAfter().get();
                    }
                    notBefore.put(name, Instant.now().plus(pause));
                    if (attempt == 1 || attempt % 10 == 0) {
                        log.println(now() + " pgvault push-ahead: " + name + ": " + outcome.message() + " (attempt " + attempt + ")");
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            notBefore.put(name, Instant.now().plus(backoff.max()));
            log.println(now() + " pgvault push-ahead: " + name + ": cannot write to the spool: " + e);
        } finally {
            inFlight.remove(name);
            wakeups.offer(Boolean.TRUE);
        }
    }

    private static String now() {
        return LocalDateTime.now().truncatedTo(ChronoUnit.MILLIS).toString();
    }
}

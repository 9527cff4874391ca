package io.pgvault.restore.fetch;

import io.pgvault.core.process.ProcessIdentity;
import io.pgvault.core.archive.WalSource;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.TimelineHistory;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Keeps the next segments PostgreSQL will ask for ready in a spool directory, verified,
 * so that {@code restore_command} only moves a file (no JVM, no network).
 *
 * <p>Started by {@code bin/pgvault} on the first call with a spool, detached from
 * PostgreSQL's process group (setsid) so its signals to restore_command do not reach it. It follows the launcher's record of the last requested
 * segment ({@code .requested}), predicts the next ones on the timeline recovery follows
 * (reading the history files, as PostgreSQL picks the newest timeline that has a
 * segment), drops what a timeline switch or a jump made wrong, and exits when recovery
 * ends (no {@code recovery.signal}/{@code standby.signal} left), when nobody asked for
 * anything for {@link #IDLE}, or when another prefetcher holds the spool's lock.
 *
 * <p>It also answers "not archived" without a JVM: a file found absent gets an
 * {@code .absent} marker, re-checked every {@link #ABSENT_RETRY} while it is wanted and
 * removed when the check fails or the file appears; and it keeps the cluster's timeline
 * history files in the spool, with an {@code .absent} marker for each timeline up to the
 * next one that has none (PostgreSQL probes the next timeline's at the start and end of
 * recovery, and asks for the parent's, timeline 1's too, when it picks a new timeline).
 * Each such call used to start a
 * JVM (0.4 s on a local repository, 3 s on S3): at the end of every recovery, and every
 * 5 s on a standby that waits for the next segment. A segment PostgreSQL asks for again
 * after taking it (the last one, re-read when recovery ends) is fetched again on bin/pgvault's
 * {@code .again} marker.
 *
 * <p>Every file it writes in the spool, and what each means to a call, belongs to
 * {@link PrefetchSpool} (docs/spool-protocol.md): markers count only while this process runs.
 */
public final class PrefetchDaemon {

    public static final Duration IDLE = Duration.ofMinutes(2);
    /**
     * The spool's room: with large segments fewer are kept ahead than {@code --prefetch} asks
     * (16 MiB: 8 of 8; 128 MiB: 4; 1 GiB: 1), so a recovery with 1 GiB segments does not put
     * 9 GiB into pg_wal.
     */
    static final long AHEAD_BYTES = 512L << 20;
    /**
     * The shell prefix bin/pgvault starts background work with (see LOW_PRIORITY there): across
     * sessions the kernel shares the CPU by autogroup, not by nice value, so the session's
     * autogroup is niced too.
     */
    private static final String LOW_PRIORITY = "{ echo 10 > /proc/self/autogroup; } 2>/dev/null; exec nice -n 10";
    private static final Duration ABSENT_RETRY = Duration.ofSeconds(1);
    private static final Duration HISTORY_RECHECK = Duration.ofSeconds(1);

    private final WalFetchOptions options;
    private final PrefetchSpool.Owner spool;
    private final Path dataDirectory;
    private final ObjectStore store;
    private final WalSource source;
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    /** Files put in the spool: not fetched again once PostgreSQL took them. */
    private final Set<String> delivered = ConcurrentHashMap.newKeySet();
    /** Segments found absent, by name: nothing after them is fetched until then. */
    private final Map<String, Instant> absentUntil = new ConcurrentHashMap<>();
    private final SegmentForecast forecast;
    /** PostgreSQL's default until the cluster's descriptor is read; only the first request is fetched before that. */
    private WalSegmentSize segmentSize = WalSegmentSize.DEFAULT;
    private Instant historiesCheckedAt = Instant.EPOCH;
    private final Instant started = Instant.now();
    /** Whether a recovery.signal or standby.signal has been seen: {@code recover} starts this before writing them. */
    private boolean recoverySeen;
    /** The cluster's timeline histories, read once each into the spool (the loop's thread only). */
    private final Map<TimelineId, TimelineHistory> histories = new HashMap<>();

    private PrefetchDaemon(WalFetchOptions options, PrefetchSpool.Owner spool, Path dataDirectory, WalSource source, ObjectStore store) {
        this.forecast = new SegmentForecast(options.targetTimeline(), () -> histories);
        this.options = options;
        this.spool = spool;
        this.dataDirectory = dataDirectory;
        this.source = source;
        this.store = store;
    }

    public static void main(String[] args) throws Exception {
        List<String> list = new ArrayList<>(List.of(args));
        int at = list.indexOf("--spool");
        Path spool = Path.of(list.get(at + 1)).toAbsolutePath();
        WalFetchOptions options = WalFetchOptions.parse(list, System.getenv(), false);
        Path dataDirectory = Path.of("").toAbsolutePath();
        Optional<PrefetchSpool.Owner> owner = new PrefetchSpool(spool).acquire();
        if (owner.isEmpty()) {
            log("another prefetcher owns " + spool + " (or /proc cannot name this process): exiting");
            return;
        }
        // recover stops it with SIGTERM: withdraw (.pid first) as on a normal exit. kill -9 leaves .pid naming a dead process.
        Runtime.getRuntime().addShutdownHook(new Thread(owner.get()::close, "pgvault-prefetch-exit"));
        // The requested segment is marked pending already (before the repository is even opened: an S3 client takes a
        // while), so the call that started this waits for it. Only that one: the names after it need the segment size.
        try (PrefetchSpool.Owner spoolOwner = owner.get()) {
            // Segments, history files and the segment size all come from the one store.
            ObjectStore store = options.openStore();
            try (WalSource source = new WalSource(store, options.cluster(), false)) {
                PrefetchDaemon daemon = new PrefetchDaemon(options, spoolOwner, dataDirectory, source, store);
                daemon.start();
            }
        }
        System.exit(0);
    }

    /**
     * Starts a prefetcher for a data directory that PostgreSQL has not started on yet, as
     * bin/pgvault would on the first restore_command call, so the first segments are ready
     * when it asks: {@code recover} calls this before unpacking the backup (the prefetcher
     * waits for the recovery signal file). Detached in a session of its own, with the data
     * directory as working directory; it exits on its own when no request comes within {@link #IDLE}.
     *
     * <p>It is not this JVM's child: a shell starts it in the background and exits at once. A JVM
     * that exits while a child it started still runs waits 300 ms for its process reaper thread,
     * blocked in waitpid (HotSpot gives threads in native code that long to settle at exit):
     * that was a third of a second on every {@code recover}.
     *
     * @param options wal-fetch's options as restore_command passes them (relative paths resolve in the data directory)
     * @return the prefetcher, or empty when it could not be started (no setsid); restore_command then starts one
     */
    public static Optional<ProcessHandle> startFor(Path dataDirectory, List<String> options, Path spool, WalFileName first) throws IOException {
        Path dir = dataDirectory.resolve(spool);
        new PrefetchSpool(dir).request(first);
        String java = ProcessHandle.current().info().command().orElse("java");
        String classPath;
        try {
            classPath = Path.of(PrefetchDaemon.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException | SecurityException e) {
            return Optional.empty();
        }
        // A shell starts it in the background in a session of its own, prints its pid and exits at once: the prefetcher is
        // not this JVM's child. The pid is printed before that shell exits (a pid the prefetcher printed itself could
        // come after it, when the JDK has already closed the pipe). The prefetcher runs at low priority, as bin/pgvault
        // starts it: on a small box the unpacking and PostgreSQL's replay come first.
        String prefetcher = "log=$1; shift; " + LOW_PRIORITY + " \"$@\" </dev/null >>\"$log\" 2>&1";
        String launcher = "setsid sh -c \"$0\" sh \"$@\" </dev/null >/dev/null 2>&1 & echo $!";
        List<String> command = new ArrayList<>(List.of("sh", "-c", launcher, prefetcher, dir.resolve(PrefetchSpool.LOG).toString(),
                java, "-XX:+UseSerialGC", "-Xmx256m"));
        // It decrypts every segment of the replay on an encrypted repository.
        command.addAll(io.pgvault.core.crypto.CipherJit.JVM_OPTIONS);
        // The class data archive the build made beside the jar, as bin/pgvault uses it.
        Path classData = Path.of(classPath.replaceAll("\\.jar$", ".jsa"));
        if (classPath.endsWith(".jar") && Files.isRegularFile(classData)) {
            command.addAll(List.of("-XX:SharedArchiveFile=" + classData, "-Xlog:cds=off", "-Xlog:cds+dynamic=off"));
        }
        // The same JVM options bin/pgvault gives every pgvault JVM (a trust store, a proxy, ...).
        String javaOptions = System.getenv("PGVAULT_JAVA_OPTS");
        if (javaOptions != null && !javaOptions.isBlank()) {
            command.addAll(List.of(javaOptions.trim().split("\\s+")));
        }
        command.addAll(List.of("-cp", classPath, PrefetchDaemon.class.getName()));
        command.addAll(options);
        command.addAll(List.of("--spool", spool.toString()));
        Optional<Long> started = launchDetached(command, dataDirectory);
        if (started.isPresent()) {
            // So PostgreSQL's first call waits for this one rather than starting another (it may not own the spool yet).
            Optional<ProcessIdentity> identity = ProcessIdentity.of(started.get());
            if (identity.isPresent()) {
                try {
                    new PrefetchSpool(dir).starting(identity.get());
                } catch (IOException e) {
                    // Only spares a second JVM: the prefetcher may already own the spool (its clearing removes the
                    // half-written marker), and a call without it starts one that finds the spool taken and exits.
                }
            }
        }
        return started.flatMap(ProcessHandle::of);
    }

    /** Runs {@code command} (which starts a process in the background, prints its pid and exits) and returns that pid. */
    private static Optional<Long> launchDetached(List<String> command, Path workingDirectory) {
        Process launcher;
        try {
            launcher = new ProcessBuilder(command).directory(workingDirectory.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            return Optional.empty();
        }
        try (BufferedReader out = new BufferedReader(new InputStreamReader(launcher.getInputStream(), StandardCharsets.US_ASCII))) {
            String pid = out.readLine();
            launcher.waitFor();
            return pid == null || !pid.strip().matches("[0-9]{1,10}") ? Optional.empty() : Optional.of(Long.parseLong(pid.strip()));
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /**
     * Fetches the file PostgreSQL is waiting for at once (its name needs no prediction),
     * then reads the cluster's segment size and follows the requests.
     */
    private void start() throws IOException, InterruptedException {
        ExecutorService workers = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "pgvault-prefetch");
            t.setDaemon(true);
            return t;
        });
        Optional<WalFileName> first = spool.spool().requested();
        if (recoverySignalled() && first.isPresent() && !spool.holds(first.get().toString())) {
            inFlight.add(first.get().toString());
            workers.submit(() -> fetch(first.get()));
            // And the one after it on the other worker: a fresh JVM's first read of the descriptor takes 180 ms, which held back
            // every prediction, and PostgreSQL's second call waited 200-330 ms. Named with the default segment size, which
            // nearly every cluster has; the next name only differs at a log file's boundary, where a wrong guess costs one
            // fetch the loop then leaves unused.
            for (WalFileName next : guessedNext(first.get())) {
                if (!spool.holds(next.toString())) {
                    submitFetch(workers, next);
                }
            }
        }
        Long bytes = ClusterDescriptor.read(store, options.cluster()).map(ClusterDescriptor::walSegmentSize).orElse(null);
        segmentSize = bytes == null ? segmentSize : new WalSegmentSize(bytes);
        loop(workers);
    }

    /**
     * Fetches a predicted segment on a worker, marked {@code .pending} first: bin/pgvault waits for a file while its marker
     * exists, instead of starting a JVM.
     */
    private void submitFetch(ExecutorService workers, WalFileName name) throws IOException {
        inFlight.add(name.toString());
        spool.mark(PrefetchSpool.Marker.PENDING, name.toString());
        workers.submit(() -> fetch(name));
    }

    /** The segment after {@code requested} if the cluster has the default segment size; none if its name says it has not. */
    private List<WalFileName> guessedNext(WalFileName requested) {
        try {
            return forecast.after(requested, 1, segmentSize);
        } catch (IllegalArgumentException notThisSize) {
            return List.of();
        }
    }

    private void loop(ExecutorService workers) throws IOException, InterruptedException {
        log("prefetching " + ahead() + " segments ahead from " + source.describe() + " into " + spool.spool().directory());
        try {
            long lastBeat = 0;
            while (recoveryRunning() && !idle()) {
                // The heartbeat that makes this process's "not archived" count (PrefetchSpool.BEAT): written by this loop,
                // which also re-checks the markers, so a loop stuck in a repository call stops vouching for them.
                if (System.nanoTime() - lastBeat > PrefetchSpool.BEAT_INTERVAL_CS * 10_000_000L) {
                    spool.beat();
                    lastBeat = System.nanoTime();
                }
                refreshHistories();
                Optional<WalFileName> requested = spool.spool().requested();
                // Started by recover, before the backup is unpacked: ready (JVM, repository, histories) but not
                // fetching until the recovery signal file is written, so the unpacking has the machine to itself.
                if (requested.isPresent() && recoverySeen) {
                    boolean askedAgain = spool.askedAgain(requested.get().toString());
                    if (askedAgain && !spool.holds(requested.get().toString())) {
                        // Taken already (an ask that crossed the delivery keeps the spool's copy instead).
                        delivered.remove(requested.get().toString());
                    }
                    List<WalFileName> wanted = predict(requested.get());
                    List<WalFileName> keep = new ArrayList<>(wanted);
                    keep.add(requested.get());
                    dropUnwanted(keep);
                    for (WalFileName name : wanted) {
                        if (absentUntil.getOrDefault(name.toString(), Instant.EPOCH).isAfter(Instant.now())) {
                            // The archive ends here for now (a standby waits for the primary's next segment): nothing after it exists either.
                            break;
                        }
                        if (delivered.contains(name.toString()) || inFlight.contains(name.toString())) {
                            continue;
                        }
                        submitFetch(workers, name);
                    }
                    if (askedAgain) {
                        // After its .pending marker exists (or it is in the spool or marked absent): bin/pgvault waits for one of them.
                        spool.unmark(PrefetchSpool.Marker.AGAIN, requested.get().toString());
                    }
                }
                Thread.sleep(10);
            }
        } finally {
            workers.shutdownNow();
            log("stopping: " + (recoveryRunning() ? "nothing requested for " + IDLE.toSeconds() + " s" : "recovery has ended"));
        }
    }

    /**
     * Until recovery has ended: its signal file seen and then gone. {@code recover} starts
     * the prefetcher before it writes the signal file (the prefetcher's start-up then
     * overlaps the unpacking); if none appears within {@link #IDLE}, nothing will.
     */
    private boolean recoveryRunning() {
        return recoverySignalled() || !recoverySeen && Instant.now().isBefore(started.plus(IDLE));
    }

    /** Whether a recovery or standby signal file is there now (and notes that one was seen). */
    private boolean recoverySignalled() {
        boolean signalled = Files.exists(dataDirectory.resolve("recovery.signal")) || Files.exists(dataDirectory.resolve("standby.signal"));
        recoverySeen |= signalled;
        return signalled;
    }

    private boolean idle() throws IOException {
        Path file = spool.spool().directory().resolve(PrefetchSpool.REQUESTED);
        return !Files.exists(file) || Files.getLastModifiedTime(file).toInstant().plus(IDLE).isBefore(Instant.now());
    }

    private List<WalFileName> predict(WalFileName requested) throws IOException {
        List<WalFileName> wanted = new ArrayList<>();
        // The file asked for right now, unless it was already delivered (PostgreSQL may ask again after a retry).
        if (!delivered.contains(requested.toString())) {
            wanted.add(requested);
        }
        wanted.addAll(forecast.after(requested, ahead(), segmentSize));
        return wanted;
    }

    /** How many segments to keep ahead: {@code --prefetch}, fewer for large segments (see {@link #AHEAD_BYTES}), at least one. */
    int ahead() {
        return (int) Math.max(1, Math.min(options.prefetch(), AHEAD_BYTES / segmentSize.bytes()));
    }

    private void dropUnwanted(List<WalFileName> wanted) throws IOException {
        Set<String> keep = new HashSet<>();
        wanted.forEach(w -> keep.add(w.toString()));
        spool.dropSegmentsExcept(keep, inFlight).forEach(delivered::remove);
    }

    private void fetch(WalFileName name) {
        String file = name.toString();
        try {
            Optional<InputStream> in = source.open(name);
            if (in.isEmpty()) {
                absentUntil.put(file, Instant.now().plus(ABSENT_RETRY));
                if (source.hasStreamedHead(name)) {
                    // Not whole yet, but its streamed head is archived: wal-fetch serves that (it grows, so never from the spool).
                    spool.unmark(PrefetchSpool.Marker.ABSENT, file);
                } else {
                    // Written before .pending goes, so a waiting call sees one or the other.
                    spool.mark(PrefetchSpool.Marker.ABSENT, file);
                }
                return;
            }
            spool.store(file, in.get());
            delivered.add(file);
            spool.unmark(PrefetchSpool.Marker.ABSENT, file);
        } catch (IOException | RuntimeException e) {
            log("could not prefetch " + name + ": " + e.getMessage() + " (wal-fetch will fetch it itself)");
            absentUntil.put(file, Instant.now().plus(ABSENT_RETRY));
            try {
                // Unknown is not absent: wal-fetch itself retries, then stops recovery rather than end it early.
                spool.unmark(PrefetchSpool.Marker.ABSENT, file);
                spool.discardTemp(file);
            } catch (IOException ignored) {
                // the next pass overwrites it
            }
        } finally {
            inFlight.remove(file);
            try {
                spool.unmark(PrefetchSpool.Marker.PENDING, file);
            } catch (IOException ignored) {
                // bin/pgvault stops waiting after its bound
            }
        }
    }

    /**
     * Keeps every timeline history file of the cluster in the spool (and parsed, for the
     * forecast) and marks the missing ones up to the next timeline as absent, re-checked
     * every {@link #HISTORY_RECHECK}. History files never change once written, so one copy
     * each is enough; a failed check removes the markers.
     */
    private void refreshHistories() {
        if (Instant.now().isBefore(historiesCheckedAt.plus(HISTORY_RECHECK))) {
            return;
        }
        historiesCheckedAt = Instant.now();
        try {
            long newest = 1;
            List<WalFileName> present = new ArrayList<>();
            Set<Long> timelines = new HashSet<>();
            for (ObjectStat o : store.list(RepositoryLayout.walPrefix(options.cluster()) + "timelines/")) {
                Optional<WalFileName> name = WalFileName.tryParse(o.key().substring(o.key().lastIndexOf('/') + 1)).filter(WalFileName::isHistory);
                if (name.isPresent()) {
                    present.add(name.get());
                    timelines.add(name.get().timeline().value());
                    newest = Math.max(newest, name.get().timeline().value());
                }
            }
            // Absent: the next timeline's (probed when recovery ends) and every older one without a file, timeline 1's
            // above all (there never is one; PostgreSQL asks for the parent's history when it picks a new timeline).
            Set<String> absent = new HashSet<>();
            for (long t = 1; t <= newest + 1; t++) {
                if (!timelines.contains(t)) {
                    String name = WalFileName.history(new TimelineId(t)).toString();
                    spool.mark(PrefetchSpool.Marker.ABSENT, name);
                    absent.add(name);
                }
            }
            for (WalFileName history : present) {
                if (histories.containsKey(history.timeline())) {
                    continue;
                }
                Optional<InputStream> in = source.open(history);
                if (in.isPresent()) {
                    spool.store(history.toString(), in.get());
                    byte[] content = Files.readAllBytes(spool.spool().directory().resolve(history.toString()));
                    histories.put(history.timeline(), TimelineHistory.parse(history.timeline(), content));
                }
            }
            spool.unmarkAbsentHistoriesExcept(absent);
            spool.historiesChecked();
        } catch (IOException | RuntimeException e) {
            log("could not check the timeline history files: " + e.getMessage() + " (wal-fetch will look itself)");
            try {
                spool.unmarkAbsentHistoriesExcept(Set.of());
                // Nothing to wait for: bin/pgvault finds no marker and asks the repository itself.
                spool.historiesChecked();
            } catch (IOException ignored) {
                // bin/pgvault stops waiting after its bound; markers count only while this process runs
            }
        }
    }

    private static void log(String message) {
        System.out.println(Instant.now() + " " + message);
    }
}

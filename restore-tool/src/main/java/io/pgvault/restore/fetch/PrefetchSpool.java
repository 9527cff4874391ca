package io.pgvault.restore.fetch;

import io.pgvault.core.process.OwnedDirectory;
import io.pgvault.core.process.ProcessIdentity;
import io.pgvault.core.wal.WalFileName;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The prefetch spool: the directory where {@link PrefetchDaemon} keeps the WAL files
 * PostgreSQL will ask for next, and the one place that knows what each of its files means.
 * {@code bin/pgvault} reads it without a JVM by the same rules; they are written down in
 * {@code docs/spool-protocol.md}, which this class implements.
 *
 * <p>Two kinds of file, two rules:
 * <ul>
 *   <li>A WAL file under its own name is complete and verified: it was written under a temp
 *       name ({@code .NAME.tmp}), checked against the repository's checksum, flushed to disk
 *       and only then renamed. It is taken whoever wrote it, even after a crash.</li>
 *   <li>Everything else is a statement that goes stale ({@code NAME.pending},
 *       {@code NAME.absent}, {@code .histories}): it counts only while the prefetcher that
 *       wrote it runs, judged by {@link #ownerAlive()}: the process named in {@code .pid}
 *       exists, in this boot, with the start time it recorded. A pid reused after a crash has
 *       another start time; a reboot another boot id.</li>
 * </ul>
 * A new owner (see {@link #acquire}) holds {@code .lock} for its life (the kernel releases it
 * on kill -9), removes every leftover of the previous one, and only then publishes itself in
 * {@code .pid}; so a marker seen after a live owner was seen is that owner's.
 */
public final class PrefetchSpool {

    /** Per-file markers: an empty file named after the WAL file and a suffix. */
    public enum Marker {
        /** The prefetcher is fetching the file: a call waits for it (a bounded time). */
        PENDING(".pending"),
        /** The repository did not have the file at the last look (re-checked every second while wanted). */
        ABSENT(".absent"),
        /** Written by a call: the file it needs is neither here nor coming; the owner fetches it and removes this. */
        AGAIN(".again");

        private final String suffix;

        Marker(String suffix) {
            this.suffix = suffix;
        }

        public String suffix() {
            return suffix;
        }

        /** The WAL file a marker's name is about, if it is this kind of marker. */
        Optional<String> fileOf(String markerName) {
            return markerName.endsWith(suffix) ? Optional.of(markerName.substring(0, markerName.length() - suffix.length())) : Optional.empty();
        }
    }

    /** What a call may conclude about one WAL file from the spool alone. */
    public enum Answer {
        /** The file is here: move it. */
        READY,
        /** The live owner found it not archived: "not archived" without a JVM. */
        ABSENT,
        /** The live owner is fetching it (or was asked to): wait, a bounded time. */
        COMING,
        /** Nothing to go by (no live owner, or it knows nothing of the file): ask the repository. */
        UNKNOWN
    }

    /** The segment PostgreSQL asked for last, written by every call (bin/pgvault or WalFetchMain). */
    public static final String REQUESTED = ".requested";
    /** Written by the owner once the history files and their markers reflect the repository. */
    public static final String HISTORIES = ".histories";
    /** The owner's identity: {@code PID START_TIME BOOT_ID}, see {@link ProcessIdentity}. */
    public static final String OWNER = OwnedDirectory.OWNER;
    /**
     * A prefetcher on its way: {@code PID START_TIME BOOT_ID} of one {@code recover} started
     * (at low priority, so it may not own the spool yet when PostgreSQL first asks). A call that
     * finds no live owner but a live starter waits for it as for one it started itself, instead
     * of starting a second JVM. Removed by the owner once {@link #OWNER} is written. It states
     * nothing about any file.
     */
    public static final String STARTING = ".starting";
    /**
     * The owner's heartbeat: centiseconds since boot ({@code /proc/uptime}), rewritten by its
     * loop every {@link #BEAT_INTERVAL_CS}. An {@code .absent} marker counts only while the beat
     * is younger than {@link #BEAT_FRESH_CS}: an owner stuck in a repository call is alive but
     * no longer re-checks its markers, and "not archived" from it would end a recovery early.
     */
    public static final String BEAT = ".beat";
    /** How often the owner's loop rewrites {@link #BEAT}. */
    public static final long BEAT_INTERVAL_CS = 20;
    /** How old a beat may be for the owner's "not archived" to count (the shell uses the same figure). */
    public static final long BEAT_FRESH_CS = 150;
    /** Held (fcntl lock) by the owner for its life: one prefetcher per spool. */
    public static final String LOCK = OwnedDirectory.LOCK;
    /** The prefetcher's output, appended to by each run. */
    public static final String LOG = "prefetch.log";
    private static final String TEMP_SUFFIX = ".tmp";

    private final Path dir;
    private final OwnedDirectory owned;

    public PrefetchSpool(Path dir) {
        this.dir = dir;
        this.owned = new OwnedDirectory(dir, "restore_command");
    }

    public Path directory() {
        return dir;
    }

    /** The temp name a WAL file is written under before it is renamed to its own: never taken, removed by the next owner. */
    static String tempName(String fileName) {
        return "." + fileName + TEMP_SUFFIX;
    }

    // ---- what every call does (bin/pgvault does the same in shell) ----

    /**
     * Refuses a spool that is not this user's own directory (a link, or another user's): what
     * is in it is handed to PostgreSQL, or answers "not archived", so nobody else may write it.
     */
    public void checkOwnDirectory() throws IOException {
        owned.checkOwnDirectory();
    }

    /** Records the segment PostgreSQL asks for now: the owner follows it. */
    public void request(WalFileName name) throws IOException {
        Files.createDirectories(dir);
        checkOwnDirectory();
        Files.writeString(dir.resolve(REQUESTED), name + "\n", StandardCharsets.US_ASCII);
    }

    /** The last request, if it names a segment (a request being written reads as none: the owner reads it again 10 ms later). */
    public Optional<WalFileName> requested() {
        try {
            String text = Files.readString(dir.resolve(REQUESTED), StandardCharsets.US_ASCII).strip();
            return WalFileName.tryParse(text).filter(n -> n.kind() == WalFileName.Kind.SEGMENT);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Whether the prefetcher named in {@code .pid} runs (see the class comment). */
    public boolean ownerAlive() {
        return owned.ownerAlive();
    }

    /**
     * What the spool says about {@code name}, by the trust rules: a file is ready whoever wrote
     * it; markers count only when the owner was seen alive before they were read.
     */
    public Answer answer(WalFileName name) {
        String file = name.toString();
        if (Files.isRegularFile(dir.resolve(file))) {
            return Answer.READY;
        }
        if (!ownerAlive()) {
            return Answer.UNKNOWN;
        }
        boolean pending = has(Marker.PENDING, file);
        if (name.isHistory()) {
            return Files.exists(dir.resolve(HISTORIES)) && has(Marker.ABSENT, file) && beatFresh() ? Answer.ABSENT
                    : Files.exists(dir.resolve(HISTORIES)) ? Answer.UNKNOWN : Answer.COMING;
        }
        if (has(Marker.ABSENT, file) && !pending && beatFresh()) {
            return Answer.ABSENT;
        }
        return pending || has(Marker.AGAIN, file) ? Answer.COMING : Answer.UNKNOWN;
    }

    /** Whether the owner's loop beat within {@link #BEAT_FRESH_CS} (by the boot clock, as the shell reads it). */
    boolean beatFresh() {
        try {
            long beat = Long.parseLong(Files.readString(dir.resolve(BEAT), StandardCharsets.US_ASCII).strip());
            long now = bootClockCentis();
            return now >= beat && now - beat < BEAT_FRESH_CS;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Centiseconds since boot, from {@code /proc/uptime}: the clock the shell reads without a fork. */
    static long bootClockCentis() throws IOException {
        String uptime = Files.readString(Path.of("/proc/uptime"), StandardCharsets.US_ASCII).strip().split("\\s+")[0];
        int dot = uptime.indexOf('.');
        return Long.parseLong(uptime.substring(0, dot)) * 100 + Long.parseLong((uptime.substring(dot + 1) + "00").substring(0, 2));
    }

    /** Asks the owner for a segment that is neither here nor coming (one it delivered before, or one it has not got to). */
    public void ask(WalFileName name) throws IOException {
        Files.write(dir.resolve(name + Marker.AGAIN.suffix()), new byte[0]);
    }

    /**
     * Moves {@code name} from the spool to {@code target} (PostgreSQL's {@code %p}); a history
     * file is linked, so the spool keeps it for the next time PostgreSQL asks. The file appears
     * at {@code target} whole or not at all, also when the spool is on another file system.
     *
     * @return false when the spool does not have it (or another call took it first)
     */
    public boolean take(WalFileName name, Path target) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        checkOwnDirectory();
        Path ready = dir.resolve(name.toString());
        if (!Files.isRegularFile(ready)) {
            return false;
        }
        Path temp = target.resolveSibling(target.getFileName() + ".pgvault-tmp");
        Files.deleteIfExists(temp);
        try {
            if (name.isHistory()) {
                try {
                    Files.createLink(temp, ready);
                } catch (IOException | UnsupportedOperationException e) {
                    Files.copy(ready, temp, StandardCopyOption.REPLACE_EXISTING);
                }
            } else {
                Files.move(ready, temp, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (NoSuchFileException e) {
            return false;
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (name.kind() == WalFileName.Kind.SEGMENT) {
            request(name);
        }
        return true;
    }

    boolean has(Marker marker, String fileName) {
        return Files.exists(dir.resolve(fileName + marker.suffix()));
    }

    /** States that {@code prefetcher}, started for this spool, is on its way ({@link #STARTING}). */
    public void starting(ProcessIdentity prefetcher) throws IOException {
        replaceLine(STARTING, prefetcher.line());
    }

    private void replaceLine(String name, String line) throws IOException {
        owned.replaceLine(name, line);
    }

    // ---- the owner ----

    /**
     * Makes this process the spool's owner: takes {@code .lock}, removes what a previous
     * owner left (its markers, spooled and half-written files, its {@code .pid}; the last
     * request stays, it is why this one was started), marks the requested segment
     * {@link Marker#PENDING} (so the call that started it waits for it rather than asks), then
     * writes {@code .pid}. The owner fetches that segment first.
     *
     * @return empty when another process owns the spool (or {@code /proc} cannot identify this one)
     */
    public Optional<Owner> acquire() throws IOException {
        Optional<ProcessIdentity> self = ProcessIdentity.current();
        if (self.isEmpty()) {
            return Optional.empty();
        }
        Optional<OwnedDirectory.Lock> lock = owned.tryLock();
        if (lock.isEmpty()) {
            return Optional.empty();
        }
        Owner owner = new Owner(lock.get());
        try {
            owner.clear(Set.of(LOCK, LOG, REQUESTED, STARTING));
            Optional<WalFileName> first = requested();
            if (first.isPresent()) {
                owner.mark(Marker.PENDING, first.get().toString());
            }
            // Renamed into place: a reader never sees half a line.
            owned.publishOwner(self.get());
            // After .pid: a call sees one or the other.
            Files.deleteIfExists(dir.resolve(STARTING));
            return Optional.of(owner);
        } catch (IOException | RuntimeException e) {
            owner.close();
            throw e;
        }
    }

    /** The spool as its owner writes it; {@link #close()} withdraws the owner and its statements. */
    public final class Owner implements AutoCloseable {
        private final OwnedDirectory.Lock lock;
        private boolean closed;

        private Owner(OwnedDirectory.Lock lock) {
            this.lock = lock;
        }

        public PrefetchSpool spool() {
            return PrefetchSpool.this;
        }

        /** Rewrites {@link #BEAT} with the boot clock now (a temp file renamed over it: a reader never sees half a number). */
        public void beat() throws IOException {
            replaceLine(BEAT, Long.toString(bootClockCentis()));
        }

        /** Creates a marker (idempotent). */
        public void mark(Marker marker, String fileName) throws IOException {
            try {
                Files.createFile(dir.resolve(fileName + marker.suffix()));
            } catch (FileAlreadyExistsException e) {
                // already stated
            }
        }

        public void unmark(Marker marker, String fileName) throws IOException {
            Files.deleteIfExists(dir.resolve(fileName + marker.suffix()));
        }

        public boolean has(Marker marker, String fileName) {
            return PrefetchSpool.this.has(marker, fileName);
        }

        /** Whether a call asked for {@code name} again (an {@link Marker#AGAIN} marker). */
        public boolean askedAgain(String fileName) {
            return has(Marker.AGAIN, fileName);
        }

        /**
         * Writes a WAL file into the spool: under its temp name, flushed, then renamed, so the
         * name never shows a partial file, not even after a power loss. {@code content} is
         * closed here; a failure (a checksum mismatch surfaces at its last read) leaves nothing.
         */
        public void store(String fileName, InputStream content) throws IOException {
            Path temp = dir.resolve(tempName(fileName));
            WalFetcher.write(content, temp, true);
            Files.move(temp, dir.resolve(fileName), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }

        /** Removes a half-written file after a failed fetch. */
        public void discardTemp(String fileName) throws IOException {
            Files.deleteIfExists(dir.resolve(tempName(fileName)));
        }

        public boolean holds(String fileName) {
            return Files.isRegularFile(dir.resolve(fileName));
        }

        /** States that the history files and their markers reflect the repository. */
        public void historiesChecked() throws IOException {
            Files.write(dir.resolve(HISTORIES), new byte[0]);
        }

        /**
         * Removes the segments, and their markers, that are not in {@code keep}; a marker of a
         * file in {@code busy} (being fetched) stays, its fetch removes it. An ask
         * ({@link Marker#AGAIN}) stays too: a call may write it just after the owner read an
         * older request, and keep is predicted from that one. Only an answer removes an ask
         * (or the call that gives up on it, or the next owner).
         *
         * @return the segment files removed
         */
        public List<String> dropSegmentsExcept(Set<String> keep, Set<String> busy) throws IOException {
            List<String> dropped = new ArrayList<>();
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                for (Path f : files) {
                    String name = f.getFileName().toString();
                    if (Marker.AGAIN.fileOf(name).isPresent()) {
                        continue;
                    }
                    String file = Marker.PENDING.fileOf(name).or(() -> Marker.ABSENT.fileOf(name)).orElse(name);
                    if (!isSegment(file) || keep.contains(file)) {
                        continue;
                    }
                    if (name.equals(file)) {
                        Files.deleteIfExists(f);
                        dropped.add(file);
                    } else if (!busy.contains(file)) {
                        Files.deleteIfExists(f);
                    }
                }
            }
            return dropped;
        }

        /** Removes the history files' absent markers but those in {@code keep} (file names). */
        public void unmarkAbsentHistoriesExcept(Set<String> keep) throws IOException {
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.history" + Marker.ABSENT.suffix())) {
                for (Path f : files) {
                    String file = Marker.ABSENT.fileOf(f.getFileName().toString()).orElseThrow();
                    if (!keep.contains(file)) {
                        Files.deleteIfExists(f);
                    }
                }
            }
        }

        /** Removes every file but those named in {@code keep}. */
        private void clear(Set<String> keep) throws IOException {
            owned.removeFiles(name -> !keep.contains(name));
        }

        /**
         * Withdraws: {@code .pid} first (from then on no marker counts), then everything but
         * the lock and the log, then the lock. Idempotent; also run on SIGTERM.
         */
        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                Files.deleteIfExists(dir.resolve(OWNER));
                clear(Set.of(LOCK, LOG));
            } catch (IOException e) {
                // the next owner clears it; without .pid nothing here is trusted
            } finally {
                lock.close();
            }
        }
    }

    private static boolean isSegment(String file) {
        return WalFileName.tryParse(file).filter(n -> n.kind() == WalFileName.Kind.SEGMENT).isPresent();
    }
}

package io.pgvault.cli.push;

import io.pgvault.core.process.OwnedDirectory;
import io.pgvault.core.process.ProcessIdentity;
import io.pgvault.core.wal.WalFileName;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The push spool: where {@link PushAheadDaemon} states which WAL files it has already pushed
 * ahead of PostgreSQL's archiver, and the one place that knows what each of its files means.
 * {@code bin/pgvault} reads it without a JVM by the same rules, written down in
 * {@code docs/spool-protocol.md} ("The push spool").
 *
 * <p>Every statement here counts only while the owner that made it runs (judged by
 * {@link OwnedDirectory#ownerAlive()}), and only for a call made with the owner's own
 * destination ({@link #TARGET}):
 * <ul>
 *   <li>{@code NAME.ok}: the server answered 2xx for NAME as it was in the WAL directory: it
 *       is durable in the repository, so archive_command may report success for it.</li>
 *   <li>{@code NAME.error}: the server refused NAME (its message inside); the call pushes it
 *       itself, through the JVM, and PostgreSQL's log gets the reason.</li>
 * </ul>
 * A statement names a file, not its content, which is why a dead owner's statements are never
 * believed (a data directory restored at the same path reuses names) and why the spool must
 * sit directly inside the WAL directory it serves (checked by {@link WalPushOptions}): another
 * cluster's file of the same name is never answered from it. A new owner removes every
 * leftover before it publishes itself; the owner removes a file's statements once PostgreSQL
 * no longer lists the file as ready.
 */
public final class PushSpool {

    /** What a call may conclude about one WAL file from the spool alone. */
    public enum Answer {
        /** The live owner pushed it: durable, report success. */
        PUSHED,
        /** The live owner's push was refused: push it here and report why. */
        REFUSED,
        /** Nothing to go by yet (no live owner, another destination, or not pushed yet). */
        UNKNOWN
    }

    public static final String PUSHED = ".ok";
    public static final String REFUSED = ".error";
    /**
     * The owner's destination: one line, the environment variables and arguments the calls it
     * answers for are made with ({@link #stamp}). A call made with others (archive_command
     * changed while the owner ran) trusts none of its statements.
     */
    public static final String TARGET = ".target";
    /** The pusher's output, appended to by each run. */
    public static final String LOG = "push.log";
    /** Files of restore_command's prefetch spool: a push spool is never one (the two would clear each other's files). */
    private static final List<String> PREFETCH_FILES = List.of(".requested", "prefetch.log", ".histories", ".beat");
    /** The environment variables that choose a destination or its credentials, in the stamp's order. */
    static final List<String> STAMPED_ENVIRONMENT = List.of("PGVAULT_SERVER", "PGVAULT_TOKEN_FILE", "PGVAULT_CACERT");

    private final OwnedDirectory owned;

    public PushSpool(Path dir) {
        this.owned = new OwnedDirectory(dir, "archive_command");
    }

    public Path directory() {
        return owned.path();
    }

    /**
     * The destination stamp of a call or of an owner: {@code PGVAULT_SERVER=v PGVAULT_TOKEN_FILE=v
     * PGVAULT_CACERT=v} then the options before {@code %p}, each separated by one space (the
     * shell builds the same line).
     */
    public static String stamp(List<String> options, Map<String, String> env) {
        StringBuilder line = new StringBuilder();
        for (String variable : STAMPED_ENVIRONMENT) {
            line.append(variable).append('=').append(env.getOrDefault(variable, "")).append(' ');
        }
        return line.append(String.join(" ", options)).toString();
    }

    /** Whether the owner runs and serves calls made with {@code stamp}. */
    public boolean ownerServes(String stamp) {
        if (!owned.ownerAlive()) {
            return false;
        }
        try {
            // The line as written, spaces included: the shell compares it whole too (read -r with IFS empty).
            return Files.readString(directory().resolve(TARGET), StandardCharsets.UTF_8).equals(stamp + "\n");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * What the spool says about {@code fileName} to a call made with {@code stamp}. The owner is
     * judged before its statements are read, and {@code .pid} read again after them: a statement
     * counts only if the same live owner was there before and after (no other owner came between).
     */
    public Answer answer(String fileName, String stamp) {
        try {
            owned.checkOwnDirectory();
        } catch (IOException e) {
            return Answer.UNKNOWN;
        }
        Optional<String> owner = ownerLine();
        if (owner.isEmpty() || !ownerServes(stamp)) {
            return Answer.UNKNOWN;
        }
        Answer answer = Files.exists(directory().resolve(fileName + PUSHED)) ? Answer.PUSHED
                : Files.exists(directory().resolve(fileName + REFUSED)) ? Answer.REFUSED : Answer.UNKNOWN;
        return owner.equals(ownerLine()) ? answer : Answer.UNKNOWN;
    }

    private Optional<String> ownerLine() {
        try {
            return Optional.of(Files.readString(directory().resolve(OwnedDirectory.OWNER), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Makes this process the owner, serving calls made with {@code stamp}: takes the lock,
     * removes every leftover of a previous owner, writes the stamp, then publishes itself.
     *
     * @return empty when another process owns the spool (or {@code /proc} cannot identify this one)
     */
    public Optional<Owner> acquire(String stamp) throws IOException {
        Optional<ProcessIdentity> self = ProcessIdentity.current();
        if (self.isEmpty()) {
            return Optional.empty();
        }
        Optional<OwnedDirectory.Lock> lock = owned.tryLock();
        if (lock.isEmpty()) {
            return Optional.empty();
        }
        for (String foreign : PREFETCH_FILES) {
            if (Files.exists(directory().resolve(foreign))) {
                lock.get().close();
                throw new IOException(directory() + " is restore_command's prefetch spool (it holds " + foreign + "): give wal-push a "
                        + "directory of its own, e.g. pg_wal/pgvault-push");
            }
        }
        Owner owner = new Owner(lock.get(), Files.readAttributes(directory(), BasicFileAttributes.class).fileKey());
        try {
            owner.clear();
            owned.replaceLine(TARGET, stamp);
            owned.publishOwner(self.get());
            return Optional.of(owner);
        } catch (IOException | RuntimeException e) {
            owner.close();
            throw e;
        }
    }

    /** The spool as its owner writes it; {@link #close()} withdraws the owner and its statements. */
    public final class Owner implements AutoCloseable {
        private final OwnedDirectory.Lock lock;
        /** The spool directory's identity when it was acquired: a directory made again under its name is another spool. */
        private final Object directoryKey;
        private boolean closed;

        private Owner(OwnedDirectory.Lock lock, Object directoryKey) {
            this.lock = lock;
            this.directoryKey = directoryKey;
        }

        /**
         * States that the server stored {@code fileName} (durably); withdraws a refusal of it.
         * Nothing is written once this owner closed or lost the spool: a push that ends late
         * (its HTTP call outlived the owner) must not speak in a successor's spool.
         */
        public synchronized void pushed(String fileName) throws IOException {
            if (speaking()) {
                Files.write(directory().resolve(fileName + PUSHED), new byte[0]);
                Files.deleteIfExists(directory().resolve(fileName + REFUSED));
            }
        }

        /** States that the server refused {@code fileName}, and why (one line); withdraws a statement that it was stored. */
        public synchronized void refused(String fileName, String message) throws IOException {
            if (speaking()) {
                Files.deleteIfExists(directory().resolve(fileName + PUSHED));
                owned.replaceLine(fileName + REFUSED, message.replaceAll("\\s+", " ").strip());
            }
        }

        private boolean speaking() throws IOException {
            return !closed && stillOwned() && directoryKey != null
                    && directoryKey.equals(Files.readAttributes(directory(), BasicFileAttributes.class).fileKey());
        }

        /**
         * Whether this process still owns the spool: the directory is still there under its name
         * and names this process. A data directory removed (or restored) at the same path has
         * another spool, which this one must not write to.
         */
        public boolean stillOwned() {
            try {
                String line = Files.readString(directory().resolve(OwnedDirectory.OWNER), StandardCharsets.US_ASCII);
                return ProcessIdentity.parse(line).equals(ProcessIdentity.current());
            } catch (IOException e) {
                return false;
            }
        }

        /**
         * Removes the statements about files not in {@code ready} (PostgreSQL has archived them,
         * or they are gone).
         *
         * @return the files whose statements were removed
         */
        public Set<String> forgetAllBut(Set<String> ready) throws IOException {
            Set<String> forgotten = new HashSet<>();
            try (DirectoryStream<Path> files = Files.newDirectoryStream(directory())) {
                for (Path f : files) {
                    Optional<String> file = fileOf(f.getFileName().toString());
                    if (file.isPresent() && !ready.contains(file.get())) {
                        Files.deleteIfExists(f);
                        forgotten.add(file.get());
                    }
                }
            }
            return forgotten;
        }

        /** Removes what owners write (statements, .target, .pid, temp files), never anything else that may be there. */
        private void clear() throws IOException {
            owned.removeFiles(name -> fileOf(name).isPresent() || name.equals(TARGET) || name.equals(OwnedDirectory.OWNER) || name.endsWith(".tmp"));
        }

        /** Withdraws: {@code .pid} first (from then on no statement counts), then the statements, then the lock. Idempotent. */
        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                if (stillOwned()) {
                    Files.deleteIfExists(directory().resolve(OwnedDirectory.OWNER));
                    clear();
                }
            } catch (IOException e) {
                // the next owner clears it; without .pid nothing here is trusted
            } finally {
                lock.close();
            }
        }
    }

    /** The WAL file a statement's name is about, if it is one. */
    static Optional<String> fileOf(String name) {
        for (String suffix : List.of(PUSHED, REFUSED)) {
            if (name.endsWith(suffix)) {
                String file = name.substring(0, name.length() - suffix.length());
                return WalFileName.tryParse(file).map(n -> file);
            }
        }
        return Optional.empty();
    }
}

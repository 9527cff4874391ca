package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;

import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The files of a chain restore (a full backup and the incremental backups on it) that the
 * newest backup holds as incremental files, while the chain is read newest first: which
 * blocks each still needs and from which older backups it may take them. The newest
 * version of a block wins, so a block is written once, by the newest backup that holds it;
 * the files the newest backup does not hold are never written (they were deleted).
 *
 * <p>The rules are pg_combinebackup's ({@code src/bin/pg_combinebackup/reconstruct.c}): the
 * newest incremental file sets the length and its truncation length alone bounds what older
 * backups give (those of intermediate incremental files play no part); the walk stops at the
 * first backup that holds the file whole; a block no backup holds stays zero.
 *
 * <p>One backup of the chain is a step. During a step the pieces are read in parallel and
 * {@link Target#wants} only reads what earlier steps filled; what this step writes is kept
 * apart and merged at {@link #endStep}. A file a step holds neither whole nor incrementally,
 * while it still needs blocks, means the chain is damaged: PostgreSQL sends an incremental
 * file only for a file the parent backup holds.
 *
 * <p>The second kind of target is a {@link FileReference} of the newest backup (PostgreSQL
 * 14-16): the bytes {@code [offset, offset + length)} of a file come whole from the member of
 * the backup the reference names with the same name and offset, and from no other. Intermediate
 * backups that reference the same bytes again are passed over; a reference still unsatisfied
 * when its backup's step ends means the chain is damaged.
 */
final class ChainReconstruction {

    /** One file being built. */
    static final class Target {
        private final String name;
        private final BitSet filled;
        /** Blocks at and beyond it never come from older backups: the file was truncated to it meanwhile. */
        private final long limit;
        private boolean complete;
        private final BitSet written = new BitSet();
        private boolean heldWhole;
        private boolean heldIncremental;

        private Target(String name, IncrementalFile newest) {
            this.name = name;
            this.filled = new BitSet();
            for (int b : newest.blocks()) {
                filled.set(b);
            }
            this.limit = newest.truncationBlocks();
            this.complete = limit == 0 || filled.nextClearBit(0) >= limit;
        }

        /** Whether an older backup's version of {@code block} is the one to write: no newer backup holds it and it is below every truncation. */
        boolean wants(long block) {
            return block < limit && !filled.get((int) block);
        }

        synchronized void written(long block) {
            written.set((int) block);
        }

        /** This step holds the file whole (or a range of it): nothing older is needed after it. */
        synchronized void heldWhole() {
            heldWhole = true;
        }

        /** This step holds the file as an incremental file: older backups may still give blocks. */
        synchronized void heldIncremental() {
            heldIncremental = true;
        }
    }

    /** Bytes of a file that the newest backup references: copied once, from backup {@code ref.heldBy()}. */
    static final class Referenced {
        final String file;
        final FileReference ref;
        private final java.util.concurrent.atomic.AtomicBoolean copied = new java.util.concurrent.atomic.AtomicBoolean();

        private Referenced(String file, FileReference ref) {
            this.file = file;
            this.ref = ref;
        }

        /**
         * The one member that gives these bytes is being copied.
         *
         * @throws CorruptObjectException when another member of the backup gave them already
         */
        void claim(String piece) throws CorruptObjectException {
            if (!copied.compareAndSet(false, true)) {
                throw new CorruptObjectException(piece + " holds the bytes at " + ref.offset() + " of " + file + " a second time in backup "
                        + ref.heldBy() + ": refused (the repository's content is damaged or was crafted)");
            }
        }
    }

    private final Map<String, Target> targets = new ConcurrentHashMap<>();
    private final Map<String, Referenced> references = new ConcurrentHashMap<>();
    /** The backups of the chain, newest first. */
    private final List<String> chain;

    /** @param chain the ids of the backups being restored, newest first */
    ChainReconstruction(List<String> chain) {
        this.chain = List.copyOf(chain);
    }

    /**
     * A file the newest backup holds incrementally: the blocks it lacks below its truncation length come from older backups.
     *
     * @throws CorruptObjectException when the backup holds the file incrementally twice
     */
    void add(String file, IncrementalFile newest, String piece) throws CorruptObjectException {
        if (targets.putIfAbsent(file, new Target(file, newest)) != null) {
            throw new CorruptObjectException(piece + ": " + file + " is held as an incremental file a second time: refused "
                    + "(the repository's content is damaged or was crafted)");
        }
    }

    /** The file, while it still needs blocks from the backup being read. */
    Optional<Target> wanted(String file) {
        Target t = targets.get(file);
        return t == null || t.complete ? Optional.empty() : Optional.of(t);
    }

    /**
     * Bytes of a file the newest backup references: they are to come from an older backup of the chain.
     *
     * @param file the file's name, qualified by its tablespace
     * @param piece the newest backup's piece holding the reference, for messages
     * @throws CorruptObjectException when the reference names a backup that is not an older one of the chain, or the same bytes twice
     */
    void addReference(String file, FileReference ref, String piece) throws CorruptObjectException {
        int at = chain.indexOf(ref.heldBy());
        if (at <= 0) {
            throw new CorruptObjectException(piece + ": " + file + " references its bytes at " + ref.offset() + " in backup " + ref.heldBy()
                    + ", which is not " + (at == 0 ? "an older backup of" : "in") + " the chain being restored (" + String.join(", ", chain)
                    + "): refused (the repository's content is damaged or was crafted)");
        }
        if (references.putIfAbsent(file + "@" + ref.offset(), new Referenced(file, ref)) != null) {
            throw new CorruptObjectException(piece + ": " + file + " references its bytes at " + ref.offset() + " twice: refused "
                    + "(the repository's content is damaged or was crafted)");
        }
    }

    /** The referenced bytes of {@code file} at {@code offset}, when backup {@code backupId} is to give them and has not yet. */
    Optional<Referenced> referenced(String file, long offset, String backupId) {
        Referenced r = references.get(file + "@" + offset);
        return r == null || r.copied.get() || !r.ref.heldBy().equals(backupId) ? Optional.empty() : Optional.of(r);
    }

    boolean isComplete() {
        return targets.values().stream().allMatch(t -> t.complete) && references.values().stream().allMatch(r -> r.copied.get());
    }

    /**
     * After the last step read.
     *
     * @throws CorruptObjectException naming a file whose referenced bytes no backup gave
     */
    void checkReferencesCopied() throws CorruptObjectException {
        for (Referenced r : references.values()) {
            if (!r.copied.get()) {
                throw unsatisfied(r);
            }
        }
    }

    private CorruptObjectException unsatisfied(Referenced r) {
        return new CorruptObjectException("backup " + chain.get(0) + " references the bytes " + r.ref.offset() + " to " + r.ref.end() + " of "
                + r.file + " in backup " + r.ref.heldBy() + ", but backup " + r.ref.heldBy() + " does not hold them: the chain is damaged "
                + "(a piece is missing or was replaced); restore from another backup");
    }

    /**
     * Ends the step of backup {@code step}, which every piece of it has been read for.
     *
     * @param newer the backup whose incremental files sent the restore to {@code step}, for the message
     * @throws CorruptObjectException when a file still needing blocks is not in {@code step}
     */
    void endStep(String step, String newer) throws CorruptObjectException {
        for (Referenced r : references.values()) {
            if (r.ref.heldBy().equals(step) && !r.copied.get()) {
                throw unsatisfied(r);
            }
        }
        for (Target t : targets.values()) {
            if (t.complete) {
                continue;
            }
            t.filled.or(t.written);
            t.written.clear();
            if (t.heldWhole) {
                t.complete = true;
            } else if (t.heldIncremental) {
                t.complete = t.filled.nextClearBit(0) >= t.limit;
            } else {
                throw new CorruptObjectException("backup " + newer + " holds " + t.name + " as changes since backup " + step
                        + ", but backup " + step + " does not hold that file: the chain is damaged (a piece is missing or was replaced); "
                        + "restore from another backup");
            }
            t.heldWhole = false;
            t.heldIncremental = false;
        }
    }
}

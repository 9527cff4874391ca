package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;

import java.util.BitSet;
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

    private final Map<String, Target> targets = new ConcurrentHashMap<>();

    /** A file the newest backup holds incrementally: the blocks it lacks below its truncation length come from older backups. */
    void add(String file, IncrementalFile newest) {
        targets.put(file, new Target(file, newest));
    }

    /** The file, while it still needs blocks from the backup being read. */
    Optional<Target> wanted(String file) {
        Target t = targets.get(file);
        return t == null || t.complete ? Optional.empty() : Optional.of(t);
    }

    boolean isComplete() {
        return targets.values().stream().allMatch(t -> t.complete);
    }

    /**
     * Ends the step of backup {@code step}, which every piece of it has been read for.
     *
     * @param newer the backup whose incremental files sent the restore to {@code step}, for the message
     * @throws CorruptObjectException when a file still needing blocks is not in {@code step}
     */
    void endStep(String step, String newer) throws CorruptObjectException {
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

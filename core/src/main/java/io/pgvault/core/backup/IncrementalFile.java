package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.BitSet;

/**
 * A relation file as an incremental backup of PostgreSQL 17+ sends it: {@code INCREMENTAL.<name>}
 * beside where {@code <name>} would be, holding only the blocks changed since the parent backup
 * started (PostgreSQL's {@code src/backend/backup/basebackup_incremental.c}, read by
 * {@code src/bin/pg_combinebackup/reconstruct.c}):
 * <pre>
 *   uint32 magic (0xd3ae1f0d)        all in the server's byte order: little-endian on every
 *   uint32 block count n             platform pgvault runs PostgreSQL on
 *   uint32 truncation block length   blocks at and beyond it are not taken from older backups
 *   uint32 block numbers[n]          relative to the file
 *   padding up to a multiple of BLCKSZ (when n &gt; 0)
 *   n blocks of BLCKSZ, in the order of the numbers
 * </pre>
 * The file it stands for is {@code max(truncation length, highest block + 1)} blocks long;
 * each block below the truncation length that the file does not hold comes from the parent.
 *
 * <p>The member is untrusted input: the header must add up to the member's size exactly, every
 * block number must be unique and within a relation segment, and the lengths bounded, so that a
 * crafted file cannot make a restore write far beyond what the backup holds.
 *
 * @param truncationBlocks the truncation block length
 * @param blocks the block numbers, in the order their data follows the header
 */
public record IncrementalFile(long truncationBlocks, int[] blocks) {

    public static final String PREFIX = "INCREMENTAL.";
    /** PostgreSQL's default BLCKSZ; pgvault refuses incremental backups of a cluster built with another. */
    public static final int BLOCK_SIZE = 8192;
    static final int MAGIC = 0xd3ae1f0d;
    /** RELSEG_SIZE for the default 1 GiB segments of 8 kB blocks: no relation file is longer. */
    static final long MAX_BLOCKS = (1L << 30) / BLOCK_SIZE;

    /**
     * A relation file's incremental form, where PostgreSQL puts one: {@code global/}, {@code base/<oid>/}
     * or a tablespace's {@code PG_<version>/<oid>/}, then {@code INCREMENTAL.} and a relation file's name
     * (relfilenode, fork, segment). Anywhere else a file so named is an ordinary file, restored as
     * it is (pg_combinebackup's rule), so a crafted {@code INCREMENTAL.tablespace_map} cannot bypass
     * how tablespace_map and backup_label are written.
     */
    private static final java.util.regex.Pattern RELATION_INCREMENTAL = java.util.regex.Pattern.compile(
            "(?:global|base/[0-9]+|PG_[0-9A-Za-z_]+/[0-9]+)/INCREMENTAL\\.[0-9]+(?:_(?:fsm|vm|init))?(?:\\.[0-9]+)?");

    /** Whether a tar member is a relation file's incremental form (see {@link #RELATION_INCREMENTAL}). */
    public static boolean isIncremental(String name) {
        return RELATION_INCREMENTAL.matcher(name).matches();
    }

    /** The name of the file an incremental member stands for. */
    public static String targetName(String name) {
        int slash = name.lastIndexOf('/');
        return name.substring(0, slash + 1) + name.substring(slash + 1 + PREFIX.length());
    }

    /** The header's length for {@code n} blocks: rounded up to a whole block when data follows. */
    static long headerBytes(int n) {
        long bytes = 12L + 4L * n;
        return n > 0 && bytes % BLOCK_SIZE != 0 ? bytes + BLOCK_SIZE - bytes % BLOCK_SIZE : bytes;
    }

    /** How many blocks long the file it stands for is. */
    public long lengthBlocks() {
        long length = truncationBlocks;
        for (int b : blocks) {
            length = Math.max(length, b + 1L);
        }
        return length;
    }

    /**
     * Reads the header (and its padding) of a member of {@code size} bytes, leaving {@code data}
     * at the first block.
     *
     * @param where the piece and entry, for messages
     * @throws CorruptObjectException when it is not an incremental file or does not add up
     */
    public static IncrementalFile readHeader(InputStream data, long size, String where) throws IOException {
        ByteBuffer fixed = ByteBuffer.wrap(readFully(data, 12, where)).order(ByteOrder.LITTLE_ENDIAN);
        int magic = fixed.getInt();
        long n = Integer.toUnsignedLong(fixed.getInt());
        long truncation = Integer.toUnsignedLong(fixed.getInt());
        if (magic != MAGIC) {
            throw refused(where, String.format("starts with 0x%08x, not PostgreSQL's incremental file magic 0x%08x", magic, MAGIC));
        }
        if (n > MAX_BLOCKS) {
            throw refused(where, "declares " + n + " blocks; a relation file of 8 kB blocks has at most " + MAX_BLOCKS
                    + " (pgvault restores incremental backups of clusters with the default BLCKSZ and segment size)");
        }
        // PostgreSQL 17.0-17.7 and 18.0-18.1 could send a truncation length past the segment for a table over 1 GB
        // that VACUUM truncated (fixed in 17.8): no block beyond the segment exists, so the length is capped, not refused.
        truncation = Math.min(truncation, MAX_BLOCKS);
        long header = headerBytes((int) n);
        if (size != header + n * BLOCK_SIZE) {
            throw refused(where, "is " + size + " bytes, but its header of " + n + " blocks of " + BLOCK_SIZE + " bytes makes "
                    + (header + n * BLOCK_SIZE));
        }
        ByteBuffer numbers = ByteBuffer.wrap(readFully(data, (int) (4 * n), where)).order(ByteOrder.LITTLE_ENDIAN);
        int[] blocks = new int[(int) n];
        BitSet seen = new BitSet();
        for (int i = 0; i < n; i++) {
            long b = Integer.toUnsignedLong(numbers.getInt());
            if (b >= MAX_BLOCKS || seen.get((int) b)) {
                throw refused(where, "lists block " + b + (b >= MAX_BLOCKS ? ", beyond a relation segment" : " twice"));
            }
            seen.set((int) b);
            blocks[i] = (int) b;
        }
        data.skipNBytes(header - 12 - 4 * n);
        return new IncrementalFile(truncation, blocks);
    }

    private static byte[] readFully(InputStream data, int n, String where) throws IOException {
        byte[] bytes = data.readNBytes(n);
        if (bytes.length != n) {
            throw new EOFException(where + ": the incremental file's header ended after " + bytes.length + " of " + n + " bytes");
        }
        return bytes;
    }

    private static CorruptObjectException refused(String where, String why) {
        return new CorruptObjectException(where + " " + why + ": refused (the repository's content is damaged or was crafted)");
    }
}

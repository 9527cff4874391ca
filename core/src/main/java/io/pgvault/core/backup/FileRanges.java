package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The ranges of the files a backup stores in ranges ({@link FilePart}), as the pieces
 * holding them are read, in any order and from several threads. A range is claimed before
 * it is written: one that disagrees with the others on its file's size or overlaps another
 * is refused, so a crafted piece cannot rewrite what another piece wrote. At the end every
 * file must be covered exactly ({@link #checkWhole}).
 */
final class FileRanges {

    private final Map<String, RangedFile> files = new ConcurrentHashMap<>();

    /** One file: its size and the ranges claimed so far (start → end). */
    private static final class RangedFile {
        final long size;
        final TreeMap<Long, Long> ranges = new TreeMap<>();
        long covered;

        RangedFile(long size) {
            this.size = size;
        }
    }

    /**
     * @param file the file's name, qualified by its tablespace
     * @throws CorruptObjectException when the range disagrees on the file's size or overlaps one already claimed
     */
    void claim(String file, FilePart part, long length, String piece) throws CorruptObjectException {
        RangedFile f = files.computeIfAbsent(file, name -> new RangedFile(part.fileSize()));
        synchronized (f) {
            long end = part.offset() + length;
            Map.Entry<Long, Long> before = f.ranges.floorEntry(part.offset());
            Map.Entry<Long, Long> after = f.ranges.ceilingEntry(part.offset());
            String why = f.size != part.fileSize() ? "gives it " + part.fileSize() + " bytes where another range gives " + f.size
                    : before != null && before.getValue() > part.offset() ? "overlaps the range at " + before.getKey()
                    : after != null && after.getKey() < end && length > 0 ? "overlaps the range at " + after.getKey()
                    : null;
            if (why != null) {
                throw new CorruptObjectException(piece + ": the range of " + file + " at " + part.offset() + " (" + length + " bytes) " + why
                        + ": refused (the repository's content is damaged or was crafted)");
            }
            if (length > 0) {
                f.ranges.put(part.offset(), end);
            }
            f.covered += length;
        }
    }

    /** @throws CorruptObjectException naming a file whose ranges leave a gap */
    void checkWhole(String backupId) throws CorruptObjectException {
        for (Map.Entry<String, RangedFile> e : files.entrySet()) {
            RangedFile f = e.getValue();
            if (f.covered != f.size) {
                throw new CorruptObjectException("backup " + backupId + " holds " + f.covered + " bytes of " + e.getKey() + ", which has "
                        + f.size + ": the backup is damaged (a piece holding a range of it is missing)");
            }
        }
    }
}

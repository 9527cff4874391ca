package io.pgvault.restore;

import io.pgvault.core.archive.WalSegmentIndex;
import io.pgvault.core.archive.WalSegmentIndexer;
import io.pgvault.core.backup.BackupManifest;
import io.pgvault.core.backup.BackupRestorer;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.util.ByteSize;
import io.pgvault.core.util.ParallelChecks;
import io.pgvault.core.wal.WalFileName;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code pgvault verify}: reads, from the repository alone, what a recovery would read, and
 * reports what would stop one: a damaged or missing backup piece, a damaged WAL segment, a
 * backup whose own WAL is not all archived, a stretch of the recovery window that a missing
 * segment makes unreachable, a segment's index that does not match the segment. Every
 * object is read whatever the others show, so one run lists every problem. Nothing is
 * written.
 */
public final class ArchiveVerifier {

    private final ClusterArchive archive;
    private final int parallelism;
    /** Indexes an older pgvault wrote, met while verifying the WAL. */
    private final AtomicInteger outdatedIndexes = new AtomicInteger();

    public ArchiveVerifier(ClusterArchive archive, int parallelism) {
        this.archive = archive;
        this.parallelism = Math.max(1, parallelism);
    }

    /**
     * @param backupId only this backup (and no WAL pass), or every finished backup
     * @param wal whether to read every archived WAL segment too
     * @return the problems found, each naming what is wrong; empty when everything can be restored
     */
    public List<String> verify(Optional<String> backupId, boolean wal, PrintWriter out, boolean terminal) throws IOException {
        List<String> problems = new ArrayList<>();
        for (ClusterArchive.UnreadableBackup b : archive.unreadableBackups()) {
            if (backupId.isEmpty() || b.backupId().equals(backupId.get())) {
                String problem = "backup " + b.backupId() + " cannot be used: " + b.reason();
                out.println(problem);
                problems.add(problem);
            }
        }
        if (backupId.isPresent() && archive.unreadableBackups().stream().anyMatch(b -> b.backupId().equals(backupId.get()))) {
            return problems;
        }
        List<BackupManifest> backups = archive.backups().stream().filter(b -> backupId.isEmpty() || b.backupId().equals(backupId.get()))
                .toList();
        if (backupId.isPresent() && backups.isEmpty()) {
            throw new NotInRepositoryException("cluster " + archive.cluster() + " has no finished backup " + backupId.get() + " in "
                    + archive.store().describe() + "; its backups: " + archive.backups().stream().map(BackupManifest::backupId).toList());
        }
        if (backupId.isPresent()) {
            // One incremental backup is restored with its chain: every link is read, oldest first as listed.
            List<BackupManifest> chain = new ArrayList<>(archive.chainOf(backups.get(0)));
            java.util.Collections.reverse(chain);
            backups = chain;
        }
        // The windows read the last segments of each timeline: damage there is a finding too, not the end of the run.
        List<RecoveryWindow> windows = null;
        try {
            windows = new RecoveryPlanner(archive).windows();
        } catch (CorruptObjectException e) {
            String problem = "the recovery windows cannot be computed (which backups have all their WAL is not checked): " + e.getMessage();
            out.println(problem);
            problems.add(problem);
        }
        Set<String> usable = new HashSet<>();
        if (windows != null) {
            windows.forEach(w -> w.backups().forEach(b -> usable.add(b.backupId())));
        }
        BackupRestorer reader = new BackupRestorer(archive.store(), parallelism);
        Set<String> damaged = new HashSet<>();
        for (BackupManifest backup : backups) {
            long started = System.nanoTime();
            List<BackupManifest> chain = archive.chainOf(backup);
            List<String> found = new ArrayList<>(reader.verify(backup, chain, new Progress(out, backup.rawBytes(), terminal, "checked")));
            if (windows != null && !usable.contains(backup.backupId())) {
                found.add("backup " + backup.backupId() + " cannot be recovered from: the WAL from its start (" + backup.startLsn()
                        + ") to its end (" + backup.endLsn() + ") is not all in the repository on any timeline's history");
            }
            for (BackupManifest link : chain.subList(1, chain.size())) {
                if (damaged.contains(link.backupId())) {
                    found.add("backup " + backup.backupId() + " cannot be restored: it builds on backup " + link.backupId()
                            + ", which is damaged (above)");
                }
            }
            if (!found.isEmpty()) {
                damaged.add(backup.backupId());
            }
            out.printf(Locale.ROOT, "backup %s%s: %d pieces, %s, %s in %.1f s%n", backup.backupId(),
                    backup.isIncremental() ? " (incremental on " + backup.parent().backupId() + ")" : "", backup.pieces().size(),
                    ByteSize.format(backup.rawBytes()), found.isEmpty() ? "ok" : found.size() + " problem(s)", (System.nanoTime() - started) / 1e9);
            found.forEach(p -> out.println("  " + p));
            problems.addAll(found);
        }
        if (backupId.isEmpty() && windows != null) {
            for (RecoveryWindow w : windows) {
                for (String gap : w.gaps()) {
                    String problem = "timeline " + w.timeline().value() + ": unreachable " + gap;
                    out.println(problem);
                    problems.add(problem);
                }
            }
        }
        if (wal && backupId.isEmpty()) {
            problems.addAll(verifyWal(out, terminal));
        }
        return problems;
    }

    /**
     * Reads a segment that has an index and checks the index against it: a wrong index could
     * make a plan pass over the segment that holds a target.
     */
    private void verifyIndexed(WalFileName segment) throws IOException {
        String key = RepositoryLayout.walKey(archive.cluster(), segment);
        InputStream stored = archive.store().get(key).orElseThrow(() -> new CorruptObjectException(key + " is missing from the repository"));
        WalSegmentIndexer indexer = new WalSegmentIndexer();
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, stored); InputStream content = indexer.observing(opened.content())) {
            content.transferTo(OutputStream.nullOutputStream());
        }
        String indexKey = RepositoryLayout.walIndexKey(archive.cluster(), segment);
        Optional<WalSegmentIndex> expected = indexer.index(segment, archive.segmentSize());
        Optional<WalSegmentIndex> index;
        try {
            index = WalSegmentIndex.read(archive.store(), archive.cluster(), segment, archive.segmentSize());
        } catch (WalSegmentIndex.OutdatedException e) {
            // Not damage: recovery reads this segment instead, and catalog rebuild writes its index again.
            outdatedIndexes.incrementAndGet();
            return;
        }
        if (index.isPresent() && !index.equals(expected)) {
            throw new CorruptObjectException(indexKey + " does not match its segment (the index says " + index.get() + "; the segment "
                    + expected.map(Object::toString).orElse("cannot be indexed") + "): a plan could pass over a target in it. Delete the index "
                    + "object; 'pgvault catalog rebuild' writes it again from the segment");
        }
    }

    /** Reads every archived segment to its end (its checksum and compression frame checked), in parallel. */
    private List<String> verifyWal(PrintWriter out, boolean terminal) throws IOException {
        long started = System.nanoTime();
        List<WalFileName> segments = archive.segments().stream().filter(s -> !archive.streamedHeads().contains(s)).toList();
        long segmentBytes = archive.segmentSize().bytes();
        Progress progress = new Progress(out, segments.size() * segmentBytes, terminal, "WAL checked");
        AtomicLong done = new AtomicLong();
        List<Callable<Void>> checks = new ArrayList<>();
        for (WalFileName segment : segments) {
            checks.add(() -> {
                try {
                    if (archive.indexedSegments().contains(segment)) {
                        verifyIndexed(segment);
                    } else {
                        ObjectEnvelope.verify(archive.store(), RepositoryLayout.walKey(archive.cluster(), segment));
                    }
                } finally {
                    progress.accept(done.addAndGet(segmentBytes));
                }
                return null;
            });
        }
        List<String> problems = ParallelChecks.run(parallelism, "pgvault-verify", checks);
        out.printf(Locale.ROOT, "WAL: %d segments, %s in %.1f s%n", segments.size(), problems.isEmpty() ? "ok" : problems.size() + " problem(s)",
                (System.nanoTime() - started) / 1e9);
        if (outdatedIndexes.get() > 0) {
            out.println("  note: " + WalSegmentIndex.OutdatedException.summary(outdatedIndexes.get()));
        }
        problems.forEach(p -> out.println("  " + p));
        return problems;
    }
}

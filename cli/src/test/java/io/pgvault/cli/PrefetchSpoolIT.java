package io.pgvault.cli;

import io.pgvault.core.process.ProcessIdentity;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgvault.core.archive.ClusterIdentity;
import io.pgvault.core.archive.WalArchiver;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.ObjectHeader;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.restore.fetch.WalFetchMain;
import io.pgvault.restore.fetch.PrefetchSpool;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * restore_command's answers without a JVM, as PostgreSQL's startup process calls it: segments
 * moved out of the prefetcher's spool, "not archived" from the prefetcher's marker, timeline
 * history files from the spool. A stand-in {@code java} (JAVA_HOME) records every JVM the
 * launcher starts, so the test sees which answers needed one.
 */
class PrefetchSpoolIT {

    private static final String CLUSTER = "main";

    /** restore_command's options as recover writes them, with the spool in its default place. */
    private static List<String> walFetch(Path repo) {
        return List.of("wal-fetch", "--repo", repo.toUri().toString(), "--cluster", CLUSTER, "--spool", "pg_wal/pgvault-spool");
    }

    @Test
    void theSpoolAnswersSegmentsAbsenceAndHistoryFilesAndMarkersCountOnlyWhileThePrefetcherRuns() throws Exception {
        Path dir = RecoverySupport.workDirectory("pgvault-spool-it");
        Path repo = dir.resolve("repo");
        try {
            List<Path> segments = archivedSegments(dir, 5);
            LocalDirectoryStore store = new LocalDirectoryStore(repo);
            WalArchiver archiver = newRepository(store, dir);
            // The first three are archived now, the fourth later; timeline 2's history exists, 3's does not.
            for (Path segment : segments.subList(0, 3)) {
                archive(archiver, segment);
            }
            byte[] history = "1\t0/9000000\tno recovery target specified\n".getBytes(StandardCharsets.US_ASCII);
            archiver.archive(CLUSTER, ClusterIdentity.UNKNOWN, WalFileName.parse("00000002.history"), new ByteArrayInputStream(history),
                    history.length);

            Path data = Files.createDirectories(dir.resolve("data"));
            Files.writeString(data.resolve("recovery.signal"), "");
            Files.createDirectories(data.resolve("pg_wal"));
            Path javaLog = dir.resolve("java-starts.log");
            Path javaHome = standInJava(dir, javaLog);
            List<String> fetch = walFetch(repo);

            for (Path segment : segments.subList(0, 3)) {
                assertThat(call(data, javaHome, fetch, segment.getFileName().toString(), "pg_wal/RECOVERYXLOG")).isZero();
                assertThat(Files.mismatch(data.resolve("pg_wal/RECOVERYXLOG"), segment)).isEqualTo(-1);
            }
            String fourth = segments.get(3).getFileName().toString();
            assertThat(call(data, javaHome, fetch, fourth, "pg_wal/RECOVERYXLOG")).as("not archived yet").isEqualTo(1);
            assertThat(call(data, javaHome, fetch, "00000002.history", "pg_wal/RECOVERYHISTORY")).isZero();
            assertThat(data.resolve("pg_wal/RECOVERYHISTORY")).hasBinaryContent(history);
            // PostgreSQL probes the next timeline's history when recovery ends.
            assertThat(call(data, javaHome, fetch, "00000003.history", "pg_wal/RECOVERYHISTORY")).isEqualTo(1);
            // It asks for the parent timeline's history when it picks a new timeline; timeline 1 never has one.
            assertThat(call(data, javaHome, fetch, "00000001.history", "pg_wal/RECOVERYHISTORY")).isEqualTo(1);
            // And it reads the last segment again when recovery ends, after it took it once: fetched again on request.
            Path third = segments.get(2);
            Files.delete(data.resolve("pg_wal/RECOVERYXLOG"));
            assertThat(call(data, javaHome, fetch, third.getFileName().toString(), "pg_wal/RECOVERYXLOG")).isZero();
            assertThat(Files.mismatch(data.resolve("pg_wal/RECOVERYXLOG"), third)).isEqualTo(-1);
            assertThat(javaStarts(javaLog)).as("only the prefetcher started a JVM").hasSize(1).allMatch(l -> l.contains("PrefetchDaemon"));

            // Archived after it was answered absent: the marker is re-checked, and the segment comes.
            archive(archiver, segments.get(3));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            int exit;
            do {
                Thread.sleep(200);
                exit = call(data, javaHome, fetch, fourth, "pg_wal/RECOVERYXLOG");
            } while (exit != 0 && System.nanoTime() < deadline);
            assertThat(exit).isZero();
            assertThat(Files.mismatch(data.resolve("pg_wal/RECOVERYXLOG"), segments.get(3))).isEqualTo(-1);

            // A segment of which only a streamed head is archived: never "not archived", the Java command serves it padded.
            Path fifth = segments.get(4);
            byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(fifth), 1 << 20);
            storeStreamedHead(store, dir, WalFileName.parse(fifth.getFileName().toString()), head);
            // (An answer the prefetcher gave before the head was stored may stand for up to a second.)
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            do {
                Thread.sleep(200);
                exit = call(data, javaHome, fetch, fifth.getFileName().toString(), "pg_wal/RECOVERYXLOG");
            } while (exit != 0 && System.nanoTime() < deadline);
            assertThat(exit).isZero();
            byte[] restored = Files.readAllBytes(data.resolve("pg_wal/RECOVERYXLOG"));
            assertThat(restored).hasSize(16 << 20);
            assertThat(java.util.Arrays.copyOf(restored, head.length)).isEqualTo(head);
            assertThat(javaStarts(javaLog)).last().asString().contains("WalFetchMain");
            assertThat(data.resolve("pg_wal/pgvault-spool/" + fifth.getFileName() + ".absent")).doesNotExist();

            // Without the prefetcher its markers mean nothing: the Java command answers (kill -9: .pid stays, naming a dead process).
            long pid = ownerPid(data.resolve("pg_wal/pgvault-spool"));
            ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow();
            assertThat(daemon.info().commandLine().orElse("")).contains("PrefetchDaemon");
            daemon.destroyForcibly();
            daemon.onExit().get(30, TimeUnit.SECONDS);
            assertThat(data.resolve("pg_wal/pgvault-spool/00000003.history.absent")).exists();
            assertThat(call(data, javaHome, fetch, "00000003.history", "pg_wal/RECOVERYHISTORY")).isEqualTo(1);
            assertThat(javaStarts(javaLog)).last().asString().contains("WalFetchMain");
            // A file in the spool is complete (flushed, then renamed into place) whoever wrote it: still served without a JVM.
            int beforeHistory = javaStarts(javaLog).size();
            assertThat(call(data, javaHome, fetch, "00000002.history", "pg_wal/RECOVERYHISTORY")).isZero();
            assertThat(data.resolve("pg_wal/RECOVERYHISTORY")).hasBinaryContent(history);
            assertThat(javaStarts(javaLog)).hasSize(beforeHistory);
            // PostgreSQL asks for timeline 1's history once more when it promotes, after it removed recovery.signal (so
            // without the spool): it never writes one, so the answer needs no JVM either (one took 0.4-0.6 s per PITR).
            Files.delete(data.resolve("recovery.signal"));
            assertThat(call(data, javaHome, fetch, "00000001.history", "pg_wal/RECOVERYHISTORY")).isEqualTo(1);
            assertThat(javaStarts(javaLog)).hasSize(beforeHistory);
        } finally {
            stopPrefetcher(dir.resolve("data"));
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * A DBA trying {@code wal-fetch --spool} by hand, in a directory that is not a data
     * directory in recovery: the call used to wait 30 s on the prefetcher (which waits for a
     * recovery signal file) before falling back to the Java command. Now the spool is not used
     * at all: one JVM, the segment, no prefetcher, no spool directory.
     */
    @Test
    void aCallOutsideRecoveryDoesNotUseTheSpool() throws Exception {
        Path dir = RecoverySupport.workDirectory("pgvault-spool-by-hand");
        Path repo = dir.resolve("repo");
        try {
            List<Path> segments = archivedSegments(dir, 1);
            archive(newRepository(new LocalDirectoryStore(repo), dir), segments.get(0));
            Path data = Files.createDirectories(dir.resolve("by-hand"));
            Path javaLog = dir.resolve("java-starts.log");
            Path javaHome = standInJava(dir, javaLog);
            List<String> fetch = List.of("wal-fetch", "--repo", repo.toUri().toString(), "--cluster", CLUSTER, "--spool", "pgvault-spool");

            assertThat(call(data, javaHome, fetch, segments.get(0).getFileName().toString(), "restored")).isZero();
            assertThat(Files.mismatch(data.resolve("restored"), segments.get(0))).isEqualTo(-1);
            assertThat(javaStarts(javaLog)).hasSize(1).allMatch(l -> l.contains("WalFetchMain"));
            assertThat(data.resolve("pgvault-spool")).doesNotExist();
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * recover starts the prefetcher before it unpacks the backup: it gets ready (its JVM, the
     * repository, the history files) but fetches nothing until the recovery signal file is
     * written, so the unpacking has the machine to itself; then the segments come at once.
     */
    @Test
    void aPrefetcherStartedBeforeTheRestoreFetchesOnlyOnceRecoveryIsSignalled() throws Exception {
        Path dir = RecoverySupport.workDirectory("pgvault-spool-wait-it");
        Path data = dir.resolve("data");
        try {
            List<Path> segments = archivedSegments(dir, 2);
            Path repo = repositoryHolding(dir, segments, 16);
            Path spool = Files.createDirectories(data.resolve("pg_wal/pgvault-spool"));
            String first = segments.get(0).getFileName().toString();
            // As recover starts it (PrefetchDaemon.startFor), from the packaged command: the backup's first segment requested.
            Files.writeString(spool.resolve(".requested"), first + "\n");
            new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(), "-cp",
                    Path.of("target/pgvault-cli.jar").toAbsolutePath().toString(), "io.pgvault.restore.fetch.PrefetchDaemon",
                    "--repo", repo.toUri().toString(), "--cluster", CLUSTER, "--spool", "pg_wal/pgvault-spool")
                    .directory(data.toFile()).redirectErrorStream(true).redirectOutput(spool.resolve("prefetch.log").toFile()).start();

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(spool.resolve(".histories")) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(spool.resolve(".histories")).as("the prefetcher looked at the repository\n" + log(spool)).exists();
            Thread.sleep(1000);
            assertThat(spool.resolve(first)).as("nothing fetched before the recovery signal").doesNotExist();

            Files.writeString(data.resolve("recovery.signal"), "");
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!segments.stream().allMatch(s -> Files.exists(spool.resolve(s.getFileName()))) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            for (Path segment : segments) {
                assertThat(Files.mismatch(spool.resolve(segment.getFileName()), segment)).as(segment.getFileName() + "\n" + log(spool)).isEqualTo(-1);
            }
        } finally {
            stopPrefetcher(data);
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * recover starts its prefetcher at low priority, so PostgreSQL's first call may come before
     * it owns the spool: the call waits for the one named in {@code .starting} instead of
     * starting a second JVM, and only while that process runs. A stand-in process that never
     * takes the spool shows both: no prefetcher started while it lives (the call falls back to
     * the Java command after its bound), one started once it is gone.
     */
    @Test
    void aPrefetcherOnItsWayIsWaitedForNotStartedTwice() throws Exception {
        Path dir = RecoverySupport.workDirectory("pgvault-spool-starting-it");
        Path data = dir.resolve("data");
        Process onItsWay = null;
        try {
            List<Path> segments = archivedSegments(dir, 2);
            Path repo = repositoryHolding(dir, segments, 16);
            Path spool = Files.createDirectories(data.resolve("pg_wal/pgvault-spool"));
            Files.writeString(data.resolve("recovery.signal"), "");
            Path javaLog = dir.resolve("java-starts.log");
            Path javaHome = standInJava(dir, javaLog);
            List<String> fetch = walFetch(repo);
            onItsWay = new ProcessBuilder("sleep", "120").start();
            new PrefetchSpool(spool).starting(ProcessIdentity.of(onItsWay.pid()).orElseThrow());

            String first = segments.get(0).getFileName().toString();
            assertThat(call(data, javaHome, fetch, first, "pg_wal/RECOVERYXLOG")).isZero();
            assertThat(Files.mismatch(data.resolve("pg_wal/RECOVERYXLOG"), segments.get(0))).isEqualTo(-1);
            assertThat(javaStarts(javaLog)).as("waited for the prefetcher on its way, then fetched itself")
                    .singleElement().asString().contains("WalFetchMain");

            onItsWay.destroyForcibly().waitFor();
            String second = segments.get(1).getFileName().toString();
            assertThat(call(data, javaHome, fetch, second, "pg_wal/RECOVERYXLOG")).isZero();
            assertThat(Files.mismatch(data.resolve("pg_wal/RECOVERYXLOG"), segments.get(1))).isEqualTo(-1);
            assertThat(javaStarts(javaLog)).as("the one on its way died: a prefetcher is started").anyMatch(l -> l.contains("PrefetchDaemon"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(spool.resolve(PrefetchSpool.OWNER)) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(spool.resolve(PrefetchSpool.STARTING)).as("the owner removes .starting once it has published itself").doesNotExist();
        } finally {
            if (onItsWay != null) {
                onItsWay.destroyForcibly();
            }
            stopPrefetcher(data);
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * kill -9 of the prefetcher at each step of its work, and a pid reused by an unrelated
     * process: the next call never trusts what the dead one left (its "not archived", its
     * "coming"), answers right, and waits no longer than the launcher's bound.
     */
    @Test
    void aKilledPrefetchersLeftoversAreNeverTrustedAndAReusedPidIsNotTakenForIt() throws Exception {
        Path dir = RecoverySupport.workDirectory("pgvault-spool-crash-it");
        Path data = dir.resolve("data");
        Process unrelated = null;
        try {
            List<Path> segments = archivedSegments(dir, 5);
            Path repo = dir.resolve("repo");
            LocalDirectoryStore store = new LocalDirectoryStore(repo);
            WalArchiver archiver = newRepository(store, dir);
            // The fourth is archived only after it was answered absent.
            for (Path segment : List.of(segments.get(0), segments.get(1), segments.get(2), segments.get(4))) {
                archive(archiver, segment);
            }
            byte[] history = "1\t0/9000000\tno recovery target specified\n".getBytes(StandardCharsets.US_ASCII);
            archiver.archive(CLUSTER, ClusterIdentity.UNKNOWN, WalFileName.parse("00000002.history"), new ByteArrayInputStream(history),
                    history.length);
            Files.createDirectories(data.resolve("pg_wal"));
            Files.writeString(data.resolve("recovery.signal"), "");
            Path spool = data.resolve("pg_wal/pgvault-spool");
            Path javaLog = dir.resolve("java-starts.log");
            Path javaHome = standInJava(dir, javaLog);
            List<String> fetch = walFetch(repo);
            Path xlog = data.resolve("pg_wal/RECOVERYXLOG");

            // 1. Before its first look at the history files: it blocks reading the cluster's descriptor (a FIFO here).
            Path descriptor = repo.resolve(RepositoryLayout.clusterDescriptor(CLUSTER));
            Path aside = dir.resolve("descriptor-aside");
            Files.move(descriptor, aside);
            mkfifo(descriptor);
            assertThat(timedCall(data, javaHome, fetch, name(segments.get(0)), "pg_wal/RECOVERYXLOG")).isZero();
            assertThat(Files.mismatch(xlog, segments.get(0))).isEqualTo(-1);
            assertThat(spool.resolve(".histories")).doesNotExist();
            // A live prefetcher that does not answer: the call waits its bound (2 s), then the Java command answers.
            long started = System.nanoTime();
            assertThat(timedCall(data, javaHome, fetch, "00000002.history", "pg_wal/RECOVERYHISTORY")).isZero();
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).isGreaterThanOrEqualTo(1900);
            assertThat(data.resolve("pg_wal/RECOVERYHISTORY")).hasBinaryContent(history);
            assertThat(javaStarts(javaLog)).last().asString().contains("WalFetchMain");
            killPrefetcher(spool);
            Files.delete(descriptor);
            Files.move(aside, descriptor);
            assertThat(timedCall(data, javaHome, fetch, "00000003.history", "pg_wal/RECOVERYHISTORY")).isEqualTo(1);
            // (It fetched the second beside the first, before it blocked: a whole file counts whoever wrote it, so take
            // that away for the next call to start a prefetcher.)
            Files.deleteIfExists(spool.resolve(name(segments.get(1))));

            // 2. While a segment is pending: the third blocks (a FIFO) once the second is taken.
            Path third = repo.resolve(RepositoryLayout.walKey(CLUSTER, WalFileName.parse(name(segments.get(2)))));
            Path thirdAside = dir.resolve("third-aside");
            Files.move(third, thirdAside);
            mkfifo(third);
            assertThat(timedCall(data, javaHome, fetch, name(segments.get(1)), "pg_wal/RECOVERYXLOG")).isZero();
            assertThat(Files.mismatch(xlog, segments.get(1))).isEqualTo(-1);
            waitFor(spool.resolve(name(segments.get(2)) + ".pending"));
            killPrefetcher(spool);
            Files.delete(third);
            Files.move(thirdAside, third);
            assertThat(spool.resolve(name(segments.get(2)) + ".pending")).as("left by the killed prefetcher").exists();
            assertThat(timedCall(data, javaHome, fetch, name(segments.get(2)), "pg_wal/RECOVERYXLOG")).isZero();
            assertThat(Files.mismatch(xlog, segments.get(2))).isEqualTo(-1);

            // 3. After "not archived": the marker outlives it, the segment is archived since; it must come.
            String fourth = name(segments.get(3));
            assertThat(timedCall(data, javaHome, fetch, fourth, "pg_wal/RECOVERYXLOG")).isEqualTo(1);
            waitFor(spool.resolve(fourth + ".absent"));
            killPrefetcher(spool);
            archive(archiver, segments.get(3));
            assertThat(spool.resolve(fourth + ".absent")).exists();
            assertThat(timedCall(data, javaHome, fetch, fourth, "pg_wal/RECOVERYXLOG")).isZero();
            assertThat(Files.mismatch(xlog, segments.get(3))).isEqualTo(-1);

            // 4. Its pid reused: .pid names a live, unrelated process (as if the kernel gave it the dead prefetcher's pid),
            // and the dead one's markers say the fifth and timeline 2's history are not archived.
            killPrefetcher(spool);
            unrelated = new ProcessBuilder("sleep", "600").start();
            String[] owner = Files.readString(spool.resolve(".pid")).strip().split(" ");
            Files.writeString(spool.resolve(".pid"), unrelated.pid() + " " + owner[1] + " " + owner[2] + "\n");
            String fifth = name(segments.get(4));
            // (The killed one may have fetched the fifth already: a whole file counts whoever wrote it, so take that away.)
            Files.deleteIfExists(spool.resolve(fifth));
            Files.write(spool.resolve(fifth + ".absent"), new byte[0]);
            Files.write(spool.resolve(".histories"), new byte[0]);
            Files.deleteIfExists(spool.resolve("00000002.history"));
            Files.write(spool.resolve("00000002.history.absent"), new byte[0]);
            int javaBefore = javaStarts(javaLog).size();
            assertThat(timedCall(data, javaHome, fetch, "00000002.history", "pg_wal/RECOVERYHISTORY")).isZero();
            assertThat(data.resolve("pg_wal/RECOVERYHISTORY")).hasBinaryContent(history);
            assertThat(timedCall(data, javaHome, fetch, fifth, "pg_wal/RECOVERYXLOG")).isZero();
            assertThat(Files.mismatch(xlog, segments.get(4))).isEqualTo(-1);
            assertThat(javaStarts(javaLog).subList(javaBefore, javaStarts(javaLog).size())).as("a new prefetcher, the sleep is not one")
                    .anyMatch(l -> l.contains("PrefetchDaemon"));
            assertThat(unrelated.isAlive()).as("left alone").isTrue();
            assertThat(ownerPid(spool)).isNotEqualTo(unrelated.pid());
        } finally {
            if (unrelated != null) {
                unrelated.destroyForcibly();
            }
            stopPrefetcher(data);
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * A damaged object is not "not archived": the prefetcher's fetch fails and leaves no
     * marker, the launcher's ask comes back empty, and the Java command exits 200 (PostgreSQL
     * stops recovery) instead of 1 (it would end recovery early).
     */
    @Test
    void aDamagedSegmentStopsRecoveryAndIsNeverAnsweredAbsent() throws Exception {
        Path dir = RecoverySupport.workDirectory("pgvault-spool-damaged-it");
        Path data = dir.resolve("data");
        try {
            List<Path> segments = archivedSegments(dir, 2);
            Path repo = repositoryHolding(dir, segments, 16);
            Path damaged = repo.resolve(RepositoryLayout.walKey(CLUSTER, WalFileName.parse(name(segments.get(1)))));
            byte[] bytes = Files.readAllBytes(damaged);
            bytes[bytes.length - 10] ^= 0x5a;
            Files.write(damaged, bytes);
            Files.createDirectories(data.resolve("pg_wal"));
            Files.writeString(data.resolve("recovery.signal"), "");
            Path javaHome = standInJava(dir, dir.resolve("java-starts.log"));
            List<String> fetch = List.of("wal-fetch", "--repo", repo.toUri().toString(), "--cluster", CLUSTER, "--spool", "pg_wal/pgvault-spool",
                    "--retry-for", "1");
            assertThat(timedCall(data, javaHome, fetch, name(segments.get(0)), "pg_wal/RECOVERYXLOG")).isZero();
            assertThat(timedCall(data, javaHome, fetch, name(segments.get(1)), "pg_wal/RECOVERYXLOG"))
                    .isEqualTo(WalFetchMain.RECOVERY_FAILURE);
            assertThat(data.resolve("pg_wal/pgvault-spool/" + name(segments.get(1)) + ".absent")).doesNotExist();
            assertThat(data.resolve("pg_wal/pgvault-spool/" + name(segments.get(1)))).doesNotExist();
        } finally {
            stopPrefetcher(data);
            Fixtures.deleteTree(dir);
        }
    }

    /**
     * Every segment size PostgreSQL allows works through the launcher's fast path: real WAL of
     * clusters made with initdb --wal-segsize, restored in order from the spool (the names
     * come from the prefetcher, which knows the size, never from the launcher).
     */
    @Test
    void smallAndLargeSegmentsComeThroughTheSpool() throws Exception {
        // 1 MiB: 4096 segments per log file; the old launcher's arithmetic assumed at most 256, so these names cross
        // ...00FF to ...0100 within log file 0.
        List<String> small = throughTheSpool(1, 0xFC, 8, 20, true);
        assertThat(small).contains("0000000100000000000000FF", "000000010000000000000100");
        throughTheSpool(64, 0, 3, 200, true);
    }

    /**
     * 1 GiB segments: four per log file, so the fourth segment's name is the next log file's
     * first (000000010000000100000000). A fetch of one may take longer than the launcher's
     * bound, so a call may fall back to the Java command: only the answers are checked.
     */
    @Test
    void gigabyteSegmentsCrossTheLogFileBoundary() throws Exception {
        long free = Files.getFileStore(Path.of(System.getProperty("java.io.tmpdir"))).getUsableSpace();
        org.junit.jupiter.api.Assumptions.assumeTrue(free > (24L << 30), "skipped: 1 GiB segments need about 12 GiB of free disk, "
                + "twice that wanted, " + (free >> 30) + " GiB free");
        List<String> names = throughTheSpool(1024, 0, 4, 3000, false);
        assertThat(names).contains("000000010000000100000000");
    }

    /**
     * Real WAL of {@code megabytes} segments, {@code count} of them from segment number {@code from} on, restored in order
     * through bin/pgvault; returns the segments' names.
     */
    private static List<String> throughTheSpool(int megabytes, long from, int count, long paceMillis, boolean onlyThePrefetchersJvm)
            throws Exception {
        Path dir = RecoverySupport.workDirectory("pgvault-spool-size-" + megabytes);
        Path data = dir.resolve("data");
        try {
            List<Path> segments = archivedSegments(dir, count, megabytes, from);
            for (Path segment : segments) {
                assertThat(Files.size(segment)).isEqualTo((long) megabytes << 20);
            }
            Path repo = repositoryHolding(dir, segments, megabytes);
            Files.createDirectories(data.resolve("pg_wal"));
            Files.writeString(data.resolve("recovery.signal"), "");
            Path javaLog = dir.resolve("java-starts.log");
            Path javaHome = standInJava(dir, javaLog);
            List<String> fetch = walFetch(repo);
            for (Path segment : segments) {
                assertThat(timedCall(data, javaHome, fetch, name(segment), "pg_wal/RECOVERYXLOG")).as(megabytes + " MiB " + name(segment)).isZero();
                assertThat(Files.mismatch(data.resolve("pg_wal/RECOVERYXLOG"), segment)).isEqualTo(-1);
                Files.delete(data.resolve("pg_wal/RECOVERYXLOG"));
                // A replay's pace: the prefetcher gets ahead.
                Thread.sleep(paceMillis);
            }
            io.pgvault.core.wal.WalSegmentSize size = io.pgvault.core.wal.WalSegmentSize.ofMegabytes(megabytes);
            WalFileName last = WalFileName.parse(name(segments.get(segments.size() - 1)));
            String after = WalFileName.segment(last.timeline(), last.segmentNumber(size) + 1, size).toString();
            assertThat(timedCall(data, javaHome, fetch, after, "pg_wal/RECOVERYXLOG")).as("past the end").isEqualTo(1);
            System.out.println(megabytes + " MiB segments: JVMs started " + javaStarts(javaLog));
            if (onlyThePrefetchersJvm) {
                assertThat(javaStarts(javaLog)).as("only the prefetcher started a JVM\n" + log(data.resolve("pg_wal/pgvault-spool")))
                        .hasSize(1).allMatch(l -> l.contains("PrefetchDaemon"));
            }
            return segments.stream().map(PrefetchSpoolIT::name).toList();
        } finally {
            stopPrefetcher(data);
            Fixtures.deleteTree(dir);
        }
    }

    private static String name(Path segment) {
        return segment.getFileName().toString();
    }

    private static void mkfifo(Path path) throws Exception {
        assertThat(new ProcessBuilder("mkfifo", path.toString()).inheritIO().start().waitFor()).isZero();
    }

    private static void waitFor(Path file) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(file) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(file).exists();
    }

    /** kill -9 of the spool's prefetcher; it leaves its .pid and markers. */
    private static void killPrefetcher(Path spool) throws Exception {
        ProcessHandle daemon = ProcessHandle.of(ownerPid(spool)).orElseThrow();
        assertThat(daemon.info().commandLine().orElse("")).contains("PrefetchDaemon");
        daemon.destroyForcibly();
        daemon.onExit().get(30, TimeUnit.SECONDS);
        assertThat(spool.resolve(".pid")).exists();
    }

    /**
     * A call, which must answer within the launcher's bound (5 s when it starts the prefetcher)
     * plus, when it gave up on the spool, what the Java command takes on a loaded machine.
     */
    private static int timedCall(Path data, Path javaHome, List<String> fetch, String file, String target) throws Exception {
        long started = System.nanoTime();
        int exit = call(data, javaHome, fetch, file, target);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        System.out.println("restore_command " + file + ": exit " + exit + " in " + ms + " ms");
        assertThat(ms).as(file).isLessThan(5000 + 15000);
        return exit;
    }

    /** A repository with the cluster registered; returns the archiver that fills it, as the server would. */
    /** A new repository at {@code dir/repo} with every one of {@code segments} archived into it. */
    private static Path repositoryHolding(Path dir, List<Path> segments, int segmentMegabytes) throws IOException {
        Path repo = dir.resolve("repo");
        WalArchiver archiver = newRepository(new LocalDirectoryStore(repo), dir, segmentMegabytes);
        for (Path segment : segments) {
            archive(archiver, segment);
        }
        return repo;
    }

    private static WalArchiver newRepository(LocalDirectoryStore store, Path dir) throws IOException {
        return newRepository(store, dir, 16);
    }

    private static WalArchiver newRepository(LocalDirectoryStore store, Path dir, int segmentMegabytes) throws IOException {
        RepositoryFormat.initialize(store, "test");
        new ClusterDescriptor(CLUSTER, null, null, (long) segmentMegabytes << 20, 15, "2026-11-25T00:00:00Z").write(store);
        return new WalArchiver(store, Codecs.parse("zstd"), dir.resolve("spool"), "test", Clock.systemUTC());
    }

    private static String log(Path spool) throws IOException {
        Path log = spool.resolve("prefetch.log");
        return Files.exists(log) ? Files.readString(log) : "(no prefetch.log)";
    }

    /** Real WAL: a primary archives with cp while pgbench writes, until {@code count} segments are there. */
    private static List<Path> archivedSegments(Path dir, int count) throws Exception {
        return archivedSegments(dir, count, 16, 0);
    }

    /** {@code count} archived segments of a cluster with {@code segmentMegabytes} segments, the first numbered {@code from} or later. */
    private static List<Path> archivedSegments(Path dir, int count, int segmentMegabytes, long from) throws Exception {
        Path archive = Files.createDirectories(dir.resolve("archive"));
        Files.setPosixFilePermissions(archive, PosixFilePermissions.fromString("rwxrwxrwx"));
        io.pgvault.core.wal.WalSegmentSize size = io.pgvault.core.wal.WalSegmentSize.ofMegabytes(segmentMegabytes);
        try (PgCluster pg = PgCluster.builder(15).walSegmentSizeMb(segmentMegabytes).setting("archive_mode", "on")
                // Renamed into place: a large segment is seen only once it is whole.
                .setting("archive_command", "cp %p " + archive + "/%f.tmp && mv " + archive + "/%f.tmp " + archive + "/%f").start()) {
            pg.execute("CREATE TABLE filler AS SELECT 1 AS x");
            long current = WalFileName.parse(pg.queryValue("SELECT pg_walfile_name(pg_current_wal_lsn())")).segmentNumber(size);
            // Segments up to `from` written in one statement: a row, then a switch, each time.
            pg.execute("DO $$ BEGIN FOR i IN 1.." + Math.max(0, from - current) + " LOOP INSERT INTO filler VALUES (i); "
                    + "PERFORM pg_switch_wal(); END LOOP; END $$");
            for (int i = 0; i < count; i++) {
                pg.execute("INSERT INTO filler SELECT g FROM generate_series(1, 1000) g");
                pg.execute("SELECT pg_switch_wal()");
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (from(segmentsIn(archive), from, size).size() < count && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
        }
        List<Path> segments = from(segmentsIn(archive), from, size);
        assertThat(segments).hasSizeGreaterThanOrEqualTo(count);
        return segments.subList(0, count);
    }

    private static List<Path> from(List<Path> segments, long from, io.pgvault.core.wal.WalSegmentSize size) {
        return segments.stream().filter(s -> WalFileName.parse(name(s)).segmentNumber(size) >= from).toList();
    }

    private static List<Path> segmentsIn(Path archive) throws IOException {
        try (Stream<Path> files = Files.list(archive)) {
            return files.filter(f -> f.getFileName().toString().matches("[0-9A-F]{24}")).sorted().toList();
        }
    }

    private static void archive(WalArchiver archiver, Path segment) throws IOException {
        try (InputStream in = Files.newInputStream(segment)) {
            archiver.archive(CLUSTER, ClusterIdentity.UNKNOWN, WalFileName.parse(segment.getFileName().toString()), in, Files.size(segment));
        }
    }

    /** A streamed head as the receiver stores it: the segment's first bytes, to be padded with zeros when served. */
    private static void storeStreamedHead(LocalDirectoryStore store, Path dir, WalFileName segment, byte[] head) throws Exception {
        Path payload = dir.resolve("head.zst");
        try (java.io.OutputStream out = Codecs.parse("zstd").compress(Files.newOutputStream(payload))) {
            out.write(head);
        }
        String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(head));
        ObjectEnvelope.store(store, RepositoryLayout.streamingPartial(CLUSTER, segment), new ObjectHeader("streaming-partial",
                segment.toString(), head.length, sha, "zstd", null, null, 1, 16L << 20, "test", "2026-11-25T00:00:00Z", 15), payload, false);
    }

    /** A JAVA_HOME whose bin/java notes its arguments, then runs this JVM's java. */
    private static Path standInJava(Path dir, Path log) throws IOException {
        Path home = Files.createDirectories(dir.resolve("java-home/bin"));
        String real = ProcessHandle.current().info().command().orElseThrow();
        Path java = home.resolve("java");
        Files.writeString(java, "#!/bin/sh\necho \"$*\" >> '" + log + "'\nexec '" + real + "' \"$@\"\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        return home.getParent();
    }

    private static List<String> javaStarts(Path log) throws IOException {
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
    }

    /** One restore_command call from the data directory, as PostgreSQL makes it; returns its exit code. */
    private static int call(Path data, Path javaHome, List<String> fetch, String file, String target) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of("").toAbsolutePath().getParent().resolve("bin/pgvault").toString());
        command.addAll(fetch);
        command.add(file);
        command.add(target);
        ProcessBuilder builder = new ProcessBuilder(command).directory(data.toFile()).redirectErrorStream(true);
        builder.environment().put("JAVA_HOME", javaHome.toString());
        Process p = builder.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
        if (!output.isBlank()) {
            System.out.println("restore_command " + file + " exited " + p.exitValue() + ": " + output);
        }
        return p.exitValue();
    }

    /** The pid in the spool's .pid ("PID START_TIME BOOT_ID"). */
    private static long ownerPid(Path spool) throws IOException {
        return ProcessIdentity.parse(Files.readString(spool.resolve(PrefetchSpool.OWNER))).orElseThrow().pid();
    }

    private static void stopPrefetcher(Path data) {
        try {
            Files.deleteIfExists(data.resolve("recovery.signal"));
            Path pid = data.resolve("pg_wal/pgvault-spool/.pid");
            if (Files.exists(pid)) {
                // Only the prefetcher this test started: the pid file may outlive it.
                ProcessHandle.of(ownerPid(pid.getParent()))
                        .filter(h -> h.info().commandLine().orElse("").contains("PrefetchDaemon"))
                        .ifPresent(ProcessHandle::destroyForcibly);
            }
        } catch (IOException | NumberFormatException e) {
            // nothing left to stop
        }
    }
}

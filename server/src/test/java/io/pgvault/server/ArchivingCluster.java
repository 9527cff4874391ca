package io.pgvault.server;

import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real PostgreSQL whose {@code archive_command} is the README's curl one-liner, plus a
 * copy of every file once curl reported success: the files PostgreSQL saw acknowledged.
 */
public final class ArchivingCluster implements AutoCloseable {

    private final PgCluster pg;
    private final Path acknowledged;
    private final WalSegmentSize segmentSize;

    private ArchivingCluster(PgCluster pg, Path acknowledged, WalSegmentSize segmentSize) {
        this.pg = pg;
        this.acknowledged = acknowledged;
        this.segmentSize = segmentSize;
    }

    public static ArchivingCluster start(int major, int segmentSizeMb, String serverUrl, String cluster) {
        try {
            Path acked = Files.createTempDirectory("pgvault-acked-");
            Files.setPosixFilePermissions(acked, PosixFilePermissions.fromString("rwxr-xr-x"));
            OsUser.own(acked);
            String command = "curl -fsS -T %p " + serverUrl + "/v1/clusters/" + cluster + "/wal/%f && cp %p " + acked + "/%f";
            PgCluster pg = PgCluster.builder(major)
                    .walSegmentSizeMb(segmentSizeMb)
                    .setting("archive_mode", "on")
                    .setting("archive_command", command)
                    .start();
            return new ArchivingCluster(pg, acked, WalSegmentSize.ofMegabytes(segmentSizeMb));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public PgCluster pg() {
        return pg;
    }

    public Path acknowledged() {
        return acknowledged;
    }

    /** Runs pgbench (initialise at {@code scale}, then {@code seconds} of load) against the cluster. */
    public void pgbench(int scale, int seconds) {
        String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
        run("pgbench -i -q -s " + scale + " " + conn + " postgres");
        run("pgbench -T " + seconds + " -c 2 -j 2 -n " + conn + " postgres");
    }

    /** Switches to a new segment and waits until the archiver has shipped everything before it. */
    public WalFileName switchAndAwaitArchived(Duration timeout) throws InterruptedException {
        Lsn end = Lsn.parse(pg.queryValue("SELECT pg_switch_wal()"));
        String timeline = pg.queryValue("SELECT timeline_id FROM pg_control_checkpoint()");
        WalFileName last = WalFileName.segmentOf(new TimelineId(Long.parseLong(timeline)), end.plus(-1), segmentSize);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            String archived = pg.queryValue("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
            if (archived.compareTo(last.toString()) >= 0 && Files.exists(acknowledged.resolve(last.toString()))) {
                return last;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the archiver did not ship " + last + " within " + timeout + "; pg_stat_archiver: "
                + pg.queryValue("SELECT row_to_json(a)::text FROM pg_stat_archiver a") + "\n" + pg.serverLog());
    }

    public List<Path> acknowledgedFiles() {
        try (var files = Files.list(acknowledged)) {
            return files.sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void run(String command) {
        try {
            Process p = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IllegalStateException("failed: " + command + " (is pgbench installed? .ci/run installs postgresql-client)");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        pg.close();
        io.pgvault.testkit.Fixtures.deleteTree(acknowledged);
    }
}

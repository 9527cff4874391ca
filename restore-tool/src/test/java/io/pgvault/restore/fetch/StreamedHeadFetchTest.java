package io.pgvault.restore.fetch;

import io.pgvault.core.archive.ClusterIdentity;
import io.pgvault.core.archive.WalArchiver;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.stream.ArchiveSink;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalRecordScanner;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A standby that streams from its primary is ahead of the head pgvault streamed of the
 * same segment when the primary dies. wal-fetch must not hand it that shorter head:
 * PostgreSQL would keep it in pg_wal over its own copy and PANIC at promotion when it
 * re-reads its last record there (seen in StreamingRecoveryIT). Real WAL of PostgreSQL 17.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StreamedHeadFetchTest {

    private Path dir;
    private WalFileName segment;
    /** The whole segment as PostgreSQL wrote it. */
    private byte[] written;
    /** How much of it the head holds: up to the end of a commit before the last ones. */
    private int headLength;

    @BeforeAll
    void writeWalAndStoreAHeadOfIt() throws Exception {
        dir = Files.createTempDirectory("pgvault-head-fetch-");
        Lsn headEnd;
        try (PgCluster pg = PgCluster.builder(17).setting("wal_level", "replica").start()) {
            pg.execute("CREATE TABLE t (id int PRIMARY KEY, v text)");
            pg.queryValue("SELECT pg_switch_wal()");
            pg.execute("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g");
            headEnd = Lsn.parse(pg.queryValue("SELECT pg_current_wal_insert_lsn()"));
            pg.execute("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(501, 1000) g");
            segment = WalFileName.parse(pg.queryValue("SELECT pg_walfile_name(pg_current_wal_insert_lsn())"));
            pg.stop();
            written = Files.readAllBytes(pg.dataDirectory().resolve("pg_wal").resolve(segment.toString()));
        }
        WalSegmentSize size = new WalSegmentSize(written.length);
        headLength = Math.toIntExact(headEnd.value() - segment.startLsn(size).value());
        assertThat(WalFileName.segmentOf(segment.timeline(), headEnd, size)).as("the head ends in the segment").isEqualTo(segment);

        try (LocalDirectoryStore store = new LocalDirectoryStore(dir.resolve("repo"))) {
            new ClusterDescriptor("main", "host=db1", "7", size.bytes(), 17, "2026-12-04T00:00:00Z").write(store);
            WalArchiver archiver = new WalArchiver(store, Codecs.parse("zstd"), dir.resolve("spool"), "t", Clock.systemUTC());
            new ArchiveSink(store, ArchiveSink.Ingest.into(archiver, "main", ClusterIdentity.UNKNOWN), Codecs.parse("zstd"), "main",
                    dir.resolve("spool"), "t", 1).partial(segment, written, headLength);
        }
    }

    @AfterAll
    void cleanUp() {
        Fixtures.deleteTree(dir);
    }

    @Test
    void aStandbyWhoseOwnCopyHoldsMoreKeepsIt() throws Exception {
        Path data = dataDirectory("ahead", written);
        Fetch fetch = fetch(data);

        assertThat(fetch.exit()).as(fetch.err()).isEqualTo(WalFetchMain.NOT_ARCHIVED);
        assertThat(fetch.err()).contains("PostgreSQL keeps its own copy").contains(segment.toString());
        assertThat(data.resolve("pg_wal").resolve(segment.toString())).hasBinaryContent(written);
        assertThat(data.resolve("pg_wal/RECOVERYXLOG")).doesNotExist();
        assertThat(data.resolve("pg_wal/RECOVERYXLOG.pgvault-tmp")).doesNotExist();
    }

    @Test
    void anOwnCopyThatEndsEarlierGetsTheHead() throws Exception {
        // Cut inside the head's last records, as a standby that lagged its primary has it.
        byte[] lagging = Arrays.copyOf(written, written.length);
        Arrays.fill(lagging, headLength - 300, lagging.length, (byte) 0);
        Lsn start = segment.startLsn(new WalSegmentSize(written.length));
        assertThat(WalRecordScanner.endOfValidWal(start, lagging)).isLessThan(WalRecordScanner.endOfValidWal(start, head()));
        Path data = dataDirectory("behind", lagging);

        Fetch fetch = fetch(data);

        assertThat(fetch.exit()).as(fetch.err()).isEqualTo(WalFetchMain.RESTORED);
        assertThat(data.resolve("pg_wal/RECOVERYXLOG")).hasBinaryContent(head());
    }

    @Test
    void withoutAnOwnCopyTheHeadStandsInForTheSegment() throws Exception {
        Path data = dataDirectory("fresh", null);

        Fetch fetch = fetch(data);

        assertThat(fetch.exit()).as(fetch.err()).isEqualTo(WalFetchMain.RESTORED);
        assertThat(data.resolve("pg_wal/RECOVERYXLOG")).hasBinaryContent(head());
    }

    /** What the repository serves for the segment: the head, padded with zeros. */
    private byte[] head() {
        byte[] padded = new byte[written.length];
        System.arraycopy(written, 0, padded, 0, headLength);
        return padded;
    }

    private Path dataDirectory(String name, byte[] ownCopy) throws Exception {
        Path data = Files.createDirectories(dir.resolve(name).resolve("pg_wal")).getParent();
        Files.createFile(data.resolve("standby.signal"));
        if (ownCopy != null) {
            Files.write(data.resolve("pg_wal").resolve(segment.toString()), ownCopy);
        }
        return data;
    }

    @Test
    void timelineOnesHistoryIsNotArchivedWithoutAskingTheRepository() throws Exception {
        // PostgreSQL asks for it when it promotes from timeline 1; it never writes one. The repository is unreachable: it
        // would be retried for 30 s and then fail recovery, were it asked.
        Path data = dataDirectory("promoting", null);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = WalFetchMain.run(List.of("--repo", "s3://nowhere/repo", "--s3-endpoint", "http://127.0.0.1:9", "--cluster", "main",
                "--retry-for", "30", "00000001.history", "pg_wal/RECOVERYHISTORY"), Map.of(), new PrintStream(err, true, StandardCharsets.UTF_8), data);
        assertThat(exit).isEqualTo(WalFetchMain.NOT_ARCHIVED);
        assertThat(err.toString(StandardCharsets.UTF_8)).isEmpty();
        assertThat(data.resolve("pg_wal/RECOVERYHISTORY")).doesNotExist();
    }

    private record Fetch(int exit, String err) {
    }

    private Fetch fetch(Path data) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = WalFetchMain.run(List.of("--repo", dir.resolve("repo").toUri().toString(), "--cluster", "main", "--retry-for", "1",
                segment.toString(), "pg_wal/RECOVERYXLOG"), Map.of(), new PrintStream(err, true, StandardCharsets.UTF_8), data);
        return new Fetch(exit, err.toString(StandardCharsets.UTF_8));
    }
}

package io.pgvault.core.stream;

import io.pgvault.core.archive.ClusterIdentity;
import io.pgvault.core.archive.WalArchiver;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalRecordScanner;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Streaming into a repository from real PostgreSQL: completed segments are byte for byte
 * the primary's, the slot never runs ahead of what the repository holds, and a commit
 * made more than the flush interval before the primary is killed is in the stored tail.
 */
class WalReceiverTest {

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {15, 17})
    void aCommitStreamedBeforeTheCrashIsInTheRepository(int major) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-stream-");
        try (PgCluster pg = PgCluster.builder(major).start(); LocalDirectoryStore store = new LocalDirectoryStore(dir.resolve("repo"))) {
            WalSegmentSize size = WalSegmentSize.DEFAULT;
            Conninfo conninfo = Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres");
            ReplicationConnection.SystemIdentity id;
            try (ReplicationConnection rc = ReplicationConnection.open(conninfo, "test")) {
                id = rc.identifySystem();
            }
            ClusterIdentity identity = ClusterIdentity.of(Long.parseUnsignedLong(id.systemIdentifier()), size);
            WalArchiver archiver = new WalArchiver(store, Codecs.parse("zstd"), dir.resolve("spool"), "test", Clock.systemUTC());
            ArchiveSink sink = new ArchiveSink(store, ArchiveSink.Ingest.into(archiver, "main", identity), Codecs.parse("zstd"), "main", dir.resolve("spool"), "test", 1);
            WalReceiver receiver = new WalReceiver(conninfo, sink, new WalReceiver.Settings("pgvault_main", "test", Duration.ofSeconds(1), 4L << 20, 200));
            CompletableFuture<Throwable> streaming = CompletableFuture.supplyAsync(() -> {
                try {
                    receiver.run(server -> new WalReceiver.Position(server.position(), server.timeline()));
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });

            pg.execute("CREATE TABLE t (id int, v text)", "INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 60000) g");
            pg.queryValue("SELECT pg_switch_wal()");
            pg.execute("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g");
            long xid = Long.parseLong(pg.queryValue("WITH i AS (INSERT INTO t VALUES (-1, 'the last commit') RETURNING 1) "
                    + "SELECT txid_current() FROM (SELECT count(*) FROM i) c"));
            Lsn committedAt = Lsn.parse(pg.queryValue("SELECT pg_current_wal_insert_lsn()"));
            // More than the flush interval: the commit must be durable in the repository by now.
            Thread.sleep(2500);
            Lsn slotRestart = Lsn.parse(pg.queryValue("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'pgvault_main'"));
            assertThat(slotRestart).as("the slot never lets go of WAL the repository lacks").isLessThanOrEqualTo(receiver.flushed());
            assertThat(receiver.flushed()).isGreaterThanOrEqualTo(committedAt);
            pg.crash();
            assertThat(streaming.get(60, TimeUnit.SECONDS)).as("the receiver sees the connection drop").isNotNull();

            // Completed segments: byte for byte what the primary wrote.
            List<ObjectStat> segments = store.list(RepositoryLayout.walPrefix("main") + "0000000100000000/");
            assertThat(segments).isNotEmpty();
            for (ObjectStat o : segments) {
                String name = o.key().substring(o.key().lastIndexOf('/') + 1);
                assertThat(content(store, o.key())).as(name).isEqualTo(Files.readAllBytes(pg.dataDirectory().resolve("pg_wal").resolve(name)));
            }
            // The tail: a prefix of the primary's current segment that holds the last commit.
            WalFileName tail = WalFileName.segmentOf(id.timeline(), committedAt, size);
            byte[] partial = content(store, io.pgvault.core.repo.StreamedHeads.longest(store, "main", tail).orElseThrow().key());
            byte[] onDisk = Files.readAllBytes(pg.dataDirectory().resolve("pg_wal").resolve(tail.toString()));
            assertThat(partial).isEqualTo(Arrays.copyOf(onDisk, partial.length));
            List<WalRecordScanner.Event> events = new ArrayList<>();
            new WalRecordScanner(events::add).accept(tail.startLsn(size), Arrays.copyOf(partial, (int) size.bytes()));
            assertThat(events).anyMatch(e -> e.kind() == WalRecordScanner.Kind.COMMIT && e.xid() == xid);
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static byte[] content(LocalDirectoryStore store, String key) throws Exception {
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, store.get(key).orElseThrow()); InputStream in = opened.content()) {
            return in.readAllBytes();
        }
    }
}

package io.pgvault.server.wal;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.archive.WalSegmentIndex;
import io.pgvault.core.archive.WalSegmentIndexer;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.server.ArchivingCluster;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.S3ProxyFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * PostgreSQL itself archives through the README's curl one-liner while pgbench writes;
 * every file it saw acknowledged comes back byte-identical through GET. Per major and
 * storage driver (default: 15 and 17, local and S3Proxy), plus a 1 MB-segment cluster.
 * The S3 runs keep their catalog in a real PostgreSQL; every run rebuilds the catalog
 * from the repository and compares it with what archiving recorded, and each segment's
 * index (written on arrival, or by a rebuild) with what reading the segment gives.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ArchiveCommandIT {

    private S3ProxyFixture s3;
    private final HttpClient http = HttpClient.newHttpClient();

    record Case(int major, String storage, int segmentSizeMb) {
        @Override
        public String toString() {
            return "PostgreSQL " + major + ", " + storage + ", " + segmentSizeMb + " MB segments";
        }
    }

    Stream<Case> cases() {
        List<Case> cases = new ArrayList<>();
        for (int major : Fixtures.testMajors()) {
            for (String storage : Fixtures.testStorages()) {
                if (!storage.equals("minio")) {
                    cases.add(new Case(major, storage, 16));
                }
            }
        }
        cases.add(new Case(17, "local", 1));
        return cases.stream();
    }

    @BeforeAll
    void startS3() {
        s3 = S3ProxyFixture.start();
    }

    @AfterAll
    void stopS3() {
        s3.close();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void everyAcknowledgedSegmentComesBackByteIdentical(Case c) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-it-");
        Map<String, Object> props = new HashMap<>();
        props.put("micronaut.server.port", -1);
        props.put("pgvault.data-dir", dir.toString());
        PgCluster catalogDb = null;
        if (c.storage().equals("s3proxy")) {
            String bucket = "it-" + UUID.randomUUID().toString().substring(0, 8);
            s3.createBucket(bucket);
            props.put("pgvault.repository.url", "s3://" + bucket + "/pgvault");
            props.put("pgvault.repository.s3.endpoint", s3.endpoint().toString());
            props.put("pgvault.repository.s3.path-style", true);
            props.put("pgvault.repository.s3.access-key", S3ProxyFixture.ACCESS_KEY);
            props.put("pgvault.repository.s3.secret-key", S3ProxyFixture.SECRET_KEY);
            catalogDb = PgCluster.builder(17).start();
            catalogDb.execute("CREATE DATABASE catalog");
            props.put("pgvault.catalog.url", catalogDb.jdbcUrl("catalog"));
            props.put("pgvault.catalog.user", "postgres");
        } else {
            props.put("pgvault.repository.url", dir.resolve("repo").toUri().toString());
            props.put("pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        }
        try (EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props)) {
            String url = "http://127.0.0.1:" + server.getPort();
            assertThat(post(url + "/v1/clusters", "{\"name\":\"main\",\"conninfo\":\"host=127.0.0.1\"}").statusCode()).isEqualTo(201);
            try (ArchivingCluster cluster = ArchivingCluster.start(c.major(), c.segmentSizeMb(), url, "main")) {
                cluster.pgbench(5, 4);
                cluster.switchAndAwaitArchived(Duration.ofSeconds(90));
                assertThat(cluster.pg().queryValue("SELECT failed_count FROM pg_stat_archiver")).isEqualTo("0");

                List<Path> acked = cluster.acknowledgedFiles();
                assertThat(acked).as("segments archived").hasSizeGreaterThan(c.segmentSizeMb() == 1 ? 10 : 2);
                for (Path file : acked) {
                    HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/clusters/main/wal/" + file.getFileName())).build(),
                            HttpResponse.BodyHandlers.ofByteArray());
                    assertThat(r.statusCode()).as(file.getFileName().toString()).isEqualTo(200);
                    assertThat(r.body()).as(file.getFileName().toString()).isEqualTo(Files.readAllBytes(file));
                }

                String before = get(url + "/v1/clusters/main/wal");
                assertThat(before).contains(acked.get(acked.size() - 1).getFileName().toString());
                assertThat(post(url + "/v1/catalog/rebuild", "").statusCode()).isEqualTo(200);
                assertThat(get(url + "/v1/clusters/main/wal")).isEqualTo(before);
                assertThat(get(url + "/v1/clusters/main")).contains("\"walSegmentSize\":" + (c.segmentSizeMb() << 20))
                        .contains("\"pgMajor\":" + c.major());

                // Each segment was indexed as it arrived, exactly as reading it gives; a repository without indexes (an older
                // pgvault's) gets them from a rebuild.
                ObjectStore repository = server.getApplicationContext().getBean(ObjectStore.class);
                WalSegmentSize size = new WalSegmentSize((long) c.segmentSizeMb() << 20);
                List<Path> segments = acked.stream().filter(f -> f.getFileName().toString().matches("[0-9A-F]{24}")).toList();
                for (Path file : segments) {
                    WalFileName name = WalFileName.parse(file.getFileName().toString());
                    assertThat(WalSegmentIndex.read(repository, "main", name, size)).as(name.toString())
                            .isPresent().isEqualTo(WalSegmentIndexer.of(name, size, Files.readAllBytes(file)));
                }
                repository.delete(repository.list(RepositoryLayout.walIndexPrefix("main")).stream().map(ObjectStat::key).toList());
                HttpResponse<String> rebuilt = post(url + "/v1/catalog/rebuild", "");
                assertThat(rebuilt.body()).contains("\"walIndexesWritten\":" + segments.size());
                for (Path file : segments) {
                    WalFileName name = WalFileName.parse(file.getFileName().toString());
                    assertThat(WalSegmentIndex.read(repository, "main", name, size)).as(name + " after the rebuild")
                            .isEqualTo(WalSegmentIndexer.of(name, size, Files.readAllBytes(file)));
                }
                // An index of format 2 (which left out the commit time range) is not read, and a rebuild writes it again;
                // current ones it leaves alone.
                WalFileName first = WalFileName.parse(segments.get(0).getFileName().toString());
                WalSegmentIndex current = WalSegmentIndex.read(repository, "main", first, size).orElseThrow();
                new WalSegmentIndex(2, current.segment(), current.end(), current.walEnds(), current.transactions(), current.minXid(),
                        current.maxXid(), current.last(), null, null, current.restorePoints(), current.unfinished()).write(repository, "main");
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> WalSegmentIndex.read(repository, "main", first, size))
                        .isInstanceOf(WalSegmentIndex.OutdatedException.class);
                assertThat(post(url + "/v1/catalog/rebuild", "").body()).contains("\"walIndexesWritten\":1");
                assertThat(WalSegmentIndex.read(repository, "main", first, size)).contains(current);
                assertThat(post(url + "/v1/catalog/rebuild", "").body()).contains("\"walIndexesWritten\":0");
            }
        } finally {
            if (catalogDb != null) {
                catalogDb.close();
            }
            Fixtures.deleteTree(dir);
        }
    }

    private HttpResponse<String> post(String url, String json) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private String get(String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(url).isEqualTo(200);
        return r.body();
    }
}

package io.pgvault.cli;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.S3ProxyFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.pgvault.cli.RecoverySupport.CHECKSUM;
import static io.pgvault.cli.RecoverySupport.Run;
import static io.pgvault.cli.RecoverySupport.cat;
import static io.pgvault.cli.RecoverySupport.pgvault;
import static io.pgvault.cli.RecoverySupport.post;
import static io.pgvault.cli.RecoverySupport.repository;
import static io.pgvault.cli.RecoverySupport.serverProperties;
import static io.pgvault.cli.RecoverySupport.shell;
import static io.pgvault.cli.RecoverySupport.switchAndAwaitArchived;
import static io.pgvault.cli.RecoverySupport.workDirectory;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Incremental backups end to end, as a DBA runs them: {@code pgvault backup main --full},
 * writes, {@code backup --incremental}, writes, {@code backup --incremental}, writes, each
 * backup taken while small updates commit (as pgbench's), with PostgreSQL archiving through
 * the server. {@code backups} shows each type and parent; {@code recover} to a restore point
 * after each backup restores that
 * backup's whole chain and gives exactly the rows committed before the point; {@code verify}
 * is clean, then names a damaged link and every backup that needs it, and a missing one; deleting a parent
 * is refused naming its dependents, and with {@code --cascade} removes the chain. An
 * incremental backup after summarize_wal was turned off fails, saying what to set.
 * PostgreSQL 17 and 18 (changed blocks, PostgreSQL's own incremental backups) on a local
 * directory and on S3 (S3Proxy through the AWS SDK), 15 (changed files, referenced by
 * pgvault) on S3; {@link #cases()}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class IncrementalRecoveryIT {

    private static final Pattern STARTED = Pattern.compile("(?:full|incremental) backup (\\S+) of main started");
    private S3ProxyFixture s3;

    record Case(int major, String storage) {
        @Override
        public String toString() {
            return "PostgreSQL " + major + " on " + storage;
        }
    }

    /**
     * The default run: PostgreSQL's own incremental backups on both storages and both majors
     * that take them (17 local, 18 S3), and file references (15) on S3. With more majors
     * ({@code -Pfull-matrix}): every major from 14 on every storage but MinIO.
     */
    static List<Case> cases() {
        List<Integer> majors = Fixtures.testMajors().stream().filter(m -> m >= 14).toList();
        List<String> storages = new ArrayList<>(Fixtures.testStorages());
        storages.remove("minio");
        if (majors.size() <= 2) {
            return List.of(new Case(17, "local"), new Case(18, "s3proxy"), new Case(15, "s3proxy"));
        }
        List<Case> cases = new ArrayList<>();
        majors.forEach(m -> storages.forEach(st -> cases.add(new Case(m, st))));
        return cases;
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
    void recoveryFromEachChainGivesTheCommittedRows(Case c) throws Exception {
        Path dir = workDirectory("pgvault-incremental-it-");
        Map<String, Object> props = serverProperties(dir);
        List<String> repo = repository(props, dir, s3, c.storage().equals("s3proxy") ? "inc-" + UUID.randomUUID().toString().substring(0, 8) : null);
        EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props);
        List<PgCluster> started = new ArrayList<>();
        try {
            String url = "http://127.0.0.1:" + server.getPort();
            PgCluster.Builder builder = PgCluster.builder(c.major())
                    .setting("archive_mode", "on")
                    .setting("archive_command", "curl -fsS -T %p " + url + "/v1/clusters/main/wal/%f");
            PgCluster primary = (c.major() >= 17 ? builder.setting("summarize_wal", "on") : builder).start();
            started.add(primary);
            String conninfo = "host=127.0.0.1 port=" + primary.port() + " user=postgres";
            assertThat(post(url + "/v1/clusters", "{\"name\":\"main\",\"conninfo\":\"" + conninfo + "\"}").statusCode()).isEqualTo(201);
            primary.execute("CREATE TABLE marks (id int PRIMARY KEY, v text NOT NULL)",
                    "INSERT INTO marks SELECT g, md5(g::text) FROM generate_series(1, 50000) g",
                    "CREATE TABLE accounts (aid int PRIMARY KEY, balance int NOT NULL, filler char(84))",
                    "INSERT INTO accounts SELECT g, 0, '' FROM generate_series(1, 100000) g");

            Map<String, String> points = new LinkedHashMap<>();
            List<String> ids = new ArrayList<>();
            for (String type : List.of("--full", "--incremental", "--incremental")) {
                Run backup;
                // Each backup is taken while transactions commit, as on a live primary: replay must mend what it copied mid-write.
                try (Writer writer = Writer.start(primary)) {
                    backup = pgvault(dir, List.of("backup", "main", type, "--wait", "--server", url));
                    assertThat(writer.commits()).as("transactions committed while the backup command ran").isPositive();
                }
                assertThat(backup.exit()).as(backup.output()).isZero();
                Matcher m = STARTED.matcher(backup.output());
                assertThat(m.find()).as(backup.output()).isTrue();
                ids.add(m.group(1));
                // Between backups: about 2% of the accounts change, as under pgbench, and a few marks.
                int n = ids.size();
                primary.execute("UPDATE accounts SET balance = balance + " + n + " WHERE aid % 50 = " + n,
                        "INSERT INTO marks SELECT g, 'after backup " + n + "' FROM generate_series(100000 + 1000 * " + n + ", 100000 + 1000 * " + n
                                + " + 99) g",
                        "UPDATE marks SET v = 'changed " + n + "' WHERE id % 997 = " + n);
                primary.queryValue("SELECT pg_create_restore_point('after-" + n + "')");
                points.put("after-" + n, primary.queryValue(CHECKSUM) + " " + primary.queryValue("SELECT sum(balance) FROM accounts"));
            }
            switchAndAwaitArchived(primary, Duration.ofSeconds(90));

            Run listed = pgvault(dir, List.of("backups", "main", "--server", url));
            assertThat(listed.output()).contains(ids.get(0) + "  complete   full").contains(ids.get(1) + "  complete   incremental")
                    .contains("on " + ids.get(0)).contains("on " + ids.get(1));
            Run json = pgvault(dir, List.of("backups", "main", "--json", "--server", url));
            assertThat(json.output()).contains("\"type\" : \"incremental\"").contains("\"parent\" : \"" + ids.get(1) + "\"");

            if (c.storage().equals("local")) {
                // The server keeps a local repository to its own user; PostgreSQL's user reads it here.
                shell("chmod -R a+rX " + dir.resolve("repo"));
            }
            int n = 0;
            for (Map.Entry<String, String> point : points.entrySet()) {
                n++;
                String output = recover(c, dir, repo, point, List.of("--target-name", point.getKey()));
                assertThat(output).contains((n == 1 ? "full backup " : "incremental backup ") + ids.get(n - 1));
                if (n > 1) {
                    assertThat(output).contains("from a chain of " + n + " backups");
                }
            }

            Run verified = pgvault(dir, cat(cat(List.of("verify", "main"), repo.toArray(String[]::new))));
            assertThat(verified.exit()).as(verified.output()).isZero();
            assertThat(verified.output()).contains("(incremental on " + ids.get(0) + ")");

            ObjectStore store = server.getApplicationContext().getBean(ObjectStore.class);
            // A damaged link: one bit of the full backup's first piece flipped.
            String piece = RepositoryLayout.backupPiece("main", ids.get(0), "base.tar", 0);
            try (Replaced damaged = Replaced.of(store, dir, piece, bytes -> bytes[bytes.length - 40] ^= 0x01)) {
                Run verify = pgvault(dir, cat(cat(List.of("verify", "main"), repo.toArray(String[]::new))));
                assertThat(verify.exit()).isNotZero();
                assertThat(verify.output()).contains("base.tar.00000")
                        .contains("backup " + ids.get(2) + " cannot be restored: it builds on backup " + ids.get(0) + ", which is damaged");
            }
            // A missing link: the middle backup's manifest gone.
            try (Replaced missing = Replaced.of(store, dir, RepositoryLayout.backupManifest("main", ids.get(1)), null)) {
                Run verify = pgvault(dir, cat(cat(List.of("verify", "main"), repo.toArray(String[]::new))));
                assertThat(verify.exit()).isNotZero();
                assertThat(verify.output()).contains("backup " + ids.get(2) + " cannot be used: backup " + ids.get(2)
                        + " is incremental on backup " + ids.get(1) + ", which is not in the repository");
            }
            Run repaired = pgvault(dir, cat(cat(List.of("verify", "main"), repo.toArray(String[]::new))));
            assertThat(repaired.exit()).as(repaired.output()).isZero();

            // info: the chain of the newest backup; every segment indexed, and one whose index is gone said to be read whole.
            List<String> info = cat(List.of("info", "main"), repo.toArray(String[]::new));
            Run described = pgvault(dir, info);
            assertThat(described.exit()).as(described.output()).isZero();
            assertThat(described.output()).contains("backups: 3 (1 full, 2 incremental), last " + ids.get(2)
                    + " (incremental, a chain of 3 from full backup " + ids.get(0) + ")").doesNotContain("WAL indexes:");
            com.fasterxml.jackson.databind.JsonNode infoJson = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(pgvault(dir, cat(info, "--json")).output());
            int archived = infoJson.path("archivedSegments").asInt();
            assertThat(infoJson.path("indexedSegments").asInt()).isEqualTo(archived).isPositive();
            String anIndex = store.list(RepositoryLayout.walIndexPrefix("main")).get(0).key();
            try (Replaced unindexed = Replaced.of(store, dir, anIndex, null)) {
                assertThat(pgvault(dir, info).output()).contains("WAL indexes: " + (archived - 1) + " of " + archived + " archived segments");
            }

            if (c.major() < 17) {
                // The newest backup's file index rewritten in the repository, well formed and consistently enveloped, one
                // piece checksum changed: the server built the index and recorded its SHA-256, so it refuses to build on it.
                forgedIndexIsRefused(store, dir, url, ids.get(2));
            }

            Run refused = pgvault(dir, List.of("backup", "delete", "main", ids.get(1), "--server", url));
            assertThat(refused.exit()).isNotZero();
            assertThat(refused.output()).contains("is the parent of incremental backup(s) " + ids.get(2)).contains("--cascade");

            if (c.major() >= 17) {
                primary.execute("ALTER SYSTEM SET summarize_wal = off");
                primary.queryValue("SELECT pg_reload_conf()");
                Thread.sleep(500);
                Run noSummaries = pgvault(dir, List.of("backup", "main", "--incremental", "--wait", "--server", url));
                assertThat(noSummaries.exit()).isNotZero();
                assertThat(noSummaries.output()).contains("summarize_wal is off").contains("ALTER SYSTEM SET summarize_wal = on");
            }

            Run cascade = pgvault(dir, List.of("backup", "delete", "main", ids.get(1), "--cascade", "--server", url));
            assertThat(cascade.exit()).as(cascade.output()).isZero();
            assertThat(cascade.output()).contains("deleted backup " + ids.get(2)).contains("deleted backup " + ids.get(1));
            Run after = pgvault(dir, List.of("backups", "main", "--server", url));
            // (A refused backup's reason may name them: only the rows of the backups themselves are gone.)
            assertThat(after.output().lines()).anyMatch(l -> l.startsWith(ids.get(0)))
                    .noneMatch(l -> l.startsWith(ids.get(1)) || l.startsWith(ids.get(2)));
        } finally {
            server.close();
            started.forEach(PgCluster::close);
            Fixtures.deleteTree(dir);
        }
    }

    private static void forgedIndexIsRefused(io.pgvault.core.storage.ObjectStore store, Path dir, String url, String backupId) throws Exception {
        String key = io.pgvault.core.repo.RepositoryLayout.backupFileIndex("main", backupId);
        Path original = dir.resolve("original-index");
        try (java.io.InputStream in = store.get(key).orElseThrow()) {
            java.nio.file.Files.copy(in, original);
        }
        String json;
        try (io.pgvault.core.repo.ObjectEnvelope.Opened opened = io.pgvault.core.repo.ObjectEnvelope.open(key, store.get(key).orElseThrow())) {
            json = new String(opened.content().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
        String forged = json.replaceFirst("\"pieceSha256\":\"[0-9a-f]{64}\"", "\"pieceSha256\":\"" + "a".repeat(64) + "\"");
        assertThat(forged).isNotEqualTo(json);
        byte[] bytes = forged.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Path payload = java.nio.file.Files.write(dir.resolve("forged-index"), bytes);
        io.pgvault.core.repo.ObjectEnvelope.store(store, key, new io.pgvault.core.repo.ObjectHeader("backup-file-index", "files.json",
                bytes.length, io.pgvault.core.util.Sha256.of(bytes), "none", null, null, 0, 0, "forger", "t", null), payload, false);

        Run forgedOn = pgvault(dir, List.of("backup", "main", "--incremental", "--wait", "--server", url));
        assertThat(forgedOn.exit()).isNotZero();
        assertThat(forgedOn.output()).contains("the file index of backup " + backupId).contains("was changed in the repository")
                .contains("take a full backup");
        store.putFile(key, original);
    }

    /** Commits small updates of random accounts on its own connection until closed. */
    private static final class Writer implements AutoCloseable {
        private final java.util.concurrent.atomic.AtomicLong commits = new java.util.concurrent.atomic.AtomicLong();
        private final java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        private volatile boolean stop;
        private final Thread thread;

        private Writer(PgCluster pg) {
            thread = new Thread(() -> {
                try (java.sql.Connection c = pg.connect(); java.sql.PreparedStatement update = c.prepareStatement(
                        "UPDATE accounts SET balance = balance + 1 WHERE aid = ?")) {
                    java.util.Random random = new java.util.Random(42);
                    while (!stop) {
                        update.setInt(1, 1 + random.nextInt(100000));
                        update.executeUpdate();
                        commits.incrementAndGet();
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            }, "writer during backup");
        }

        static Writer start(PgCluster pg) {
            Writer w = new Writer(pg);
            w.thread.start();
            return w;
        }

        long commits() {
            return commits.get();
        }

        @Override
        public void close() throws Exception {
            stop = true;
            thread.join(30_000);
            assertThat(failure.get()).as("the writer's failure").isNull();
        }
    }

    /**
     * An object of the repository changed ({@code change} given its bytes) or, with a null
     * change, removed, until closed, when its original is put back.
     */
    private record Replaced(ObjectStore store, String key, Path original) implements AutoCloseable {
        interface Change {
            void apply(byte[] bytes);
        }

        static Replaced of(ObjectStore store, Path dir, String key, Change change) throws Exception {
            Path original = dir.resolve("original-" + UUID.randomUUID());
            try (java.io.InputStream in = store.get(key).orElseThrow()) {
                java.nio.file.Files.copy(in, original);
            }
            if (change == null) {
                store.delete(List.of(key));
            } else {
                byte[] bytes = java.nio.file.Files.readAllBytes(original);
                change.apply(bytes);
                store.putFile(key, java.nio.file.Files.write(dir.resolve("changed-" + UUID.randomUUID()), bytes));
            }
            return new Replaced(store, key, original);
        }

        @Override
        public void close() throws java.io.IOException {
            store.putFile(key, original);
        }
    }

    /** Recovers to {@code point} and returns recover's output, after checking the rows. */
    private static String recover(Case c, Path dir, List<String> repo, Map.Entry<String, String> point, List<String> options) throws Exception {
        StringBuilder output = new StringBuilder();
        try (PgCluster restored = PgCluster.builder(c.major()).adopt(data -> {
            Run r = pgvault(dir, cat(cat(cat(List.of("recover"), repo.toArray(String[]::new)), "--cluster", "main", "--pgdata", data.toString(),
                    "--target-action", "promote"), options.toArray(String[]::new)));
            assertThat(r.exit()).as(r.output()).isZero();
            output.append(r.output());
        })) {
            restored.start();
            restored.awaitRecoveryEnd(Duration.ofMinutes(2));
            assertThat(restored.queryValue(CHECKSUM) + " " + restored.queryValue("SELECT sum(balance) FROM accounts"))
                    .as("rows at " + point.getKey() + "\n" + output).isEqualTo(point.getValue());
        }
        return output.toString();
    }
}

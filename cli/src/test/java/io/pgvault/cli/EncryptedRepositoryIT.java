package io.pgvault.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.cli.RecoverySupport.Run;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.storage.s3.S3Store;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.S3ProxyFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.pgvault.cli.RecoverySupport.CHECKSUM;
import static io.pgvault.cli.RecoverySupport.archivingPrimary;
import static io.pgvault.cli.RecoverySupport.awaitBackup;
import static io.pgvault.cli.RecoverySupport.cat;
import static io.pgvault.cli.RecoverySupport.pgvault;
import static io.pgvault.cli.RecoverySupport.post;
import static io.pgvault.cli.RecoverySupport.serverProperties;
import static io.pgvault.cli.RecoverySupport.shell;
import static io.pgvault.cli.RecoverySupport.switchAndAwaitArchived;
import static io.pgvault.cli.RecoverySupport.value;
import static io.pgvault.cli.RecoverySupport.workDirectory;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * An encrypted repository end to end with real parts: a repository made by {@code repo
 * init --encrypt}, the server archiving, streaming and backing up into it with the key
 * from its configuration, PostgreSQL recovering to each kind of target and to the last
 * streamed commit after a kill -9, with wal-fetch decrypting (the key file named in
 * restore_command, never its content). No stored object holds a
 * row value, the cluster's system identifier or a pgvault envelope in clear. After
 * {@code repo rotate-key}, the old key is refused by name and the backup taken before the
 * rotation restores with the new key. PostgreSQL 17 on a local directory, 15 on S3.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EncryptedRepositoryIT {

    private static final String CANARY = "pgvault-plaintext-canary-5e1f";
    private S3ProxyFixture s3;

    record Case(int major, String storage) {
        @Override
        public String toString() {
            return "PostgreSQL " + major + " on " + storage;
        }
    }

    static List<Case> cases() {
        return List.of(new Case(17, "local"), new Case(15, "s3proxy"));
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
    void archiveBackupAndRecoverThroughAnEncryptedRepositoryAndAfterARotation(Case c) throws Exception {
        Path dir = workDirectory("pgvault-encrypted-it-");
        Path key = dir.resolve("keys/repo.key");
        Path newKey = dir.resolve("keys/repo-2.key");
        Files.createDirectories(key.getParent());
        Map<String, Object> props = serverProperties(dir);
        String bucket = "enc-" + UUID.randomUUID().toString().substring(0, 8);
        List<String> repo = RecoverySupport.repository(props, dir, s3, c.storage().equals("s3proxy") ? bucket : null);
        Run init = pgvault(dir, cat(cat(List.of("repo", "init"), repo.toArray(String[]::new)), "--encrypt", "--key-file", key.toString()));
        assertThat(init.exit()).as(init.output()).isZero();
        assertThat(init.output()).contains("wrote a new key to " + key).contains("encrypted (AES256_GCM_HKDF_SHA256_64KB) with key id");
        // restore_command runs as PostgreSQL's OS user, who must be able to read the key file (and only they).
        shell("chmod 755 " + key.getParent());
        OsUser.own(key);
        props.put("pgvault.repository.encryption.key-file", key.toString());

        List<PgCluster> started = new ArrayList<>();
        EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, props);
        try {
            String url = "http://127.0.0.1:" + server.getPort();
            PgCluster primary = archivingPrimary(c.major(), url);
            started.add(primary);
            String conninfo = "host=127.0.0.1 port=" + primary.port() + " user=postgres";
            // Archived and streamed: the streamed head of the last segment is stored encrypted too.
            assertThat(post(url + "/v1/clusters", "{\"name\":\"main\",\"conninfo\":\"" + conninfo + "\",\"stream\":true}").statusCode())
                    .isEqualTo(201);
            primary.execute("CREATE TABLE marks (id int PRIMARY KEY, v text NOT NULL)",
                    "INSERT INTO marks SELECT g, '" + CANARY + "' || g FROM generate_series(1, 2000) g");
            String backupId = new ObjectMapper().readTree(post(url + "/v1/clusters/main/backups", "").body()).path("id").asText();
            awaitBackup(url, backupId);
            String atBackup = primary.queryValue(CHECKSUM);
            // One mark for each kind of target, each with what the table held then.
            List<Map.Entry<List<String>, String>> targets = new ArrayList<>();
            targets.add(Map.entry(List.of("--target", "immediate"), atBackup));
            String target;
            String atTarget;
            try (Connection db = primary.connect(); Statement st = db.createStatement()) {
                st.execute("INSERT INTO marks VALUES (5001, 'before the target')");
                atTarget = value(st, CHECKSUM);
                target = value(st, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
                targets.add(Map.entry(List.of("--target-time", target), atTarget));
                Thread.sleep(50);
                db.setAutoCommit(false);
                st.execute("INSERT INTO marks VALUES (5002, 'named by its xid')");
                String xid = value(st, "SELECT txid_current()");
                db.commit();
                db.setAutoCommit(true);
                targets.add(Map.entry(List.of("--target-xid", xid), value(st, CHECKSUM)));
                st.execute("INSERT INTO marks VALUES (5003, 'before a restore point')");
                value(st, "SELECT pg_create_restore_point('encrypted-mark')");
                targets.add(Map.entry(List.of("--target-name", "encrypted-mark"), value(st, CHECKSUM)));
                st.execute("INSERT INTO marks VALUES (5004, 'before an lsn')");
                targets.add(Map.entry(List.of("--target-lsn", value(st, "SELECT pg_current_wal_insert_lsn()")), value(st, CHECKSUM)));
                st.execute("INSERT INTO marks VALUES (5005, 'after the targets')");
            }
            switchAndAwaitArchived(primary, Duration.ofSeconds(90));
            String systemIdentifier = primary.queryValue("SELECT system_identifier FROM pg_control_system()");
            // The last commit reaches the repository only through streaming: kill -9, no archive_command for its segment.
            primary.execute("INSERT INTO marks VALUES (6000, 'streamed, never archived')");
            String latest = primary.queryValue(CHECKSUM);
            Thread.sleep(2500);
            primary.crash();
            if (c.storage().equals("local")) {
                // The server keeps a local repository to its own user; PostgreSQL's user reads it here.
                shell("chmod -R a+rX " + dir.resolve("repo"));
            }

            for (Map.Entry<List<String>, String> t : targets) {
                assertThat(recover(c, dir, repo, cat(List.of("--key-file", key.toString()), t.getKey().toArray(String[]::new))))
                        .as(t.getKey().toString()).isEqualTo(t.getValue());
            }
            assertThat(recover(c, dir, repo, List.of("--key-file", key.toString()))).as("latest, from the encrypted streamed head").isEqualTo(latest);
            nothingInClear(c, dir, bucket, Long.parseUnsignedLong(systemIdentifier));

            Run verified = pgvault(dir, cat(cat(List.of("verify", "main"), repo.toArray(String[]::new)), "--key-file", key.toString()));
            assertThat(verified.exit()).as(verified.output()).isZero();
            assertThat(verified.output()).contains("everything read can be restored");
            Run noKey = pgvault(dir, cat(cat(List.of("info", "main"), repo.toArray(String[]::new))));
            assertThat(noKey.exit()).isNotZero();
            assertThat(noKey.output()).contains("is encrypted (key id").contains("--key-file");

            server.close();
            Run rotated = pgvault(dir, cat(cat(List.of("repo", "rotate-key"), repo.toArray(String[]::new)), "--key-file", key.toString(),
                    "--new-key-file", newKey.toString()));
            assertThat(rotated.exit()).as(rotated.output()).isZero();
            OsUser.own(newKey);
            if (c.storage().equals("local")) {
                shell("chmod -R a+rX " + dir.resolve("repo"));  // the rotated format object, written by root here
            }
            Run oldKey = pgvault(dir, cat(cat(List.of("info", "main"), repo.toArray(String[]::new)), "--key-file", key.toString()));
            assertThat(oldKey.exit()).isNotZero();
            assertThat(oldKey.output()).contains("this repository is encrypted with key id").contains("the key given (" + key + ") is key id");
            assertThat(recover(c, dir, repo, List.of("--key-file", newKey.toString(), "--target-time", target)))
                    .as("the backup from before the rotation, with the new key").isEqualTo(atTarget);
        } finally {
            server.close();
            started.forEach(PgCluster::close);
            Fixtures.deleteTree(dir);
        }
    }

    private String recover(Case c, Path dir, List<String> repo, List<String> options) throws Exception {
        try (PgCluster restored = PgCluster.builder(c.major()).adopt(data -> {
            Run r = pgvault(dir, cat(cat(cat(List.of("recover"), repo.toArray(String[]::new)), "--cluster", "main", "--pgdata", data.toString(),
                    "--target-action", "promote"), options.toArray(String[]::new)));
            assertThat(r.exit()).as(r.output()).isZero();
            String conf = Files.readString(data.resolve("postgresql.auto.conf"));
            assertThat(conf).contains("--key-file");
            assertThat(conf).doesNotContain(Files.readString(Path.of(options.get(1))).strip());
        })) {
            restored.start();
            restored.awaitRecoveryEnd(Duration.ofMinutes(2));
            assertThat(restored.serverLog()).doesNotContain("pgvault wal-fetch: could not restore");
            return restored.queryValue(CHECKSUM);
        }
    }

    /** Every stored object but the format object: no row value, no system identifier, no pgvault envelope in clear. */
    private void nothingInClear(Case c, Path dir, String bucket, long systemIdentifier) throws Exception {
        byte[] sysid = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(systemIdentifier).array();
        List<byte[]> forbidden = List.of(CANARY.getBytes(StandardCharsets.US_ASCII), sysid, "PGVOBJ".getBytes(StandardCharsets.US_ASCII),
                Long.toUnsignedString(systemIdentifier).getBytes(StandardCharsets.US_ASCII));
        int objects = 0;
        try (ObjectStore raw = c.storage().equals("s3proxy") ? new S3Store(s3.settings(bucket, "pgvault")) : new LocalDirectoryStore(dir.resolve("repo"))) {
            for (ObjectStat o : raw.list("")) {
                if (o.key().equals(RepositoryFormat.KEY)) {
                    continue;
                }
                byte[] content;
                try (InputStream in = raw.get(o.key()).orElseThrow()) {
                    content = in.readAllBytes();
                }
                objects++;
                assertThat(new String(content, 0, 6, StandardCharsets.US_ASCII)).as(o.key()).isEqualTo("PGVENC");
                for (byte[] f : forbidden) {
                    assertThat(indexOf(content, f)).as(o.key() + " holds " + new String(f, StandardCharsets.ISO_8859_1) + " in clear").isNegative();
                }
            }
        }
        assertThat(objects).as("WAL, backup pieces, manifests, descriptor").isGreaterThan(5);
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}

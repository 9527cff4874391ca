package io.pgvault.core.pgproto;

import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The replication-protocol client against real servers on both sides of the BASE_BACKUP
 * protocol change (14: one CopyOut per tablespace; 15+: one CopyOut with typed messages),
 * with real authentication and the refusals DBAs meet when setting up a backup role.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReplicationConnectionTest {

    private final Map<Integer, PgCluster> clusters = new HashMap<>();

    @BeforeAll
    void startServers() throws IOException {
        for (int major : new int[] {14, 17}) {
            PgCluster pg = PgCluster.builder(major).setting("max_wal_senders", "3").start();
            pg.execute("CREATE ROLE rep_scram LOGIN REPLICATION PASSWORD 'scram-pw'",
                    "SET password_encryption = 'md5'",
                    "CREATE ROLE rep_md5 LOGIN REPLICATION PASSWORD 'md5-pw'",
                    "RESET password_encryption",
                    "CREATE ROLE norep LOGIN PASSWORD 'norep-pw'",
                    "CREATE TABLE important (id int primary key, v text)",
                    "INSERT INTO important SELECT g, 'row ' || g FROM generate_series(1, 1000) g");
            // Only what is listed may replicate; 'nohba' has no line at all.
            Files.writeString(pg.dataDirectory().resolve("pg_hba.conf"), String.join("\n",
                    "local all all trust",
                    "host all postgres 127.0.0.1/32 trust",
                    "host replication postgres 127.0.0.1/32 trust",
                    "host replication rep_scram 127.0.0.1/32 scram-sha-256",
                    "host replication rep_md5 127.0.0.1/32 md5",
                    "host replication norep 127.0.0.1/32 scram-sha-256", ""));
            pg.queryValue("SELECT pg_reload_conf()");
            clusters.put(major, pg);
        }
    }

    @AfterAll
    void stopServers() {
        clusters.values().forEach(PgCluster::close);
    }

    private Conninfo conninfo(int major, String user, String password) {
        return Conninfo.parse("host=127.0.0.1 port=" + clusters.get(major).port() + " user=" + user
                + (password == null ? "" : " password=" + password));
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {14, 17})
    void authenticatesWithTrustMd5AndScram(int major) throws IOException {
        String sysid = clusters.get(major).queryValue("SELECT system_identifier FROM pg_control_system()");
        for (Conninfo c : List.of(conninfo(major, "postgres", null), conninfo(major, "rep_md5", "md5-pw"), conninfo(major, "rep_scram", "scram-pw"))) {
            try (ReplicationConnection rc = ReplicationConnection.open(c, "pgvault-test")) {
                assertThat(rc.serverMajor()).isEqualTo(major);
                ReplicationConnection.SystemIdentity id = rc.identifySystem();
                assertThat(id.systemIdentifier()).as(c.user()).isEqualTo(sysid);
                assertThat(id.timeline()).isEqualTo(TimelineId.FIRST);
                assertThat(id.position().isValid()).isTrue();
                assertThat(rc.simpleQuery("SHOW wal_segment_size").get(0).rows().get(0).get(0)).isEqualTo("16MB");
            }
        }
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {14, 17})
    void refusalsSayWhatToChange(int major) {
        assertThatThrownBy(() -> ReplicationConnection.open(conninfo(major, "rep_scram", "wrong"), "t"))
                .isInstanceOfSatisfying(PgServerException.class, e -> assertThat(e.isPermanent()).isTrue())
                .hasMessageContaining("28P01").hasMessageContaining("password was refused");
        assertThatThrownBy(() -> ReplicationConnection.open(conninfo(major, "nohba", "x"), "t"))
                .isInstanceOf(PgServerException.class)
                .hasMessageContaining("no pg_hba.conf entry").hasMessageContaining("host replication <user>");
        assertThatThrownBy(() -> ReplicationConnection.open(conninfo(major, "norep", "norep-pw"), "t"))
                .isInstanceOf(PgServerException.class).hasMessageContaining("ALTER ROLE <user> REPLICATION");
        assertThatThrownBy(() -> ReplicationConnection.open(conninfo(major, "rep_scram", null), "t"))
                .hasMessageContaining("no password was given");
        assertThatThrownBy(() -> ReplicationConnection.open(Conninfo.parse("host=127.0.0.1 port=" + Fixtures.freePort()), "t"))
                .hasMessageContaining("cannot connect to PostgreSQL");
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {14, 17})
    void exhaustedWalSendersAreExplained(int major) throws IOException {
        List<ReplicationConnection> held = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                ReplicationConnection rc = ReplicationConnection.open(conninfo(major, "postgres", null), "holder");
                rc.identifySystem();
                held.add(rc);
            }
            assertThatThrownBy(() -> {
                try (ReplicationConnection rc = ReplicationConnection.open(conninfo(major, "postgres", null), "one-too-many")) {
                    rc.identifySystem();
                }
            }).hasMessageContaining("max_wal_senders");
        } finally {
            held.forEach(ReplicationConnection::close);
        }
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {14, 17})
    void baseBackupStreamsTheDataDirectoryAndManifest(int major) throws IOException {
        Map<String, ByteArrayOutputStream> archives = new LinkedHashMap<>();
        ByteArrayOutputStream manifest = new ByteArrayOutputStream();
        List<Lsn> started = new ArrayList<>();
        BaseBackupSink sink = new BaseBackupSink() {
            @Override
            public void started(Lsn start, TimelineId timeline) {
                started.add(start);
            }

            @Override
            public void tablespaces(List<Tablespace> tablespaces) {
                assertThat(tablespaces).anyMatch(t -> t.oid().isEmpty());
            }

            @Override
            public OutputStream archive(String name, Optional<String> location) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                archives.put(name, out);
                return out;
            }

            @Override
            public OutputStream manifest() {
                return manifest;
            }
        };
        ReplicationConnection.BaseBackupResult result;
        try (ReplicationConnection rc = ReplicationConnection.open(conninfo(major, "rep_scram", "scram-pw"), "pgvault-backup-test")) {
            io.pgvault.core.backup.BackupProgress progress = new io.pgvault.core.backup.BackupProgress(sink);
            result = rc.baseBackup(new BaseBackupOptions("pgvault test", true, true).withProgress(), progress);
            // PROGRESS: PostgreSQL's estimate arrives with the tablespace list; what was received matches it.
            long total = progress.totalBytes().orElseThrow();
            assertThat(progress.doneBytes()).isEqualTo(archives.values().stream().mapToLong(ByteArrayOutputStream::size).sum())
                    .isBetween(total * 9 / 10, total * 3 / 2);
            // The connection is usable again afterwards.
            assertThat(rc.identifySystem().timeline()).isEqualTo(TimelineId.FIRST);
        }
        assertThat(started).containsExactly(result.start());
        assertThat(result.end().isAfter(result.start())).isTrue();
        assertThat(result.archives()).containsExactly("base.tar");
        assertThat(result.manifestReceived()).isTrue();
        assertThat(manifest.toString(StandardCharsets.UTF_8)).startsWith("{ \"PostgreSQL-Backup-Manifest-Version\"")
                .contains("\"Path\": \"PG_VERSION\"").contains("CRC32C");

        List<String> entries = new ArrayList<>();
        String backupLabel = null;
        try (TarArchiveInputStream tar = new TarArchiveInputStream(new ByteArrayInputStream(archives.get("base.tar").toByteArray()))) {
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                entries.add(e.getName());
                if (e.getName().equals("backup_label")) {
                    backupLabel = new String(tar.readAllBytes(), StandardCharsets.UTF_8);
                }
            }
        }
        assertThat(entries).contains("PG_VERSION", "global/pg_control", "backup_label");
        assertThat(backupLabel).contains("START WAL LOCATION: " + result.start()).contains("LABEL: pgvault test");
    }
}

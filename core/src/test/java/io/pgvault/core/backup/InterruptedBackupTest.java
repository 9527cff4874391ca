package io.pgvault.core.backup;

import io.pgvault.core.compress.ZstdCodec;
import io.pgvault.core.pgproto.BaseBackupOptions;
import io.pgvault.core.pgproto.Conninfo;
import io.pgvault.core.pgproto.ReplicationConnection;
import io.pgvault.core.storage.StorageFullException;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.FaultInjectingStore;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A backup cut short (repository full, connection lost) leaves nothing behind that looks like a backup. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InterruptedBackupTest {

    @TempDir
    Path temp;

    private PgCluster pg;

    @BeforeAll
    void start() {
        pg = PgCluster.builder(17).start();
        pg.execute("CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 300000) g");
    }

    @AfterAll
    void stop() {
        pg.close();
    }

    private Conninfo conninfo() {
        return Conninfo.parse("host=127.0.0.1 port=" + pg.port() + " user=postgres");
    }

    @Test
    void aFullRepositoryFailsTheBackupAndAbandonLeavesNothing() throws Exception {
        try (FaultInjectingStore store = new FaultInjectingStore(new LocalDirectoryStore(temp.resolve("full")))) {
            store.failFrom(FaultInjectingStore.Op.PUT, 3, (op, key) -> new StorageFullException("no space left for " + key, null));
            BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), "main", "20261125T070000Z-000001", temp.resolve("spool"),
                    1 << 20, "test", Clock.systemUTC());
            try (ReplicationConnection rc = ReplicationConnection.open(conninfo(), "pgvault-full")) {
                assertThatThrownBy(() -> rc.baseBackup(new BaseBackupOptions("full", true, true), writer))
                        .isInstanceOf(StorageFullException.class).hasMessageContaining("no space left");
            }
            writer.abandon();
            store.heal();
            assertThat(store.list("clusters/main/")).isEmpty();
        }
    }

    @Test
    void aLostConnectionFailsTheBackupAndAbandonLeavesNothing() throws Exception {
        try (LocalDirectoryStore store = new LocalDirectoryStore(temp.resolve("lost"))) {
            BackupWriter writer = new BackupWriter(store, new ZstdCodec(1), "main", "20261125T070000Z-000002", temp.resolve("spool"),
                    1 << 20, "test", Clock.systemUTC());
            Thread killer = new Thread(() -> {
                for (int i = 0; i < 200; i++) {
                    String killed = pg.queryValue("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            + "WHERE application_name = 'pgvault-interrupted' AND backend_type = 'walsender'");
                    if ("1".equals(killed)) {
                        return;
                    }
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            try (ReplicationConnection rc = ReplicationConnection.open(conninfo(), "pgvault-interrupted")) {
                killer.start();
                // Throttled to 2 MB/s so the backup is still streaming when it is cut.
                assertThatThrownBy(() -> rc.baseBackup(new BaseBackupOptions("lost", true, true, 2048), writer))
                        .isInstanceOf(IOException.class);
            } finally {
                killer.join();
            }
            writer.abandon();
            assertThat(store.list("clusters/main/")).isEmpty();
            assertThat(BackupManifest.read(store, "main", "20261125T070000Z-000002")).isEmpty();
        }
    }
}

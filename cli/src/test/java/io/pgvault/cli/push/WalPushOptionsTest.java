package io.pgvault.cli.push;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WalPushOptionsTest {

    private static final String P = "pg_wal/000000010000000000000001";

    private static WalPushOptions call(String... args) {
        return WalPushOptions.parse(List.of(args), Map.of(), true);
    }

    @Test
    void aCallWithASpoolInsideItsWalDirectory() {
        WalPushOptions o = call("--server", "http://pgvault:8432", "--cluster", "main", "--spool", "pg_wal/pgvault-push", "--parallel", "4",
                "--retry-for", "500ms", P);
        assertThat(o.spool()).isEqualTo(Path.of("pg_wal/pgvault-push"));
        assertThat(o.walDirectory()).isEqualTo(Path.of("pg_wal"));
        assertThat(o.parallel()).isEqualTo(4);
        assertThat(o.retryFor()).isEqualTo(Duration.ofMillis(500));
        assertThat(o.server().toString()).isEqualTo("http://pgvault:8432");
        assertThat(o.cluster()).isEqualTo("main");
    }

    @Test
    void theServerMayComeFromTheEnvironment() {
        WalPushOptions o = WalPushOptions.parse(List.of("--cluster", "main", P), Map.of("PGVAULT_SERVER", "https://pgvault:8432"), true);
        assertThat(o.server().toString()).isEqualTo("https://pgvault:8432");
    }

    @Test
    void aSpoolAnywhereButDirectlyInsideTheWalDirectoryIsRefused() {
        for (String spool : List.of("pgvault-push", "/var/spool/pgvault", "pg_wal/a/b", "pg_wal/../x", "pg_wal/.hidden", "other/pgvault-push",
                "pg_wal/archive_status", "pg_wal/summaries", "pg_wal/000000010000000000000009", "pg_wal/pgvault/../archive_status")) {
            assertThatThrownBy(() -> call("--server", "http://s", "--cluster", "main", "--spool", spool, P)).as(spool)
                    .hasMessageContaining("directly inside the WAL directory");
        }
    }

    @Test
    void aTokenInTheCommandOrARepositoryIsRefusedWithWhatToDoInstead() {
        assertThatThrownBy(() -> call("--server", "http://s", "--cluster", "main", "--token", "secret", P)).hasMessageContaining("--token-file");
        assertThatThrownBy(() -> call("--repo", "file:///r", "--cluster", "main", P)).hasMessageContaining("--server URL");
    }

    @Test
    void missingOrBadValuesSayWhatIsExpected() {
        assertThat(call("--cluster", "main", P).server().toString()).isEqualTo("http://127.0.0.1:8432");
        assertThatThrownBy(() -> call("--server", "http://s", P)).hasMessageContaining("--cluster NAME is required");
        assertThatThrownBy(() -> call("--server", "http://s", "--cluster", "main", "--parallel", "0", P)).hasMessageContaining("1 to 16");
        assertThatThrownBy(() -> call("--server", "http://s", "--cluster", "main", "--retry-for", "soon", P)).hasMessageContaining("500ms");
        assertThatThrownBy(() -> call("--server", "http://s", "--cluster", "main", "pg_wal/postgresql.conf")).hasMessageContaining("not a WAL file");
        assertThatThrownBy(() -> call("--server", "http://s", "--cluster", "main")).hasMessageContaining("expected one WAL file");
    }
}

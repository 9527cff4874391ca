package io.pgvault.restore.fetch;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WalFetchOptionsTest {

    @Test
    void readsWhatRecoverWrites() {
        WalFetchOptions o = WalFetchOptions.parse(List.of("--repo", "s3://b/p", "--cluster", "main", "--spool", "pg_wal/pgvault-spool",
                "--retry-for", "5", "--s3-endpoint", "http://127.0.0.1:9000", "--s3-path-style", "--s3-credentials-file", "pgvault-s3.credentials",
                "--s3-ca-file", "/etc/pgvault/minio-ca.pem", "000000010000000000000003", "pg_wal/RECOVERYXLOG"), Map.of());
        assertThat(o.repository().url()).isEqualTo("s3://b/p");
        assertThat(o.cluster()).isEqualTo("main");
        assertThat(o.spool()).isEqualTo(Path.of("pg_wal/pgvault-spool"));
        assertThat(o.retryFor()).isEqualTo(Duration.ofSeconds(5));
        assertThat(o.repository().s3PathStyle()).isTrue();
        assertThat(o.repository().s3CaFile()).isEqualTo(Path.of("/etc/pgvault/minio-ca.pem"));
        assertThat(o.fileName()).isEqualTo("000000010000000000000003");
        assertThat(o.target()).isEqualTo(Path.of("pg_wal/RECOVERYXLOG"));
        // The prefetcher gets the same source settings.
        assertThat(o.sourceArguments()).containsSubsequence("--repo", "s3://b/p").contains("--s3-path-style")
                .containsSubsequence("--s3-credentials-file", Path.of("pgvault-s3.credentials").toAbsolutePath().toString())
                .containsSubsequence("--s3-ca-file", "/etc/pgvault/minio-ca.pem");
        // ... which the prefetcher reads back to the same source.
        List<String> again = new java.util.ArrayList<>(o.sourceArguments());
        assertThat(WalFetchOptions.parse(again, Map.of(), false).repository()).isEqualTo(o.repository());
    }

    @Test
    void theTokenNeverReachesThePrefetchersArguments() throws Exception {
        java.nio.file.Path file = java.nio.file.Files.createTempFile("pgvault-token", "");
        try {
            java.nio.file.Files.writeString(file, "Authorization: Bearer from-a-file\n");
            WalFetchOptions viaFile = WalFetchOptions.parse(List.of("--server", "http://h:8432", "--token-file", file.toString(),
                    "--cluster", "main", "f", "p"), Map.of());
            assertThat(viaFile.token()).isEqualTo("from-a-file");
            assertThat(viaFile.sourceArguments()).containsSubsequence("--token-file", file.toString()).doesNotContain("from-a-file");
            WalFetchOptions inline = WalFetchOptions.parse(List.of("--server", "http://h:8432", "--token", "inline", "--cluster", "main",
                    "f", "p"), Map.of());
            assertThat(inline.sourceArguments()).doesNotContain("inline", "--token");
        } finally {
            java.nio.file.Files.delete(file);
        }
    }

    @Test
    void theEnvironmentGivesDefaultsAndAnExplicitRepoWinsOverTheServer() {
        WalFetchOptions fromEnv = WalFetchOptions.parse(List.of("--cluster", "main", "f", "p"), Map.of("PGVAULT_SERVER", "http://h:8432"));
        assertThat(fromEnv.server()).hasToString("http://h:8432");
        WalFetchOptions explicit = WalFetchOptions.parse(List.of("--repo", "file:///r", "--cluster", "main", "f", "p"),
                Map.of("PGVAULT_SERVER", "http://h:8432"));
        assertThat(explicit.server()).isNull();
        assertThat(explicit.repository().url()).isEqualTo("file:///r");
    }

    @Test
    void restoreCommandsOptionsAreTheWholeSourceAndKeysNeverArguments() {
        Map<String, String> env = Map.of("PGVAULT_REPOSITORY_S3_ENDPOINT", "http://elsewhere:9000", "PGVAULT_REPOSITORY_S3_ACCESS_KEY", "AK",
                "PGVAULT_REPOSITORY_S3_SECRET_KEY", "SK");
        // What recover wrote says where; PostgreSQL's environment may only give the keys.
        WalFetchOptions o = WalFetchOptions.parse(List.of("--repo", "s3://b/p", "--cluster", "main", "f", "p"), env);
        assertThat(o.repository().s3Endpoint()).isNull();
        assertThat(o.repository().s3AccessKey()).isEqualTo("AK");
        assertThat(o.sourceArguments()).doesNotContain("AK", "SK");
        // Without --repo the environment is the source, all of it.
        WalFetchOptions fromEnv = WalFetchOptions.parse(List.of("--cluster", "main", "f", "p"),
                Map.of("PGVAULT_REPOSITORY_URL", "s3://b/p", "PGVAULT_REPOSITORY_S3_ENDPOINT", "http://minio:9000"));
        assertThat(fromEnv.repository().s3Endpoint()).isEqualTo("http://minio:9000");
        assertThat(fromEnv.sourceArguments()).containsSubsequence("--s3-endpoint", "http://minio:9000");
        assertThatThrownBy(() -> WalFetchOptions.parse(List.of("--repo", "s3://b/p", "--s3-secret-key", "SK", "--cluster", "main", "f", "p"),
                Map.of())).hasMessageContaining("never in restore_command");
    }

    @Test
    void mistakesAreNamed() {
        assertThatThrownBy(() -> WalFetchOptions.parse(List.of("--repo", "file:///r", "f", "p"), Map.of())).hasMessageContaining("--cluster");
        assertThatThrownBy(() -> WalFetchOptions.parse(List.of("--repo", "file:///r", "--cluster", "m", "f"), Map.of()))
                .hasMessageContaining("%f %p");
        assertThatThrownBy(() -> WalFetchOptions.parse(List.of("--cluster", "m", "f", "p"), Map.of())).hasMessageContaining("--repo URL or --server URL");
        assertThatThrownBy(() -> WalFetchOptions.parse(List.of("--repo", "file:///r", "--cluster", "m", "--bogus", "x", "f", "p"), Map.of()))
                .hasMessageContaining("unknown option --bogus");
    }
}

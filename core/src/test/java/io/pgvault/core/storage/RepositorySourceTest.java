package io.pgvault.core.storage;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RepositorySourceTest {

    /** What another process does with the arguments: the same loop wal-fetch and the prefetcher run. */
    private static RepositorySource readBack(List<String> args) {
        RepositorySource source = RepositorySource.none();
        for (int i = 0; i < args.size(); i++) {
            String option = args.get(i);
            source = RepositorySource.FLAGS.contains(option) ? source.with(option, "true") : source.with(option, args.get(++i));
        }
        return source;
    }

    @Test
    void renderedArgumentsReadBackToTheSameSource() {
        RepositorySource s3 = RepositorySource.none().with("--repo", "s3://backups/prod").with("--s3-endpoint", "https://minio:9000")
                .with("--s3-region", "eu-west-3").with("--s3-path-style", "true").with("--s3-credentials-file", "/etc/pgvault/s3.credentials")
                .with("--s3-ca-file", "/etc/pgvault/ca.pem").with("--s3-checksums-when-required", "false").with("--s3-conditional-writes", "off");
        assertThat(readBack(s3.arguments())).isEqualTo(s3);
        RepositorySource defaults = RepositorySource.none().with("--repo", "s3://backups/prod");
        assertThat(defaults.arguments()).containsExactly("--repo", "s3://backups/prod");
        assertThat(readBack(defaults.arguments())).isEqualTo(defaults);
        RepositorySource local = RepositorySource.none().with("--repo", "file:///nonexistent/pgvault-repo");
        assertThat(readBack(local.arguments())).isEqualTo(local);
        // A relative directory is written absolute: restore_command runs in the data directory.
        assertThat(RepositorySource.none().with("--repo", "file:relative/repo").arguments().get(1))
                .isEqualTo(Path.of("relative/repo").toAbsolutePath().toUri().toString());
    }

    @Test
    void theEnvironmentGivesEveryDefault() {
        RepositorySource env = RepositorySource.fromEnvironment(Map.of(
                "PGVAULT_REPOSITORY_URL", "s3://b/p",
                "PGVAULT_REPOSITORY_S3_ENDPOINT", "http://127.0.0.1:9000",
                "PGVAULT_REPOSITORY_S3_PATH_STYLE", "true",
                "PGVAULT_REPOSITORY_S3_ACCESS_KEY", "AK",
                "PGVAULT_REPOSITORY_S3_SECRET_KEY", "SK",
                "PGVAULT_REPOSITORY_S3_CONDITIONAL_WRITES", "false"));
        assertThat(env.url()).isEqualTo("s3://b/p");
        assertThat(env.s3PathStyle()).isTrue();
        assertThat(env.hasInlineKeys()).isTrue();
        assertThat(env.conditionalWrites()).isFalse();
        assertThat(env.checksumsWhenRequired()).isTrue();
        assertThat(env.s3Region()).isEqualTo(RepositorySource.DEFAULT_REGION);
    }

    @Test
    void keysAreNeverArgumentsAndNeverPrinted() {
        RepositorySource keys = RepositorySource.none().with("--repo", "s3://b/p").with("--s3-access-key", "AK").with("--s3-secret-key", "SECRET");
        assertThatThrownBy(keys::arguments).hasMessageContaining("credentials file");
        assertThat(keys.toString()).doesNotContain("SECRET");
        RepositorySource moved = keys.withCredentialsFile(Path.of("/srv/pg/restore.pgvault-s3.credentials"));
        assertThat(moved.arguments()).containsSequence("--s3-credentials-file", "/srv/pg/restore.pgvault-s3.credentials")
                .doesNotContain("AK", "SECRET");
    }

    @Test
    void mistakesAreNamed() {
        assertThatThrownBy(() -> RepositorySource.none().with("--s3-path-style", "maybe")).hasMessageContaining("true or false");
        assertThatThrownBy(() -> RepositorySource.none().with("--bogus", "x")).hasMessageContaining("unknown option --bogus");
        assertThatThrownBy(() -> RepositorySource.none().open()).hasMessageContaining("--repo URL is required");
    }
}

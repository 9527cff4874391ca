package io.pgvault.core.storage;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RepositoryUrlTest {

    @Test
    void parsesBothForms() {
        assertThat(RepositoryUrl.parse("file:///var/lib/pgvault/repo")).isEqualTo(new RepositoryUrl.Local(Path.of("/var/lib/pgvault/repo")));
        assertThat(RepositoryUrl.parse("s3://backups/pg/prod/")).isEqualTo(new RepositoryUrl.S3("backups", "pg/prod"));
        assertThat(RepositoryUrl.parse("file:./data/repo")).isEqualTo(new RepositoryUrl.Local(Path.of("data/repo").toAbsolutePath()));
        assertThat(RepositoryUrl.parse("s3://backups")).isEqualTo(new RepositoryUrl.S3("backups", ""));
        assertThat(RepositoryUrl.parse("s3://backups/pg").toString()).isEqualTo("s3://backups/pg");
    }

    @Test
    void refusesWhatItCannotOpen() {
        assertThatThrownBy(() -> RepositoryUrl.parse("")).hasMessageContaining("empty");
        assertThatThrownBy(() -> RepositoryUrl.parse("gs://bucket")).hasMessageContaining("'gs'").hasMessageContaining("s3://");
        assertThatThrownBy(() -> RepositoryUrl.parse("/plain/path")).hasMessageContaining("file:///");
        assertThatThrownBy(() -> RepositoryUrl.parse("file:")).hasMessageContaining("not a repository URL");
        assertThatThrownBy(() -> RepositoryUrl.parse("s3:///prefix")).hasMessageContaining("no bucket");
        assertThatThrownBy(() -> RepositoryUrl.parse("s3://bu cket")).hasMessageContaining("not a repository URL");
    }
}

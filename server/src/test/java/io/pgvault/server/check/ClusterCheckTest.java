package io.pgvault.server.check;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ClusterCheckTest {

    @Test
    void archiveCommandIsShownWithoutCredentials() {
        assertThat(ClusterCheck.redacted("curl -fsS -H 'Authorization: Bearer s3cr3t' -T %p http://h:8432/v1/clusters/main/wal/%f"))
                .doesNotContain("s3cr3t").contains("Bearer ***'");
        assertThat(ClusterCheck.redacted("curl -fsS -u archiver:pa55 -T %p https://h/v1/clusters/main/wal/%f")).doesNotContain("pa55");
        assertThat(ClusterCheck.redacted("curl --user archiver:pa55 -T %p https://h/v1/clusters/main/wal/%f")).doesNotContain("pa55");
        assertThat(ClusterCheck.redacted("curl -T %p https://archiver:pa55@h/v1/clusters/main/wal/%f")).doesNotContain("pa55")
                .contains("https://***@h/");
        assertThat(ClusterCheck.redacted("curl -fsS -H @/etc/pgvault/main.token -T %p http://h:8432/v1/clusters/main/wal/%f"))
                .contains("-H @/etc/pgvault/main.token");
    }
}

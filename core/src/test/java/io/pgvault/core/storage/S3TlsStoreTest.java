package io.pgvault.core.storage;

import io.pgvault.core.storage.s3.S3Settings;
import io.pgvault.core.storage.s3.S3Store;
import io.pgvault.testkit.S3ProxyFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An S3 endpoint over HTTPS whose certificate no public CA signed (a self-hosted MinIO
 * behind a private CA): trusted through {@code caFile}, refused clearly without it.
 */
class S3TlsStoreTest {

    @TempDir
    static Path tls;
    private static S3ProxyFixture s3;

    @BeforeAll
    static void startS3() {
        s3 = S3ProxyFixture.startWithTls(tls);
        s3.createBucket("tls");
    }

    @AfterAll
    static void stopS3() {
        s3.close();
    }

    private static S3Settings overHttps() {
        return S3Settings.of("tls", "repo").withEndpoint(s3.secureEndpoint(), true)
                .withCredentials(S3ProxyFixture.ACCESS_KEY, S3ProxyFixture.SECRET_KEY);
    }

    @Test
    void theGivenCaIsTrusted() throws Exception {
        byte[] body = "segment bytes".getBytes(StandardCharsets.UTF_8);
        try (S3Store store = new S3Store(overHttps().withCaFile(s3.caFile()))) {
            store.put("wal/a", new ByteArrayInputStream(body), body.length);
            try (InputStream in = store.get("wal/a").orElseThrow()) {
                assertThat(in.readAllBytes()).isEqualTo(body);
            }
            assertThat(store.list("wal/")).hasSize(1);
        }
    }

    @Test
    void anUntrustedCertificateIsAConfigurationErrorNotAnOutage() throws Exception {
        // Retrying would never help, so it must not look like an unreachable store (wal-fetch retries those).
        try (S3Store store = new S3Store(overHttps())) {
            assertThatThrownBy(() -> store.stat("wal/a"))
                    .isInstanceOf(StorageException.class)
                    .isNotInstanceOf(StorageUnavailableException.class)
                    .hasMessageContaining("TLS handshake with " + s3.secureEndpoint())
                    .hasMessageContaining("--s3-ca-file");
        }
    }

    @Test
    void aCaFileWithoutCertificatesIsRefusedByName(@TempDir Path dir) throws Exception {
        Path notPem = Files.writeString(dir.resolve("ca.pem"), "not a certificate\n");
        assertThatThrownBy(() -> new S3Store(overHttps().withCaFile(notPem)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(notPem.toString()).hasMessageContaining("expected PEM certificates");
        Path missing = dir.resolve("missing.pem");
        assertThatThrownBy(() -> new S3Store(overHttps().withCaFile(missing)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(missing.toString());
    }
}

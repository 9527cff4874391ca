package io.pgvault.core.storage.s3;

import software.amazon.awssdk.http.TlsTrustManagersProvider;

import javax.net.ssl.TrustManager;
import java.nio.file.Path;

/**
 * Trust for an S3 endpoint whose certificate a private CA signed: the certificates of a
 * PEM file, read when the store opens so that a wrong path or a file that holds no
 * certificate fails at once, by name, instead of at the first request.
 */
final class PemTrust implements TlsTrustManagersProvider {

    private final TrustManager[] managers;

    private PemTrust(TrustManager[] managers) {
        this.managers = managers;
    }

    static PemTrust load(Path pemFile) {
        return new PemTrust(io.pgvault.core.tls.PemCertificates.trustManagers(pemFile, "the S3 CA file"));
    }

    @Override
    public TrustManager[] trustManagers() {
        return managers.clone();
    }
}

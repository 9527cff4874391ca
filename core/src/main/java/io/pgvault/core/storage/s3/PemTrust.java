package io.pgvault.core.storage.s3;

import software.amazon.awssdk.http.TlsTrustManagersProvider;

import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;

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
        Collection<? extends Certificate> certificates;
        try (InputStream in = Files.newInputStream(pemFile)) {
            certificates = CertificateFactory.getInstance("X.509").generateCertificates(in);
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot read the S3 CA file " + pemFile + ": " + e.getMessage()
                    + "; expected PEM certificates (-----BEGIN CERTIFICATE-----)", e);
        }
        if (certificates.isEmpty()) {
            throw new IllegalArgumentException("the S3 CA file " + pemFile + " holds no certificate; expected PEM certificates (-----BEGIN CERTIFICATE-----)");
        }
        try {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (Certificate certificate : certificates) {
                store.setCertificateEntry("ca-" + i++, certificate);
            }
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(store);
            return new PemTrust(factory.getTrustManagers());
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot build a trust store from " + pemFile + ": " + e.getMessage(), e);
        }
    }

    @Override
    public TrustManager[] trustManagers() {
        return managers.clone();
    }
}

package io.pgvault.core.tls;

import javax.net.ssl.SSLContext;
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
 * Trust in a private CA: the certificates of a PEM file become the only trust anchors
 * (host names and chains are still verified as always; nothing here turns checks off).
 * Read at once, so a wrong path or a file without a certificate fails by name before the
 * first request.
 */
public final class PemCertificates {

    private PemCertificates() {
    }

    /** @param what names the file in messages, e.g. "the S3 CA file" */
    public static TrustManager[] trustManagers(Path pemFile, String what) {
        Collection<? extends Certificate> certificates;
        try (InputStream in = Files.newInputStream(pemFile)) {
            certificates = CertificateFactory.getInstance("X.509").generateCertificates(in);
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot read " + what + " " + pemFile + ": " + e.getMessage()
                    + "; expected PEM certificates (-----BEGIN CERTIFICATE-----)", e);
        }
        if (certificates.isEmpty()) {
            throw new IllegalArgumentException(what + " " + pemFile + " holds no certificate; expected PEM certificates (-----BEGIN CERTIFICATE-----)");
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
            return factory.getTrustManagers();
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot build a trust store from " + pemFile + ": " + e.getMessage(), e);
        }
    }

    /** A TLS context that trusts exactly the file's certificates. */
    public static SSLContext sslContext(Path pemFile, String what) {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trustManagers(pemFile, what), null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot set up TLS with " + pemFile + ": " + e.getMessage(), e);
        }
    }
}

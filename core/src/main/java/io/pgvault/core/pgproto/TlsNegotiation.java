package io.pgvault.core.pgproto;

import io.pgvault.core.tls.PemCertificates;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMDecryptorProviderBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Collection;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * PostgreSQL's TLS start: the SSLRequest on a fresh TCP connection, the server's one-byte
 * answer, then a TLS handshake set up the way libpq sets it up for the {@link TlsSettings}:
 * which certificates are trusted, whether the host name is checked, which client
 * certificate is offered. The JDK does the TLS; only the policy is here.
 */
final class TlsNegotiation {

    private static final int SSL_REQUEST_CODE = 80877103;
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
    /** OpenSSL's legacy key encryption (EVP_BytesToKey) is not in the JDK; used as an instance, never installed globally. */
    private static final Provider BOUNCY_CASTLE = new BouncyCastleProvider();

    private TlsNegotiation() {
    }

    /**
     * Asks the server for TLS on {@code raw} and completes the handshake.
     *
     * @param host the name the certificate must carry under verify-full (the conninfo's host, even when hostaddr was dialled)
     * @return empty when the server does not accept TLS ('N'); the plain socket is then still usable
     */
    static Optional<SSLSocket> negotiate(Socket raw, TlsSettings settings, String host, int port, String where) throws IOException {
        DataOutputStream out = new DataOutputStream(raw.getOutputStream());
        out.writeInt(8);
        out.writeInt(SSL_REQUEST_CODE);
        out.flush();
        InputStream in = raw.getInputStream();
        int answer = in.read();
        if (answer == 'N') {
            return Optional.empty();
        }
        if (answer != 'S') {
            throw new IOException(where + ": the server answered the TLS request with " + (answer < 0 ? "a closed connection" : "'" + (char) answer + "'")
                    + ", not 'S' or 'N': is this a PostgreSQL server?");
        }
        if (in.available() > 0) {
            // CVE-2021-23222: bytes sent before the handshake were never encrypted; a man in the middle may have put them there.
            throw new IOException(where + ": received unencrypted data after the server agreed to TLS: refusing the connection");
        }
        SSLSocket ssl = (SSLSocket) context(settings, where).getSocketFactory().createSocket(raw, host, port, true);
        SSLParameters parameters = ssl.getSSLParameters();
        parameters.setProtocols(PROTOCOLS);
        if (settings.mode() == SslMode.VERIFY_FULL) {
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
        }
        ssl.setSSLParameters(parameters);
        try {
            ssl.startHandshake();
        } catch (SSLException e) {
            ssl.close();
            throw new TlsHandshakeException(where + ": the TLS handshake failed (" + e.getMessage() + "); with sslmode=" + settings.mode().keyword()
                    + hint(settings, host), e);
        }
        return Optional.of(ssl);
    }

    /** The server's own certificate, which SCRAM channel binding hashes. */
    static X509Certificate serverCertificate(SSLSocket ssl) throws IOException {
        Certificate[] chain = ssl.getSession().getPeerCertificates();
        if (chain.length == 0 || !(chain[0] instanceof X509Certificate x509)) {
            throw new IOException("the server presented no X.509 certificate");
        }
        return x509;
    }

    /** A TLS failure on the way in: under sslmode=prefer libpq then tries a plain connection, and so do we. */
    static final class TlsHandshakeException extends IOException {
        TlsHandshakeException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static String hint(TlsSettings settings, String host) {
        return switch (settings.mode()) {
            case VERIFY_FULL -> " the certificate must chain to sslrootcert (" + settings.rootCert().map(Path::toString).orElse("the system's roots")
                    + ") and name the host '" + host + "' (subjectAltName, or the CN when it has none)";
            case VERIFY_CA -> " the certificate must chain to sslrootcert (" + settings.rootCert().map(Path::toString).orElse("") + ")";
            default -> " the certificate must chain to " + settings.rootCert().map(Path::toString).orElse("") + " when that file exists";
        };
    }

    private static SSLContext context(TlsSettings settings, String where) throws IOException {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keyManagers(settings), trustManagers(settings), null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IOException(where + ": cannot set up TLS: " + e.getMessage(), e);
        }
    }

    /** libpq verifies the chain whenever a root certificate file exists, and insists on one from verify-ca up. */
    private static TrustManager[] trustManagers(TlsSettings settings) throws IOException, GeneralSecurityException {
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (settings.rootCert().isEmpty()) {
            factory.init((KeyStore) null);
            return factory.getTrustManagers();
        }
        Path root = settings.rootCert().get();
        if (!Files.isRegularFile(root)) {
            if (settings.mode().compareTo(SslMode.VERIFY_CA) >= 0) {
                throw new IOException("root certificate file " + root + " does not exist: either provide it (sslrootcert=FILE), use the system's "
                        + "trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification");
            }
            return new TrustManager[]{new UnverifiedServer()};
        }
        try {
            return PemCertificates.trustManagers(root, "sslrootcert");
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** The client certificate, when its file exists (libpq offers none otherwise and lets the server decide). */
    private static KeyManager[] keyManagers(TlsSettings settings) throws IOException, GeneralSecurityException {
        if (!Files.isRegularFile(settings.cert())) {
            return null;
        }
        Collection<? extends Certificate> chain = certificates(settings.cert());
        if (!Files.exists(settings.key())) {
            throw new IOException("certificate file " + settings.cert() + " has no private key at " + settings.key() + ": set sslkey=FILE");
        }
        checkKeyFileMode(settings.key());
        char[] password = settings.keyPassword().map(String::toCharArray).orElse(new char[0]);
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("client", privateKey(settings.key(), settings.keyPassword()), password, chain.toArray(new Certificate[0]));
        KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        factory.init(keys, password);
        return factory.getKeyManagers();
    }

    private static Collection<? extends Certificate> certificates(Path file) throws IOException, GeneralSecurityException {
        try (InputStream in = Files.newInputStream(file)) {
            return CertificateFactory.getInstance("X.509").generateCertificates(in);
        }
    }

    /** libpq's rule: 0600 or less when the key is the user's own, 0640 or less when root owns it. */
    private static void checkKeyFileMode(Path key) throws IOException {
        PosixFileAttributes attributes;
        try {
            attributes = Files.readAttributes(key, PosixFileAttributes.class);
        } catch (UnsupportedOperationException e) {
            return;
        }
        if (!attributes.isRegularFile()) {
            throw new IOException("private key " + key + " is not a regular file");
        }
        Set<PosixFilePermission> forbidden = "root".equals(attributes.owner().getName())
                ? EnumSet.of(PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ,
                PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE)
                : EnumSet.complementOf(EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE));
        if (attributes.permissions().stream().anyMatch(forbidden::contains)) {
            throw new IOException("private key file " + key + " has group or world access; it must be u=rw (0600) or less when owned by you, "
                    + "or u=rw,g=r (0640) or less when owned by root: chmod 600 " + key);
        }
    }

    /** A PEM private key in any form OpenSSL writes: PKCS#8, PKCS#1 RSA, SEC1 EC, encrypted or not. */
    private static PrivateKey privateKey(Path file, Optional<String> password) throws IOException {
        // Bouncy Castle reads every encoding (the JDK refuses SEC1 EC keys without curve parameters in the
        // algorithm identifier); the result is re-imported as a JDK key, which the JDK's TLS signs with.
        JcaPEMKeyConverter converter = new JcaPEMKeyConverter().setProvider(BOUNCY_CASTLE);
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser parser = new PEMParser(reader)) {
            Object object = parser.readObject();
            if (object instanceof PEMEncryptedKeyPair || object instanceof PKCS8EncryptedPrivateKeyInfo) {
                char[] secret = password.orElseThrow(() -> new IOException("private key " + file
                        + " is encrypted: give its passphrase with sslpassword=... in the conninfo, or decrypt it")).toCharArray();
                if (object instanceof PEMEncryptedKeyPair encrypted) {
                    object = encrypted.decryptKeyPair(new JcePEMDecryptorProviderBuilder().setProvider(BOUNCY_CASTLE).build(secret));
                } else {
                    object = ((PKCS8EncryptedPrivateKeyInfo) object).decryptPrivateKeyInfo(new JceOpenSSLPKCS8DecryptorProviderBuilder().setProvider(BOUNCY_CASTLE).build(secret));
                }
            }
            if (object instanceof PEMKeyPair pair) {
                object = pair.getPrivateKeyInfo();
            }
            if (object instanceof PrivateKeyInfo info) {
                PrivateKey read = converter.getPrivateKey(info);
                String algorithm = read.getAlgorithm().equals("ECDSA") ? "EC" : read.getAlgorithm(); // Bouncy Castle's name for it
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(read.getEncoded()));
            }
            throw new IOException("private key file " + file + " holds no PEM private key");
        } catch (OperatorCreationException | PKCSException e) {
            throw new IOException("cannot decrypt private key " + file + " (wrong sslpassword?): " + e.getMessage(), e);
        } catch (GeneralSecurityException e) {
            throw new IOException("private key " + file + " is not a key Java can use: " + e.getMessage(), e);
        }
    }

    /**
     * sslmode require/prefer/allow without a root certificate file: encrypted but not
     * authenticated, as libpq does. A man in the middle can still read the traffic;
     * verify-full is what stops it, and the docs say so.
     */
    private static final class UnverifiedServer extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}

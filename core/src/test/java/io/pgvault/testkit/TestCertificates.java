package io.pgvault.testkit;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.PKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Certificates made by the test, for real TLS: a CA, server certificates naming the hosts
 * given, client certificates for a role (its CN). EC P-256 keys: quick to make, and what
 * PostgreSQL, curl and the JDK all accept. Written as PEM, as a DBA's files are.
 */
public final class TestCertificates {

    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

    private final KeyPair caKeys;
    private final X509Certificate ca;

    private TestCertificates(KeyPair caKeys, X509Certificate ca) {
        this.caKeys = caKeys;
        this.ca = ca;
    }

    /** A new certificate authority named {@code name}. */
    public static TestCertificates authority(String name) {
        try {
            KeyPair keys = keyPair();
            X500Name subject = new X500Name("CN=" + name);
            X509v3CertificateBuilder builder = builder(subject, subject, keys)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            return new TestCertificates(keys, sign(builder, keys));
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A certificate and its key, as PEM files. */
    public record Issued(Path certificate, Path key) {
    }

    /** Writes the CA's certificate to {@code file}. */
    public Path writeCa(Path file) {
        write(file, pem(ca));
        return file;
    }

    /** A server certificate whose subjectAltNames are {@code dnsNames} and {@code ipAddresses}. */
    public Issued server(Path directory, String baseName, List<String> dnsNames, List<String> ipAddresses) {
        GeneralName[] names = new GeneralName[dnsNames.size() + ipAddresses.size()];
        int i = 0;
        for (String dns : dnsNames) {
            names[i++] = new GeneralName(GeneralName.dNSName, dns);
        }
        for (String ip : ipAddresses) {
            names[i++] = new GeneralName(GeneralName.iPAddress, ip);
        }
        return issue(directory, baseName, "CN=" + (dnsNames.isEmpty() ? ipAddresses.get(0) : dnsNames.get(0)), names, null);
    }

    /** A client certificate for {@code role} (PostgreSQL's cert method maps the CN to the role). */
    public Issued client(Path directory, String baseName, String role) {
        return issue(directory, baseName, "CN=" + role, null, null);
    }

    /** As {@link #client}, its key encrypted with {@code passphrase} (libpq's sslpassword). */
    public Issued clientWithEncryptedKey(Path directory, String baseName, String role, String passphrase) {
        return issue(directory, baseName, "CN=" + role, null, passphrase);
    }

    private Issued issue(Path directory, String baseName, String subject, GeneralName[] altNames, String passphrase) {
        try {
            KeyPair keys = keyPair();
            X509v3CertificateBuilder builder = builder(new X500Name(ca.getSubjectX500Principal().getName()), new X500Name(subject), keys)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            if (altNames != null) {
                builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(altNames));
            }
            X509Certificate certificate = sign(builder, caKeys);
            Path cert = directory.resolve(baseName + ".crt");
            Path key = directory.resolve(baseName + ".key");
            write(cert, pem(certificate));
            StringWriter text = new StringWriter();
            try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
                if (passphrase == null) {
                    writer.writeObject(new JcaPKCS8Generator(keys.getPrivate(), null)); // BEGIN PRIVATE KEY: what every OpenSSL reads
                } else {
                    // BEGIN ENCRYPTED PRIVATE KEY, as openssl genpkey -aes256 writes it.
                    writer.writeObject(new JcaPKCS8Generator(keys.getPrivate(), new JceOpenSSLPKCS8EncryptorBuilder(PKCS8Generator.AES_256_CBC)
                            .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider()).setPassword(passphrase.toCharArray()).build()));
                }
            }
            write(key, text.toString());
            Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
            return new Issued(cert, key);
        } catch (GeneralSecurityException | IOException | org.bouncycastle.operator.OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys) {
        Instant now = Instant.now();
        return new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(now.minus(Duration.ofHours(1))),
                Date.from(now.plus(Duration.ofDays(2))), subject, keys.getPublic());
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, KeyPair signer) throws GeneralSecurityException {
        try {
            ContentSigner contentSigner = new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate());
            return new JcaX509CertificateConverter().getCertificate(builder.build(contentSigner));
        } catch (org.bouncycastle.operator.OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private static KeyPair keyPair() throws GeneralSecurityException {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        return generator.generateKeyPair();
    }

    private static String pem(Object object) {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(object);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return text.toString();
    }

    private static void write(Path file, String text) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

package io.pgvault.cli;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.io.IOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;

/**
 * A private CA and a server certificate signed by it for 127.0.0.1 and localhost, made when
 * a test runs and written as PEM: what a DBA gets from an in-house CA.
 */
record TestCertificates(Path caCert, Path serverCert, Path serverKey, Path otherCaCert) {

    static TestCertificates create(Path dir) throws Exception {
        KeyPair ca = keyPair();
        X509CertificateHolder caHolder = sign(new X500Name("CN=pgvault test CA"), ca.getPublic(), new X500Name("CN=pgvault test CA"), ca.getPrivate(), true);
        KeyPair server = keyPair();
        X509CertificateHolder serverHolder = sign(new X500Name("CN=localhost"), server.getPublic(), caHolder.getSubject(), ca.getPrivate(), false);
        KeyPair other = keyPair();
        X509CertificateHolder otherHolder = sign(new X500Name("CN=another CA"), other.getPublic(), new X500Name("CN=another CA"), other.getPrivate(), true);
        TestCertificates files = new TestCertificates(dir.resolve("ca.pem"), dir.resolve("server.pem"), dir.resolve("server.key"), dir.resolve("other-ca.pem"));
        pem(files.caCert(), caHolder);
        pem(files.serverCert(), serverHolder);
        pem(files.serverKey(), new JcaPKCS8Generator(server.getPrivate(), null));
        pem(files.otherCaCert(), otherHolder);
        return files;
    }

    private static KeyPair keyPair() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(256);
        return generator.generateKeyPair();
    }

    private static X509CertificateHolder sign(X500Name subject, java.security.PublicKey key, X500Name issuer, PrivateKey issuerKey, boolean ca)
            throws Exception {
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(now.toEpochMilli()),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(1))), subject, key);
        builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
        if (ca) {
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        } else {
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                    new GeneralName(GeneralName.iPAddress, "127.0.0.1"), new GeneralName(GeneralName.dNSName, "localhost")}));
        }
        return builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey));
    }

    private static void pem(Path file, Object object) throws IOException {
        try (Writer w = Files.newBufferedWriter(file); JcaPEMWriter pem = new JcaPEMWriter(w)) {
            pem.writeObject(object);
        }
    }
}

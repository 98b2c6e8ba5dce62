package io.usher.testing;

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
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Certificates made by the tests themselves (nothing private is committed): a CA, and server and
 * client certificates it signs, written as PEM files the way OpenSSL writes them.
 */
public final class TestCerts {
    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

    /** A key pair and its certificate. */
    public record Issued(KeyPair keys, X509Certificate cert) {
        /** The private key in OpenSSL's traditional form (RSA: PKCS#1, EC: SEC1). */
        public String keyPem() {
            if (keys.getPrivate().getAlgorithm().equals("EC")) {
                return ecKeyPem(keys.getPrivate());
            }
            return pem(keys.getPrivate());
        }

        /** The private key as PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
        public String keyPkcs8Pem() {
            return "-----BEGIN PRIVATE KEY-----\n"
                    + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(keys.getPrivate().getEncoded())
                    + "\n-----END PRIVATE KEY-----\n";
        }

        public String certPem() {
            return pem(cert);
        }

        /** Writes cert.pem, key.pem (traditional form, mode 0600) and key.pk8 (PKCS#8 DER, for pgjdbc) into dir under name. */
        public Files3 write(Path dir, String name) {
            try {
                Files.createDirectories(dir);
                Path cert = dir.resolve(name + ".crt");
                Path key = dir.resolve(name + ".key");
                Path der = dir.resolve(name + ".pk8");
                Files.writeString(cert, certPem());
                Files.writeString(key, keyPem());
                Files.write(der, keys.getPrivate().getEncoded());
                Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
                Files.setPosixFilePermissions(der, PosixFilePermissions.fromString("rw-------"));
                return new Files3(cert, key, der);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Where {@link Issued#write} put things. */
    public record Files3(Path cert, Path key, Path pkcs8Der) {}

    private final Issued ca;

    private TestCerts(Issued ca) {
        this.ca = ca;
    }

    /** A new CA ("Usher Test CA", RSA 2048). */
    public static TestCerts newCa() {
        return newCa("Usher Test CA");
    }

    public static TestCerts newCa(String name) {
        try {
            KeyPair keys = rsa();
            X500Name subject = new X500Name("CN=" + name);
            X509v3CertificateBuilder b = builder(subject, subject, keys);
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            return new TestCerts(new Issued(keys, sign(b, keys.getPrivate())));
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public Issued ca() {
        return ca;
    }

    /** Writes the CA certificate as PEM. */
    public Path writeCa(Path file) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, ca.certPem());
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A server certificate for these DNS names and IP addresses (the first is also the CN). */
    public Issued server(boolean ec, String... names) {
        try {
            KeyPair keys = ec ? ec() : rsa();
            X509v3CertificateBuilder b = builder(issuerName(), new X500Name("CN=" + names[0]), keys);
            List<GeneralName> alt = new ArrayList<>();
            for (String n : names) {
                alt.add(n.matches("[0-9.]+|.*:.*") ? new GeneralName(GeneralName.iPAddress, n) : new GeneralName(GeneralName.dNSName, n));
            }
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(alt.toArray(new GeneralName[0])));
            return new Issued(keys, sign(b, ca.keys().getPrivate()));
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A client certificate with this CommonName. */
    public Issued client(String commonName) {
        try {
            KeyPair keys = rsa();
            X509v3CertificateBuilder b = builder(issuerName(), new X500Name("CN=" + commonName), keys);
            return new Issued(keys, sign(b, ca.keys().getPrivate()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private X500Name issuerName() {
        return X500Name.getInstance(ca.cert().getSubjectX500Principal().getEncoded());
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys) {
        long now = System.currentTimeMillis();
        return new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(SERIAL.incrementAndGet()),
                new Date(now - 3_600_000L), new Date(now + 7L * 24 * 3_600_000L), subject, keys.getPublic());
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey issuerKey)
            throws GeneralSecurityException {
        try {
            String alg = issuerKey.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
            ContentSigner signer = new JcaContentSignerBuilder(alg).build(issuerKey);
            return new JcaX509CertificateConverter().getCertificate(b.build(signer));
        } catch (org.bouncycastle.operator.OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private static KeyPair rsa() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        return g.generateKeyPair();
    }

    private static KeyPair ec() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    /** SEC1 "EC PRIVATE KEY" with the curve named in it, as OpenSSL writes it (the JDK's encoding leaves it out). */
    static String ecKeyPem(PrivateKey key) {
        try {
            org.bouncycastle.asn1.pkcs.PrivateKeyInfo info = org.bouncycastle.asn1.pkcs.PrivateKeyInfo.getInstance(key.getEncoded());
            org.bouncycastle.asn1.sec.ECPrivateKey inner = org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(info.parsePrivateKey());
            org.bouncycastle.asn1.sec.ECPrivateKey full = new org.bouncycastle.asn1.sec.ECPrivateKey(256, inner.getKey(),
                    inner.getPublicKey(), info.getPrivateKeyAlgorithm().getParameters());
            return "-----BEGIN EC PRIVATE KEY-----\n"
                    + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(full.getEncoded())
                    + "\n-----END EC PRIVATE KEY-----\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String pem(Object o) {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
            pw.writeObject(o);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return w.toString();
    }
}

package io.usher.tls;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the PEM files PgBouncer's TLS settings name, as OpenSSL writes them: certificates (one or a
 * chain) and unencrypted private keys in PKCS#8 ({@code BEGIN PRIVATE KEY}), PKCS#1
 * ({@code BEGIN RSA PRIVATE KEY}) or SEC1 ({@code BEGIN EC PRIVATE KEY}) form. The JDK reads only
 * PKCS#8, so the other two are wrapped into PKCS#8 here (a few bytes of DER around the key).
 */
public final class PemFiles {
    private static final Pattern BLOCK =
            Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----");
    private static final byte[] RSA_OID = {0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01};
    private static final byte[] EC_OID = {0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};
    private static final byte[] DER_NULL = {0x05, 0x00};
    private static final byte[] VERSION_0 = {0x02, 0x01, 0x00};

    private PemFiles() {}

    /** Every certificate in the file, in file order (a server certificate first, then its chain). */
    public static List<X509Certificate> certificates(String setting, Path file) throws TlsConfigException {
        byte[] bytes = read(setting, file);
        try {
            Collection<? extends Certificate> all = CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(bytes));
            List<X509Certificate> certs = new ArrayList<>();
            for (Certificate c : all) {
                certs.add((X509Certificate) c);
            }
            if (certs.isEmpty()) {
                throw new TlsConfigException(setting + ": no certificate in " + file);
            }
            return certs;
        } catch (CertificateException e) {
            throw new TlsConfigException(setting + ": cannot read certificates from " + file + ": " + e.getMessage(), e);
        }
    }

    /** The private key in the file (the first key block in it). */
    public static PrivateKey privateKey(String setting, Path file) throws TlsConfigException {
        String text = new String(read(setting, file), StandardCharsets.US_ASCII);
        Matcher m = BLOCK.matcher(text);
        while (m.find()) {
            String type = m.group(1);
            byte[] der;
            try {
                der = Base64.getMimeDecoder().decode(m.group(2).trim());
            } catch (IllegalArgumentException e) {
                throw new TlsConfigException(setting + ": " + file + " is not valid PEM");
            }
            switch (type) {
                case "PRIVATE KEY":
                    return pkcs8(setting, file, der);
                case "RSA PRIVATE KEY":
                    return pkcs8(setting, file, sequence(VERSION_0, sequence(RSA_OID, DER_NULL), octetString(der)));
                case "EC PRIVATE KEY":
                    return pkcs8(setting, file, sequence(VERSION_0, sequence(EC_OID, ecCurve(setting, file, der)), octetString(der)));
                case "ENCRYPTED PRIVATE KEY":
                    throw new TlsConfigException(setting + ": " + file + " holds an encrypted key; Usher, like PgBouncer, needs it unencrypted");
                default:
                    if (type.contains("PRIVATE KEY") && m.group(2).contains("ENCRYPTED")) {
                        throw new TlsConfigException(setting + ": " + file + " holds an encrypted key; Usher, like PgBouncer, needs it unencrypted");
                    }
                    // other blocks (EC PARAMETERS, CERTIFICATE) may come before the key
            }
        }
        throw new TlsConfigException(setting + ": no private key in " + file);
    }

    private static byte[] read(String setting, Path file) throws TlsConfigException {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new TlsConfigException(setting + ": cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static PrivateKey pkcs8(String setting, Path file, byte[] der) throws TlsConfigException {
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String algorithm : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS", "DSA"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new TlsConfigException(setting + ": cannot read the private key in " + file);
    }

    /** The curve OID from a SEC1 ECPrivateKey's [0] parameters (as a DER OID element). */
    private static byte[] ecCurve(String setting, Path file, byte[] sec1) throws TlsConfigException {
        try {
            int[] seq = header(sec1, 0);          // SEQUENCE
            int pos = seq[0];
            int end = seq[0] + seq[1];
            while (pos < end) {
                int tag = sec1[pos] & 0xff;
                int[] h = header(sec1, pos);
                if (tag == 0xa0) {                // [0] parameters: the curve's OID
                    int[] oid = header(sec1, h[0]);
                    byte[] out = new byte[oid[0] - h[0] + oid[1]];
                    System.arraycopy(sec1, h[0], out, 0, out.length);
                    return out;
                }
                pos = h[0] + h[1];
            }
        } catch (ArrayIndexOutOfBoundsException e) {
            // fall through
        }
        throw new TlsConfigException(setting + ": the EC key in " + file + " names no curve");
    }

    /** {content start, content length} of the DER element at {@code pos}. */
    private static int[] header(byte[] der, int pos) {
        int len = der[pos + 1] & 0xff;
        int start = pos + 2;
        if (len > 0x80) {
            int n = len & 0x7f;
            len = 0;
            for (int i = 0; i < n; i++) {
                len = (len << 8) | (der[start + i] & 0xff);
            }
            start += n;
        }
        return new int[] {start, len};
    }

    private static byte[] sequence(byte[]... parts) {
        return element(0x30, parts);
    }

    private static byte[] octetString(byte[] content) {
        return element(0x04, content);
    }

    private static byte[] element(int tag, byte[]... parts) {
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            content.writeBytes(p);
        }
        int n = content.size();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(tag);
        if (n < 0x80) {
            out.write(n);
        } else if (n < 0x100) {
            out.write(0x81);
            out.write(n);
        } else if (n < 0x10000) {
            out.write(0x82);
            out.write(n >> 8);
            out.write(n);
        } else {
            out.write(0x83);
            out.write(n >> 16);
            out.write(n >> 8);
            out.write(n);
        }
        out.writeBytes(content.toByteArray());
        return out.toByteArray();
    }
}

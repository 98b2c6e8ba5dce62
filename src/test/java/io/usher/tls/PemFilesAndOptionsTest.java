package io.usher.tls;

import io.usher.testing.TestCerts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Key and certificate files as OpenSSL writes them, and PgBouncer's spellings of protocols and ciphers. */
class PemFilesAndOptionsTest {
    @TempDir
    Path dir;

    private PrivateKey read(String pem) throws Exception {
        Path f = dir.resolve("k.pem");
        Files.writeString(f, pem);
        return PemFiles.privateKey("client_tls_key_file", f);
    }

    @Test
    void readsPkcs8Pkcs1AndSec1Keys() throws Exception {
        TestCerts ca = TestCerts.newCa();
        TestCerts.Issued rsa = ca.server(false, "localhost");
        TestCerts.Issued ec = ca.server(true, "localhost");
        assertThat(rsa.keyPem()).contains("BEGIN RSA PRIVATE KEY");
        assertThat(ec.keyPem()).contains("BEGIN EC PRIVATE KEY");
        assertThat(read(rsa.keyPem()).getEncoded()).isEqualTo(rsa.keys().getPrivate().getEncoded());
        assertThat(read(rsa.keyPkcs8Pem()).getEncoded()).isEqualTo(rsa.keys().getPrivate().getEncoded());
        assertThat(read(ec.keyPem()).getAlgorithm()).isEqualTo("EC");
        assertThat(read(ec.keyPkcs8Pem()).getAlgorithm()).isEqualTo("EC");
        // the certificate and the key in one file, as some setups keep them
        assertThat(read(rsa.certPem() + rsa.keyPem()).getAlgorithm()).isEqualTo("RSA");
        Path chain = dir.resolve("chain.pem");
        Files.writeString(chain, rsa.certPem() + ca.ca().certPem());
        assertThat(PemFiles.certificates("x", chain)).containsExactly(rsa.cert(), ca.ca().cert());
    }

    @Test
    void refusesWhatItCannotUse() {
        assertThatThrownBy(() -> read("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
                .hasMessageContaining("encrypted");
        assertThatThrownBy(() -> read("nothing here")).hasMessageContaining("no private key");
        assertThatThrownBy(() -> PemFiles.certificates("client_tls_cert_file", dir.resolve("missing.pem")))
                .hasMessageContaining("client_tls_cert_file: cannot read");
    }

    @Test
    void protocols() throws Exception {
        assertThat(TlsOptions.protocols("p", "secure")).containsExactly("TLSv1.2", "TLSv1.3");
        assertThat(TlsOptions.protocols("p", "all")).containsExactly("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3");
        assertThat(TlsOptions.protocols("p", "tlsv1.3")).containsExactly("TLSv1.3");
        assertThat(TlsOptions.protocols("p", "TLSv1.2,tlsv1.3")).containsExactly("TLSv1.2", "TLSv1.3");
        assertThat(TlsOptions.protocols("p", "all:!tlsv1.0:!tlsv1.1")).containsExactly("TLSv1.2", "TLSv1.3");
        assertThatThrownBy(() -> TlsOptions.protocols("p", "sslv3")).hasMessageContaining("unknown protocol");
        assertThatThrownBy(() -> TlsOptions.protocols("p", "!all")).hasMessageContaining("no protocol left");
    }

    @Test
    void ciphers() throws Exception {
        assertThat(TlsOptions.cipherSuites("client_tls", "default", "", false)).isNull();
        assertThat(TlsOptions.cipherSuites("client_tls", "HIGH:!aNULL", "", false)).isNull();
        assertThat(TlsOptions.cipherSuites("client_tls", "ECDHE-RSA-AES128-GCM-SHA256:!aNULL", "", false))
                .contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").doesNotContain("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
        assertThat(TlsOptions.cipherSuites("client_tls", "default", "TLS_AES_128_GCM_SHA256", false))
                .contains("TLS_AES_128_GCM_SHA256").doesNotContain("TLS_AES_256_GCM_SHA384");
        assertThat(TlsOptions.cipherSuites("client_tls", "default", "", true)).noneMatch(s -> s.contains("_DHE_"));
        assertThatThrownBy(() -> TlsOptions.cipherSuites("client_tls", "NO-SUCH-CIPHER", "", false))
                .hasMessageContaining("client_tls_ciphers");
        assertThatThrownBy(() -> TlsOptions.cipherSuites("client_tls", "default", "TLS_NOPE", false))
                .hasMessageContaining("client_tls13_ciphers");
    }

    @Test
    void curvesAndDhParams() throws Exception {
        assertThat(TlsOptions.namedGroups("e", "auto")).isNull();
        assertThat(TlsOptions.namedGroups("e", "prime256v1")).containsExactly("secp256r1");
        assertThatThrownBy(() -> TlsOptions.namedGroups("e", "brainpool")).hasMessageContaining("unknown curve");
        assertThat(TlsOptions.noDhe("d", "none")).isTrue();
        assertThat(TlsOptions.noDhe("d", "auto")).isFalse();
        assertThatThrownBy(() -> TlsOptions.noDhe("d", "huge")).hasMessageContaining("none, auto or legacy");
    }

    @Test
    void sslModesAndCommonNames() {
        assertThat(SslMode.parse("verify-full").atLeast(SslMode.REQUIRE)).isTrue();
        assertThat(SslMode.parse("Prefer")).isEqualTo(SslMode.PREFER);
        assertThat(CertNames.commonName(TestCerts.newCa().client("app_user").cert())).isEqualTo("app_user");
    }
}

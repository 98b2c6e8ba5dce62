package io.usher.it;

import ch.qos.logback.classic.Level;
import io.usher.testing.LogCapture;
import io.usher.testing.PostgresCluster;
import io.usher.testing.ProcessResult;
import io.usher.testing.TestCerts;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.SCRAM2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** TLS between clients and Usher (client_tls_*), with pgjdbc, psql and raw sockets. */
class ClientTlsTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    @TempDir
    static Path dir;
    static TestCerts certs;
    static Path caFile;
    static TestCerts.Files3 usherCert;   // EC key (SEC1 PEM), for 127.0.0.1 and localhost
    static TestCerts.Files3 clientCert;  // CN=u_md5

    @BeforeAll
    static void makeCertificates() {
        certs = TestCerts.newCa();
        caFile = certs.writeCa(dir.resolve("ca.crt"));
        usherCert = certs.server(true, "localhost", "127.0.0.1").write(dir, "usher");
        clientCert = certs.client(MD5).write(dir, "client");
    }

    private UsherInstance.Builder tls(String mode) {
        return UsherInstance.builder(pg).set("client_tls_sslmode", mode)
                .set("client_tls_key_file", usherCert.key()).set("client_tls_cert_file", usherCert.cert())
                .set("client_tls_ca_file", caFile).set("server_tls_sslmode", "disable");
    }

    private static Properties ssl(String mode) {
        Properties p = new Properties();
        p.setProperty("sslmode", mode);
        p.setProperty("sslrootcert", caFile.toString());
        return p;
    }

    private static Properties withClientCert(Properties p) {
        p.setProperty("sslcert", clientCert.cert().toString());
        p.setProperty("sslkey", clientCert.pkcs8Der().toString());
        return p;
    }

    private static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** The tls column of SHOW CLIENTS for clients of appdb. */
    private static java.util.List<String> tlsColumn(UsherInstance u) throws SQLException {
        Properties p = ssl("require");
        p.setProperty("preferQueryMode", "simple");
        java.util.List<String> out = new java.util.ArrayList<>();
        try (Connection admin = u.connect(SCRAM2, "scram2_pw", "pgbouncer", p);
             Statement s = admin.createStatement(); ResultSet rs = s.executeQuery("SHOW CLIENTS")) {
            while (rs.next()) {
                if ("appdb".equals(rs.getString("database"))) {
                    out.add(rs.getString("tls"));
                }
            }
        }
        return out;
    }

    /** Sends an 8-byte special request (SSLRequest or GSSENCRequest) and returns the one-byte answer. */
    private static char answerTo(int port, int code) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(ByteBuffer.allocate(8).putInt(8).putInt(code).array());
            return (char) new DataInputStream(s.getInputStream()).readByte();
        }
    }

    /** The certificate Usher shows right now (SSLRequest, then a handshake that trusts anything). */
    private static X509Certificate certificateShown(int port) throws Exception {
        Socket raw = new Socket("127.0.0.1", port);
        raw.setSoTimeout(10_000);
        OutputStream out = raw.getOutputStream();
        out.write(ByteBuffer.allocate(8).putInt(8).putInt(80877103).array());
        assertThat((char) raw.getInputStream().read()).isEqualTo('S');
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] c, String a) {}
            public void checkServerTrusted(X509Certificate[] c, String a) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        }}, null);
        try (SSLSocket tls = (SSLSocket) ctx.getSocketFactory().createSocket(raw, "127.0.0.1", port, true)) {
            tls.startHandshake();
            return (X509Certificate) tls.getSession().getPeerCertificates()[0];
        }
    }

    @Test
    void requireServesTlsClientsAndRefusesPlainOnes() throws Exception {
        try (LogCapture logs = new LogCapture(Level.INFO);
             UsherInstance u = tls("require").set("admin_users", SCRAM2).userlist(SCRAM2, "scram2_pw").start()) {
            try (Connection c = u.connect(MD5, "md5_pw", "appdb", ssl("require"))) {
                assertThat(one(c, "SELECT current_user")).isEqualTo(MD5);
                assertThat(tlsColumn(u)).singleElement().asString().startsWith("TLSv1.").contains("/TLS_");
            }
            assertThatThrownBy(() -> u.connect(MD5, "md5_pw", "appdb", ssl("disable")))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getMessage()).contains("SSL required");
                        assertThat(e.getSQLState()).isEqualTo("28000");
                    });
            assertThat(logs.text()).containsPattern("login attempt: db=appdb user=u_md5 tls=TLSv1\\.[23]/TLS_");
        }
    }

    @Test
    void verifyFullWithTheTestCaAndAClientCertificate() throws Exception {
        try (UsherInstance u = tls("verify-full").start()) {
            try (Connection c = u.connect(MD5, "md5_pw", "appdb", withClientCert(ssl("verify-full")))) {
                assertThat(one(c, "SELECT current_user")).isEqualTo(MD5);
            }
            // verify-ca and verify-full want a client certificate signed by client_tls_ca_file
            assertThatThrownBy(() -> u.connect(MD5, "md5_pw", "appdb", ssl("verify-full")))
                    .isInstanceOf(SQLException.class);
            TestCerts other = TestCerts.newCa("Another CA");
            TestCerts.Files3 stranger = other.client(MD5).write(dir, "stranger");
            Properties p = ssl("verify-full");
            p.setProperty("sslcert", stranger.cert().toString());
            p.setProperty("sslkey", stranger.pkcs8Der().toString());
            assertThatThrownBy(() -> u.connect(MD5, "md5_pw", "appdb", p)).isInstanceOf(SQLException.class);
        }
    }

    @Test
    void pgjdbcVerifyFullRefusesAUsherCertificateFromAnotherCa() throws Exception {
        TestCerts other = TestCerts.newCa("Another CA");
        TestCerts.Files3 wrong = other.server(false, "localhost", "127.0.0.1").write(dir, "wrong");
        try (UsherInstance u = tls("prefer").set("client_tls_key_file", wrong.key())
                .set("client_tls_cert_file", wrong.cert()).start()) {
            assertThatThrownBy(() -> u.connect(MD5, "md5_pw", "appdb", ssl("verify-full")))
                    .isInstanceOf(SQLException.class);
            // prefer still serves plain clients
            try (Connection c = u.connect(MD5, "md5_pw", "appdb", ssl("disable"))) {
                assertThat(one(c, "SELECT 1")).isEqualTo("1");
            }
        }
    }

    @Test
    void sslRequestIsAnsweredPerModeAndGssEncryptionIsRefused() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).start()) {
            assertThat(answerTo(u.port(), 80877103)).isEqualTo('N'); // disable (the default)
            assertThat(answerTo(u.port(), 80877104)).isEqualTo('N'); // GSSENCRequest
        }
        try (UsherInstance u = tls("allow").start()) {
            assertThat(answerTo(u.port(), 80877103)).isEqualTo('S');
            assertThat(answerTo(u.port(), 80877104)).isEqualTo('N');
            try (Connection c = u.connect(MD5, "md5_pw", "appdb", ssl("disable"))) {
                assertThat(one(c, "SELECT 1")).isEqualTo("1");
            }
        }
    }

    @Test
    void psqlWithSslmodeRequire() throws Exception {
        assumeTrue(PostgresCluster.findClientTool("psql").isPresent(), "psql not installed");
        try (UsherInstance u = tls("require").start()) {
            ProcessResult r = pg.runClient(Duration.ofSeconds(60), Map.of("PGPASSWORD", "md5_pw"), "psql",
                    "host=127.0.0.1 port=" + u.port() + " dbname=appdb user=" + MD5 + " sslmode=require",
                    "-X", "-A", "-t", "-c", "SELECT 'via ' || current_user");
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(r.stdout().trim()).isEqualTo("via u_md5");
            ProcessResult plain = pg.runClient(Duration.ofSeconds(60), Map.of("PGPASSWORD", "md5_pw"), "psql",
                    "host=127.0.0.1 port=" + u.port() + " dbname=appdb user=" + MD5 + " sslmode=disable",
                    "-X", "-A", "-t", "-c", "SELECT 1");
            assertThat(plain.exitCode()).isNotZero();
            assertThat(plain.stderr()).contains("SSL required");
        }
    }

    @Test
    void reloadReadsTheFilesAgainAndABadCertificateKeepsTheOldOne() throws Exception {
        Path key = dir.resolve("reload.key");
        Path cert = dir.resolve("reload.crt");
        TestCerts.Issued first = certs.server(false, "localhost", "127.0.0.1");
        Files.writeString(key, first.keyPkcs8Pem());
        Files.writeString(cert, first.certPem());
        try (LogCapture logs = new LogCapture(Level.INFO);
             UsherInstance u = tls("require").set("client_tls_key_file", key).set("client_tls_cert_file", cert).start()) {
            assertThat(certificateShown(u.port())).isEqualTo(first.cert());

            TestCerts.Issued second = certs.server(true, "localhost", "127.0.0.1");
            Files.writeString(key, second.keyPem());
            Files.writeString(cert, second.certPem());
            assertThat(u.usher().reload()).isNull();
            assertThat(certificateShown(u.port())).isEqualTo(second.cert());

            Files.writeString(cert, "not a certificate\n");
            assertThat(u.usher().reload()).isNull(); // the rest of the configuration still reloads
            assertThat(logs.text()).contains("TLS configuration could not be reloaded, keeping old configuration");
            assertThat(certificateShown(u.port())).isEqualTo(second.cert());
            try (Connection c = u.connect(MD5, "md5_pw", "appdb", ssl("verify-full"))) {
                assertThat(one(c, "SELECT 1")).isEqualTo("1");
            }
        }
    }

    @Test
    void badTlsSettingsStopTheStart() {
        assertThatThrownBy(() -> tls("require").set("client_tls_key_file", dir.resolve("missing.key")).start())
                .hasMessageContaining("client_tls_key_file");
        assertThatThrownBy(() -> UsherInstance.builder(pg).set("client_tls_sslmode", "require").start())
                .hasMessageContaining("needs client_tls_key_file and client_tls_cert_file");
        assertThatThrownBy(() -> tls("require").set("client_tls_protocols", "tlsv1.9").start())
                .hasMessageContaining("client_tls_protocols");
    }

    @Test
    void protocolsAndCiphersAreApplied() throws Exception {
        try (UsherInstance u = tls("require").set("client_tls_protocols", "tlsv1.2")
                .set("client_tls_ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256").start()) {
            Properties p = ssl("require");
            try (Connection c = u.connect(MD5, "md5_pw", "appdb", p)) {
                assertThat(one(c, "SELECT 1")).isEqualTo("1");
            }
        }
        try (LogCapture logs = new LogCapture(Level.INFO);
             UsherInstance u = tls("require").set("client_tls_protocols", "tlsv1.3")
                .set("client_tls13_ciphers", "TLS_CHACHA20_POLY1305_SHA256").start()) {
            try (Connection c = u.connect(MD5, "md5_pw", "appdb", ssl("require"))) {
                assertThat(one(c, "SELECT 1")).isEqualTo("1");
            }
            assertThat(logs.text()).contains("tls=TLSv1.3/TLS_CHACHA20_POLY1305_SHA256");
        }
        try (LogCapture logs = new LogCapture(Level.INFO);
             UsherInstance u = tls("require").set("client_tls_protocols", "tlsv1.2").start()) {
            try (Connection c = u.connect(MD5, "md5_pw", "appdb", ssl("require"))) {
                assertThat(one(c, "SELECT 1")).isEqualTo("1");
            }
            assertThat(logs.text()).contains("tls=TLSv1.2/TLS_ECDHE_ECDSA_");
        }
    }

    @Test
    void certAuthTakesTheUserFromTheCertificate() throws Exception {
        try (LogCapture logs = new LogCapture(Level.INFO);
             UsherInstance u = tls("verify-ca").set("auth_type", "cert").start()) {
            try (Connection c = u.connect(MD5, null, "appdb", withClientCert(ssl("verify-full")))) {
                assertThat(one(c, "SELECT current_user")).isEqualTo(MD5);
            }
            // a certificate for u_md5 does not log in u_scram
            assertThatThrownBy(() -> u.connect("u_scram", null, "appdb", withClientCert(ssl("verify-full"))))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getMessage()).contains("certificate authentication failed");
                        assertThat(e.getSQLState()).isEqualTo("28000");
                    });
            assertThat(logs.text()).contains("TLS certificate name mismatch");
            // a user that is not in auth_file, even with a matching certificate
            TestCerts.Files3 ghost = certs.client("ghost").write(dir, "ghost");
            Properties p = ssl("verify-full");
            p.setProperty("sslcert", ghost.cert().toString());
            p.setProperty("sslkey", ghost.pkcs8Der().toString());
            assertThatThrownBy(() -> u.connect("ghost", null, "appdb", p))
                    .hasMessageContaining("certificate authentication failed");
            // without a certificate there is no TLS session at all under verify-ca
            assertThatThrownBy(() -> u.connect(MD5, "md5_pw", "appdb", ssl("require"))).isInstanceOf(SQLException.class);
        }
    }

    @Test
    void certAuthWithPsql() throws Exception {
        assumeTrue(PostgresCluster.findClientTool("psql").isPresent(), "psql not installed");
        try (UsherInstance u = tls("verify-full").set("auth_type", "cert").start()) {
            ProcessResult r = pg.runClient(Duration.ofSeconds(60), Map.of(), "psql",
                    "host=127.0.0.1 port=" + u.port() + " dbname=appdb user=" + MD5 + " sslmode=verify-full"
                            + " sslrootcert=" + caFile + " sslcert=" + clientCert.cert() + " sslkey=" + clientCert.key(),
                    "-X", "-A", "-t", "-c", "SELECT current_user");
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(r.stdout().trim()).isEqualTo(MD5);
        }
    }

    @Test
    void certAuthNeedsVerifiedClientCertificates() {
        assertThatThrownBy(() -> tls("require").set("auth_type", "cert").start())
                .hasMessageContaining("auth_type = cert needs client_tls_sslmode = verify-ca or verify-full");
    }
}

package io.usher.it;

import io.usher.testing.PostgresCluster;
import io.usher.testing.TestCerts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.SCRAM;
import static io.usher.testing.TestRoles.SCRAM2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * TLS between Usher and PostgreSQL (server_tls_*), against a cluster with ssl = on whose certificate
 * names only "localhost", and the shared cluster (ssl = off) for refusals. On the TLS cluster u_md5
 * may not log in without TLS (hostnossl ... reject) and u_cert logs in with a client certificate.
 */
class ServerTlsTest {
    @TempDir
    static Path dir;
    static TestCerts certs;
    static Path caFile;
    static PostgresCluster tlsPg;

    @BeforeAll
    static void startTlsCluster() {
        certs = TestCerts.newCa();
        caFile = certs.writeCa(dir.resolve("ca.crt"));
        TestCerts.Issued server = certs.server(false, "localhost");
        tlsPg = PostgresCluster.startNewWithTls(server.certPem(), server.keyPem(), certs.ca().certPem(), List.of(
                "hostnossl all u_md5 127.0.0.1/32 reject",
                "hostssl all u_cert 127.0.0.1/32 cert"));
        tlsPg.execute("CREATE ROLE u_cert LOGIN");
        tlsPg.execute("GRANT ALL ON DATABASE appdb TO u_cert");
    }

    @AfterAll
    static void stop() {
        if (tlsPg != null) {
            tlsPg.close();
        }
    }

    private static UsherInstance.Builder usher(PostgresCluster pg, String mode, String host) {
        return UsherInstance.builder(pg).set("server_tls_sslmode", mode).set("server_tls_ca_file", caFile)
                .set("admin_users", SCRAM2).userlist(SCRAM2, "scram2_pw")
                .database("appdb", "host=" + host + " port=" + pg.port() + " dbname=appdb");
    }

    /** Whether the server connection behind this client uses TLS, as PostgreSQL sees it. */
    private static boolean serverSsl(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    private static List<String> serverTlsColumn(UsherInstance u) throws SQLException {
        Properties p = new Properties();
        p.setProperty("preferQueryMode", "simple");
        List<String> out = new ArrayList<>();
        try (Connection admin = u.connect(SCRAM2, "scram2_pw", "pgbouncer", p);
             Statement s = admin.createStatement(); ResultSet rs = s.executeQuery("SHOW SERVERS")) {
            while (rs.next()) {
                out.add(rs.getString("tls"));
            }
        }
        return out;
    }

    @Test
    void requireUsesTlsAndShowServersSaysSo() throws Exception {
        try (UsherInstance u = usher(tlsPg, "require", "127.0.0.1").start();
             Connection c = u.connect(SCRAM, "appdb")) {
            assertThat(serverSsl(c)).isTrue();
            assertThat(serverTlsColumn(u)).isNotEmpty().allSatisfy(t -> assertThat(t).matches("TLSv1\\.[23]/TLS_.*"));
        }
    }

    @Test
    void preferUsesTlsWhenOfferedAndPlainOtherwise() throws Exception {
        try (UsherInstance u = usher(tlsPg, "prefer", "127.0.0.1").start(); Connection c = u.connect(SCRAM, "appdb")) {
            assertThat(serverSsl(c)).isTrue();
        }
        PostgresCluster plain = PostgresCluster.shared();
        try (UsherInstance u = usher(plain, "prefer", "127.0.0.1").start(); Connection c = u.connect(SCRAM, "appdb")) {
            assertThat(serverSsl(c)).isFalse();
            assertThat(serverTlsColumn(u)).isNotEmpty().allSatisfy(t -> assertThat(t).isEmpty());
        }
    }

    @Test
    void disableNeverAsks() throws Exception {
        try (UsherInstance u = usher(tlsPg, "disable", "127.0.0.1").start(); Connection c = u.connect(SCRAM, "appdb")) {
            assertThat(serverSsl(c)).isFalse();
            // u_md5 may only come over TLS: the server's refusal reaches the client
            assertThatThrownBy(() -> u.connect(MD5, "appdb")).isInstanceOf(SQLException.class)
                    .hasMessageContaining("no encryption");
        }
    }

    @Test
    void allowTriesPlainFirstThenTls() throws Exception {
        try (UsherInstance u = usher(tlsPg, "allow", "127.0.0.1").start()) {
            try (Connection c = u.connect(SCRAM, "appdb")) {
                assertThat(serverSsl(c)).isFalse();
            }
            try (Connection c = u.connect(MD5, "appdb")) {
                assertThat(serverSsl(c)).isTrue();
            }
        }
    }

    @Test
    void requireAgainstAServerWithoutTlsIsAnErrorNeverPlain() throws Exception {
        PostgresCluster plain = PostgresCluster.shared();
        for (String mode : List.of("require", "verify-ca", "verify-full")) {
            try (UsherInstance u = usher(plain, mode, "127.0.0.1").start()) {
                assertThatThrownBy(() -> u.connect(SCRAM, "appdb")).as(mode).isInstanceOf(SQLException.class)
                        .hasMessageContaining("server refused SSL");
            }
        }
    }

    @Test
    void verifyCaChecksTheChainButNotTheName() throws Exception {
        try (UsherInstance u = usher(tlsPg, "verify-ca", "127.0.0.1").start(); Connection c = u.connect(SCRAM, "appdb")) {
            assertThat(serverSsl(c)).isTrue();
        }
        Path otherCa = TestCerts.newCa("Another CA").writeCa(dir.resolve("other-ca.crt"));
        try (UsherInstance u = usher(tlsPg, "verify-ca", "127.0.0.1").set("server_tls_ca_file", otherCa).start()) {
            assertThatThrownBy(() -> u.connect(SCRAM, "appdb")).isInstanceOf(SQLException.class)
                    .hasMessageContaining("TLS");
        }
    }

    @Test
    void verifyFullChecksTheHostName() throws Exception {
        // the certificate names "localhost" only
        try (UsherInstance u = usher(tlsPg, "verify-full", "localhost").start(); Connection c = u.connect(SCRAM, "appdb")) {
            assertThat(serverSsl(c)).isTrue();
        }
        try (UsherInstance u = usher(tlsPg, "verify-full", "127.0.0.1").start()) {
            assertThatThrownBy(() -> u.connect(SCRAM, "appdb")).isInstanceOf(SQLException.class)
                    .hasMessageContaining("TLS");
        }
    }

    @Test
    void clientCertificateForTheServer() throws Exception {
        TestCerts.Files3 mine = certs.client("u_cert").write(dir, "u_cert");
        try (UsherInstance u = usher(tlsPg, "verify-full", "localhost").set("auth_type", "trust")
                .set("server_tls_key_file", mine.key()).set("server_tls_cert_file", mine.cert())
                .userlist("u_cert", "").start();
             Connection c = u.connect("u_cert", null, "appdb", new Properties())) {
            assertThat(serverSsl(c)).isTrue();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT current_user")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("u_cert");
            }
        }
    }

    @Test
    void protocolsAndAChangeOfTlsSettingsReconnects() throws Exception {
        try (UsherInstance u = usher(tlsPg, "disable", "127.0.0.1").set("server_tls_protocols", "tlsv1.2").start();
             Connection c = u.connect(SCRAM, "appdb")) {
            assertThat(serverSsl(c)).isFalse();
            assertThat(u.usher().set("server_tls_sslmode", "require")).isNull();
            // transaction pooling: the next transaction gets a new server, made with the new settings
            assertThat(serverSsl(c)).isTrue();
            assertThat(serverTlsColumn(u)).contains("TLSv1.2/" + serverCipher(c));
            assertThat(u.usher().set("server_tls_protocols", "tlsv1.9")).contains("server_tls_protocols");
        }
    }

    private static String serverCipher(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
            rs.next();
            // PostgreSQL names the cipher the OpenSSL way; map back to the IANA name Java uses
            return io.netty.handler.ssl.CipherSuiteConverter.toJava(rs.getString(1), "TLS");
        }
    }
}

package io.usher.it;

import io.usher.testing.PostgresCluster;
import io.usher.testing.TestCerts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.PLAIN;
import static io.usher.testing.TestRoles.SCRAM;
import static io.usher.testing.TestRoles.TRUST;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** auth_type = hba: the method per connection from auth_hba_file, with real clients. */
class HbaAuthTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    @TempDir
    Path dir;

    private static String who(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT current_user")) {
            rs.next();
            return rs.getString(1);
        }
    }

    @Test
    void methodsPerLineAndRejection() throws Exception {
        TestCerts certs = TestCerts.newCa();
        Path ca = certs.writeCa(dir.resolve("ca.crt"));
        TestCerts.Files3 usherCert = certs.server(false, "127.0.0.1").write(dir, "usher");
        Path hba = dir.resolve("hba.conf");
        Files.writeString(hba, String.join("\n",
                "hostnossl all u_scram 127.0.0.1/32 reject",
                "hostssl   all u_scram 127.0.0.1/32 scram-sha-256",
                "host      all u_trust 127.0.0.1/32 trust",
                "host      appdb u_md5 127.0.0.1/32 md5",
                "host      all u_plain 127.0.0.1/32 password", ""));
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "hba").set("auth_hba_file", hba)
                .set("client_tls_sslmode", "prefer").set("client_tls_key_file", usherCert.key())
                .set("client_tls_cert_file", usherCert.cert()).set("client_tls_ca_file", ca)
                .set("server_tls_sslmode", "disable").userlist(PLAIN, "plain_pw").start()) {
            try (Connection c = u.connect(TRUST, "wrong password is fine", "appdb", new Properties())) {
                assertThat(who(c)).isEqualTo(TRUST);
            }
            try (Connection c = u.connect(MD5, "appdb")) {
                assertThat(who(c)).isEqualTo(MD5);
            }
            assertThatThrownBy(() -> u.connect(MD5, "wrong", "appdb", new Properties()))
                    .hasMessageContaining("password authentication failed");
            // no line for u_md5 on otherdb
            assertThatThrownBy(() -> u.connect(MD5, "otherdb")).isInstanceOfSatisfying(SQLException.class, e -> {
                assertThat(e.getMessage()).contains("login rejected");
                assertThat(e.getSQLState()).isEqualTo("28000");
            });
            try (Connection c = u.connect(PLAIN, "appdb")) {
                assertThat(who(c)).isEqualTo(PLAIN);
            }
            // u_scram only over TLS
            assertThatThrownBy(() -> u.connect(SCRAM, "appdb")).hasMessageContaining("login rejected");
            Properties tls = new Properties();
            tls.setProperty("sslmode", "require");
            try (Connection c = u.connect(SCRAM, "scram_pw", "appdb", tls)) {
                assertThat(who(c)).isEqualTo(SCRAM);
            }
            // RELOAD reads the file again
            Files.writeString(hba, "host all u_md5 127.0.0.1/32 md5\n");
            assertThat(u.usher().reload()).isNull();
            try (Connection c = u.connect(MD5, "otherdb")) {
                assertThat(who(c)).isEqualTo(MD5);
            }
            assertThatThrownBy(() -> u.connect(TRUST, null, "appdb", new Properties())).hasMessageContaining("login rejected");
        }
    }

    @Test
    void hbaNeedsItsFile() {
        assertThatThrownBy(() -> UsherInstance.builder(pg).set("auth_type", "hba").start())
                .hasMessageContaining("auth_type = hba needs auth_hba_file");
        assertThatThrownBy(() -> UsherInstance.builder(pg).set("auth_type", "hba")
                .set("auth_hba_file", dir.resolve("missing.conf")).start()).hasMessageContaining("could not be read");
    }
}

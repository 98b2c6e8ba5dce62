package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;
import java.util.Properties;

import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.PLAIN;
import static io.usher.testing.TestRoles.SCRAM;
import static io.usher.testing.TestRoles.SCRAM2;
import static io.usher.testing.TestRoles.TRUST;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Client authentication per auth_type, server login per method, and the errors clients see. */
class ClientAuthTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    @Test
    void md5AuthWithStoredMd5HashAndServerMd5Login() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "md5").start();
             Connection c = u.connect(MD5, "appdb")) {
            assertThat(Sql.whoami(c)).isEqualTo("u_md5@appdb");
        }
    }

    @Test
    void md5AuthWithPlainPasswordInUserlist() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "md5").userlist(MD5, "md5_pw").start();
             Connection c = u.connect(MD5, "appdb")) {
            assertThat(Sql.whoami(c)).isEqualTo("u_md5@appdb");
        }
    }

    @Test
    void scramAuthWithVerifierUsesPassThroughToServer() throws Exception {
        // the userlist has only the verifier: the server login must use the client's SCRAM keys
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "scram-sha-256").start()) {
            try (Connection c = u.connect(SCRAM, "appdb")) {
                assertThat(Sql.whoami(c)).isEqualTo("u_scram@appdb");
            }
            try (Connection c = u.connect(SCRAM, "otherdb")) {
                assertThat(Sql.whoami(c)).isEqualTo("u_scram@otherdb");
            }
        }
    }

    @Test
    void md5AuthTypeWithScramVerifierSwitchesToScram() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "md5").start();
             WireClient w = new WireClient(u.port())) {
            w.send(WireClient.startupPacket(Map.of("user", SCRAM, "database", "appdb")));
            WireClient.Message m = w.read();
            assertThat(m.type()).isEqualTo('R');
            assertThat(java.nio.ByteBuffer.wrap(m.payload()).getInt()).isEqualTo(10); // AuthenticationSASL
            assertThat(m.text()).contains("SCRAM-SHA-256");
        }
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "md5").start();
             Connection c = u.connect(SCRAM, "appdb")) {
            assertThat(Sql.whoami(c)).isEqualTo("u_scram@appdb");
        }
    }

    @Test
    void scramAuthWithPlainPasswordAndServerScramLogin() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "scram-sha-256").userlist(SCRAM2, "scram2_pw").start();
             Connection c = u.connect(SCRAM2, "appdb")) {
            assertThat(Sql.whoami(c)).isEqualTo("u_scram2@appdb");
        }
    }

    @Test
    void plainAuthAndServerCleartextLogin() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "plain").userlist(PLAIN, "plain_pw").start();
             Connection c = u.connect(PLAIN, "appdb")) {
            assertThat(Sql.whoami(c)).isEqualTo("u_plain@appdb");
            assertThat(Sql.loginError(u, PLAIN, "wrong", "appdb").getSQLState()).isEqualTo("28P01");
        }
    }

    @Test
    void trustAcceptsAnyPasswordButUserMustExist() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").start()) {
            try (Connection c = u.connect(TRUST, null, "appdb", new Properties())) {
                assertThat(Sql.whoami(c)).isEqualTo("u_trust@appdb");
            }
            try (Connection c = u.connect(MD5, "not-the-password", "appdb", new Properties())) {
                assertThat(Sql.whoami(c)).isEqualTo("u_md5@appdb");
            }
            SQLException e = Sql.loginError(u, "nobody_here", "x", "appdb");
            assertThat(e.getMessage()).contains("no such user");
        }
    }

    @Test
    void wrongPasswordGets28P01ForMd5AndScram() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "md5").start()) {
            SQLException e = Sql.loginError(u, MD5, "wrong", "appdb");
            assertThat(e.getSQLState()).isEqualTo("28P01");
            assertThat(e.getMessage()).contains("password authentication failed");
            e = Sql.loginError(u, SCRAM, "wrong", "appdb");
            assertThat(e.getSQLState()).isEqualTo("28P01");
            assertThat(e.getMessage()).contains("SASL authentication failed");
            // the right password still works afterwards
            try (Connection c = u.connect(MD5, "appdb")) {
                assertThat(Sql.whoami(c)).isEqualTo("u_md5@appdb");
            }
        }
    }

    @Test
    void unknownUserGoesThroughTheExchangeAndFails() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "scram-sha-256").start();
             WireClient w = new WireClient(u.port())) {
            w.send(WireClient.startupPacket(Map.of("user", "ghost", "database", "appdb")));
            WireClient.Message m = w.read();
            assertThat(m.type()).isEqualTo('R'); // a SASL request, as for a real user
            assertThat(Sql.loginError(u, "ghost", "x", "appdb").getSQLState()).isEqualTo("28P01");
        }
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "md5").start()) {
            assertThat(Sql.loginError(u, "ghost", "x", "appdb").getSQLState()).isEqualTo("28P01");
        }
    }

    @Test
    void unknownDatabaseGets3D000() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).start()) {
            SQLException e = Sql.loginError(u, MD5, "md5_pw", "nodb");
            assertThat(e.getSQLState()).isEqualTo("3D000");
            assertThat(e.getMessage()).contains("no such database: nodb");
        }
    }

    @Test
    void wrongServerPasswordReachesTheClient() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust")
                .userlist(MD5, io.usher.auth.Md5Password.encrypt(MD5, "not-the-password")).start()) {
            SQLException e = Sql.loginError(u, MD5, "", "appdb");
            assertThat(e.getMessage()).contains("password authentication failed");
            // within server_login_retry (1 s here) the next client gets the cached error at once
            SQLException again = Sql.loginError(u, MD5, "", "appdb");
            assertThat(again.getMessage()).contains("server login has been failing, cached error:")
                    .contains("password authentication failed");
        }
    }

    @Test
    void forcedUserInDatabaseEntry() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg)
                .database("forced", "host=127.0.0.1 port=" + pg.port() + " dbname=appdb user=u_scram2 password=scram2_pw")
                .start();
             Connection c = u.connect(MD5, "forced")) {
            assertThat(Sql.whoami(c)).isEqualTo("u_scram2@appdb");
        }
    }

    @Test
    void wildcardDatabaseEntry() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).database("*", "host=127.0.0.1 port=" + pg.port()).start();
             Connection c = u.connect(MD5, "otherdb")) {
            assertThat(Sql.whoami(c)).isEqualTo("u_md5@otherdb");
        }
    }

    @Test
    void unsupportedStartupParameterIsRefusedAndIgnoredOneIsNot() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").start()) {
            try (WireClient w = new WireClient(u.port())) {
                w.send(WireClient.startupPacket(Map.of("user", TRUST, "database", "appdb", "search_path", "x")));
                WireClient.Message m = w.read();
                assertThat(m.type()).isEqualTo('E');
                assertThat(m.fields().get('M')).isEqualTo("unsupported startup parameter: search_path");
            }
            try (WireClient w = new WireClient(u.port())) {
                w.send(WireClient.startupPacket(Map.of("user", TRUST, "database", "appdb", "extra_float_digits", "3")));
                w.readUntil('Z');
            }
        }
    }
}

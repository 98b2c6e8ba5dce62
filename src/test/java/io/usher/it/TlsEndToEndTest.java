package io.usher.it;

import io.usher.testing.PostgresCluster;
import io.usher.testing.TestCerts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Properties;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.SCRAM;
import static io.usher.testing.TestRoles.password;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The whole chain verified: clients at sslmode=verify-full with a client certificate, Usher at
 * client_tls_sslmode=verify-full, and a PostgreSQL that lets these users in only over TLS with a client
 * certificate its CA signed (hostssl ... clientcert=verify-ca, hostnossl ... reject), Usher at
 * server_tls_sslmode=verify-full. Each client auth type logs in (accept) and a wrong one is refused.
 */
class TlsEndToEndTest {
    @TempDir
    static Path dir;
    static TestCerts certs;
    static Path caFile;
    static TestCerts.Files3 usherCert;
    static PostgresCluster tlsPg;

    @BeforeAll
    static void cluster() {
        certs = TestCerts.newCa();
        caFile = certs.writeCa(dir.resolve("ca.crt"));
        usherCert = certs.server(false, "localhost", "127.0.0.1").write(dir, "usher");
        TestCerts.Issued server = certs.server(false, "localhost");
        tlsPg = PostgresCluster.startNewWithTls(server.certPem(), server.keyPem(), certs.ca().certPem(), List.of(
                "hostnossl all u_md5,u_scram 127.0.0.1/32 reject",
                "hostssl all u_md5 127.0.0.1/32 md5 clientcert=verify-ca",
                "hostssl all u_scram 127.0.0.1/32 scram-sha-256 clientcert=verify-ca"));
    }

    @AfterAll
    static void stop() {
        if (tlsPg != null) {
            tlsPg.close();
        }
    }

    /** Usher: verify-full on both sides; it shows PostgreSQL its own certificate (signed by the same CA). */
    private UsherInstance.Builder usher(String authType) {
        return UsherInstance.builder(tlsPg).set("auth_type", authType)
                .set("client_tls_sslmode", "verify-full").set("client_tls_ca_file", caFile)
                .set("client_tls_key_file", usherCert.key()).set("client_tls_cert_file", usherCert.cert())
                .set("server_tls_sslmode", "verify-full").set("server_tls_ca_file", caFile)
                .set("server_tls_key_file", usherCert.key()).set("server_tls_cert_file", usherCert.cert())
                .database("appdb", "host=localhost port=" + tlsPg.port() + " dbname=appdb");
    }

    /** pgjdbc at verify-full, with a client certificate whose CN is {@code user}. */
    private static Properties client(String user) {
        TestCerts.Files3 cert = certs.client(user).write(dir, "client-" + user);
        Properties p = new Properties();
        p.setProperty("sslmode", "verify-full");
        p.setProperty("sslrootcert", caFile.toString());
        p.setProperty("sslcert", cert.cert().toString());
        p.setProperty("sslkey", cert.pkcs8Der().toString());
        return p;
    }

    private static String whoAndTls(Connection c) throws SQLException {
        return one(c, "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    }

    // scram-sha-256 and md5 clients over verified TLS, to a PostgreSQL that takes only verified TLS
    @Test
    void passwordAuthTypes() throws Exception {
        for (String type : new String[] {"scram-sha-256", "md5"}) {
            try (UsherInstance u = usher(type).start()) {
                try (Connection c = u.connect(SCRAM, password(SCRAM), "appdb", client(SCRAM))) {
                    assertThat(whoAndTls(c)).isEqualTo(SCRAM + " true");
                }
                if (type.equals("md5")) {
                    // (an md5 hash in auth_file cannot serve scram-sha-256 clients, as in PgBouncer)
                    try (Connection c = u.connect(MD5, password(MD5), "appdb", client(MD5))) {
                        assertThat(whoAndTls(c)).isEqualTo(MD5 + " true");
                    }
                }
                assertThatThrownBy(() -> u.connect(SCRAM, "wrong", "appdb", client(SCRAM))).isInstanceOf(SQLException.class);
                Properties plain = new Properties();
                plain.setProperty("sslmode", "disable");
                assertThatThrownBy(() -> u.connect(SCRAM, password(SCRAM), "appdb", plain))
                        .hasMessageContaining("SSL required");
            }
        }
    }

    // cert: the client certificate's CN is the user name; a certificate for another name is refused
    @Test
    void certAuth() throws Exception {
        // the server login needs the password: a SCRAM verifier in auth_file cannot log in to a SCRAM server
        try (UsherInstance u = usher("cert").userlist(SCRAM, password(SCRAM)).start()) {
            try (Connection c = u.connect(SCRAM, "", "appdb", client(SCRAM))) {
                assertThat(whoAndTls(c)).isEqualTo(SCRAM + " true");
            }
            assertThatThrownBy(() -> u.connect(SCRAM, "", "appdb", client(MD5))).isInstanceOf(SQLException.class);
        }
    }

    // hba: hostssl rules with scram-sha-256 let the user in; a reject rule refuses another
    @Test
    void hbaAuth() throws Exception {
        Path hba = dir.resolve("usher_hba.conf");
        Files.writeString(hba, "hostssl all " + SCRAM + " 127.0.0.1/32 scram-sha-256\n"
                + "hostssl all " + MD5 + " 127.0.0.1/32 reject\n");
        try (UsherInstance u = usher("hba").set("auth_hba_file", hba).start()) {
            try (Connection c = u.connect(SCRAM, password(SCRAM), "appdb", client(SCRAM))) {
                assertThat(whoAndTls(c)).isEqualTo(SCRAM + " true");
            }
            assertThatThrownBy(() -> u.connect(MD5, password(MD5), "appdb", client(MD5))).isInstanceOf(SQLException.class);
        }
    }

    // auth_query: u_scram is not in auth_file; its verifier comes from PostgreSQL through u_md5 over verified TLS
    @Test
    void authQuery() throws Exception {
        try (Connection su = tlsPg.connect(tlsPg.superuser(), tlsPg.superuserPassword(), "appdb")) {
            su.createStatement().execute("CREATE OR REPLACE FUNCTION public.user_lookup(IN i_username text, OUT uname text, "
                    + "OUT phash text) RETURNS record AS $$ SELECT usename::text, passwd::text FROM pg_catalog.pg_shadow "
                    + "WHERE usename = i_username $$ LANGUAGE sql SECURITY DEFINER");
            su.createStatement().execute("GRANT EXECUTE ON FUNCTION public.user_lookup(text) TO " + MD5);
        }
        try (UsherInstance u = usher("scram-sha-256").userlist(SCRAM, null).set("auth_user", MD5)
                .set("auth_query", "SELECT uname, phash FROM public.user_lookup($1)").start()) {
            try (Connection c = u.connect(SCRAM, password(SCRAM), "appdb", client(SCRAM))) {
                assertThat(whoAndTls(c)).isEqualTo(SCRAM + " true");
            }
            assertThatThrownBy(() -> u.connect(SCRAM, "wrong", "appdb", client(SCRAM))).isInstanceOf(SQLException.class);
        }
    }
}

package io.usher.it;

import ch.qos.logback.classic.Level;
import io.usher.testing.LogCapture;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.Properties;

import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.SCRAM;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * auth_user / auth_query / auth_dbname: users that auth_file does not list are looked up in PostgreSQL,
 * through a SECURITY DEFINER function as PgBouncer's docs recommend, or in pg_authid as a superuser.
 */
class AuthQueryTest {
    private static final PostgresCluster pg = PostgresCluster.shared();

    /** The auth_user: no superuser, may only run the lookup function. */
    private static final String AUTH_USER = "aq_auth";
    private static final String AUTH_PW = "aq_auth_pw";
    /** A role whose password has expired: the default query returns NULL for it. */
    private static final String EXPIRED = "aq_expired";
    /** A role whose password a test changes. */
    private static final String CHANGING = "aq_changing";
    /** Returns a row with a NULL user name for a user that does not exist (a record-returning function). */
    private static final String FUNCTION_QUERY = "SELECT uname, phash FROM usher_auth.lookup($1)";

    @BeforeAll
    static void roles() throws Exception {
        pg.execute("DO $$ BEGIN "
                + "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + AUTH_USER + "') THEN "
                + "CREATE ROLE " + AUTH_USER + " LOGIN PASSWORD '" + AUTH_PW + "'; END IF; "
                + "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + EXPIRED + "') THEN "
                + "CREATE ROLE " + EXPIRED + " LOGIN PASSWORD 'expired_pw' VALID UNTIL '2001-01-01'; END IF; "
                + "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + CHANGING + "') THEN "
                + "CREATE ROLE " + CHANGING + " LOGIN; END IF; "
                + "END $$");
        pg.execute("ALTER ROLE " + CHANGING + " PASSWORD 'first_pw'");
        pg.execute("GRANT CONNECT ON DATABASE appdb TO " + AUTH_USER);
        // the lookup function exists in appdb only: auth_dbname makes otherdb's logins use it there
        try (Connection c = pg.connect(pg.superuser(), pg.superuserPassword(), "appdb");
             Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS usher_auth");
            s.execute("CREATE OR REPLACE FUNCTION usher_auth.lookup(i_username text, OUT uname text, OUT phash text) "
                    + "RETURNS record AS $$ BEGIN "
                    + "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END "
                    + "FROM pg_catalog.pg_authid WHERE rolname = i_username AND rolcanlogin INTO uname, phash; "
                    + "RETURN; END; $$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog");
            s.execute("REVOKE ALL ON FUNCTION usher_auth.lookup(text) FROM public");
            s.execute("GRANT USAGE ON SCHEMA usher_auth TO " + AUTH_USER);
            s.execute("GRANT EXECUTE ON FUNCTION usher_auth.lookup(text) TO " + AUTH_USER);
        }
    }

    /** Usher with u_md5 and u_scram missing from auth_file, so only auth_query can know them. */
    private static UsherInstance.Builder withoutFixtureSecrets(String authType) {
        return UsherInstance.builder(pg).set("auth_type", authType).userlist(MD5, null).userlist(SCRAM, null);
    }

    /** auth_user = the superuser, default auth_query (pg_authid). */
    private static UsherInstance.Builder superuserLookup(String authType) {
        return withoutFixtureSecrets(authType).set("auth_user", pg.superuser())
                .userlist(pg.superuser(), pg.superuserPassword());
    }

    /** auth_user = aq_auth with the SECURITY DEFINER function. */
    private static UsherInstance.Builder functionLookup(String authType) {
        return withoutFixtureSecrets(authType).set("auth_user", AUTH_USER).set("auth_query", FUNCTION_QUERY)
                .userlist(AUTH_USER, AUTH_PW);
    }

    @Test
    void md5AndScramUsersFromPgAuthidAsSuperuser() throws Exception {
        for (String authType : new String[] {"md5", "scram-sha-256"}) {
            try (UsherInstance u = superuserLookup(authType).set("admin_users", pg.superuser()).start()) {
                if (authType.equals("md5")) {
                    try (Connection c = u.connect(MD5, "appdb")) {
                        assertThat(Sql.whoami(c)).isEqualTo("u_md5@appdb");
                    }
                }
                // only the verifier is known: the server login uses the client's SCRAM keys
                try (Connection c = u.connect(SCRAM, "appdb")) {
                    assertThat(Sql.whoami(c)).isEqualTo("u_scram@appdb");
                }
                try (Connection c = u.connect(SCRAM, "otherdb")) {
                    assertThat(Sql.whoami(c)).isEqualTo("u_scram@otherdb");
                }
                // users learnt through auth_query are listed by SHOW USERS, as PgBouncer lists them
                Properties simple = new Properties();
                simple.setProperty("preferQueryMode", "simple");
                java.util.List<String> users = new java.util.ArrayList<>();
                try (Connection c = u.connect(pg.superuser(), pg.superuserPassword(), "pgbouncer", simple);
                     ResultSet rs = c.createStatement().executeQuery("SHOW USERS")) {
                    while (rs.next()) {
                        users.add(rs.getString("name"));
                    }
                }
                assertThat(users).contains(SCRAM);
            }
        }
    }

    @Test
    void securityDefinerFunctionAsUnprivilegedAuthUser() throws Exception {
        try (UsherInstance u = functionLookup("md5").start()) {
            try (Connection c = u.connect(MD5, "appdb")) {
                assertThat(Sql.whoami(c)).isEqualTo("u_md5@appdb");
            }
            try (Connection c = u.connect(SCRAM, "appdb")) {
                assertThat(Sql.whoami(c)).isEqualTo("u_scram@appdb");
            }
            // the server connections of the pool log in again with what the query returned
            try (Connection a = u.connect(SCRAM, "appdb"); Connection b = u.connect(SCRAM, "appdb");
                 Statement sa = a.createStatement(); Statement sb = b.createStatement()) {
                a.setAutoCommit(false);
                b.setAutoCommit(false);
                sa.execute("SELECT 1");
                sb.execute("SELECT 1");
                a.commit();
                b.commit();
            }
        }
    }

    @Test
    void wrongPasswordAndUnknownUserFailAlike() throws Exception {
        try (UsherInstance u = functionLookup("scram-sha-256").start()) {
            SQLException wrong = Sql.loginError(u, SCRAM, "wrong", "appdb");
            SQLException ghost = Sql.loginError(u, "aq_ghost", "wrong", "appdb");
            assertThat(wrong.getSQLState()).isEqualTo("28P01");
            assertThat(ghost.getSQLState()).isEqualTo(wrong.getSQLState());
            assertThat(ghost.getMessage()).isEqualTo(wrong.getMessage()).contains("SASL authentication failed");
            // both get a SASL request first, as for a real user
            for (String user : new String[] {SCRAM, "aq_ghost"}) {
                try (WireClient w = new WireClient(u.port())) {
                    w.send(WireClient.startupPacket(Map.of("user", user, "database", "appdb")));
                    WireClient.Message m = w.read();
                    assertThat(m.type()).isEqualTo('R');
                    assertThat(ByteBuffer.wrap(m.payload()).getInt()).isEqualTo(10);
                }
            }
        }
        try (UsherInstance u = superuserLookup("md5").start()) {
            SQLException wrong = Sql.loginError(u, MD5, "wrong", "appdb");
            SQLException ghost = Sql.loginError(u, "aq_ghost", "wrong", "appdb");
            assertThat(wrong.getSQLState()).isEqualTo("28P01");
            assertThat(ghost.getSQLState()).isEqualTo("28P01");
            assertThat(ghost.getMessage()).isEqualTo(wrong.getMessage()).contains("password authentication failed");
            // the right password still works after the failures
            try (Connection c = u.connect(MD5, "appdb")) {
                assertThat(Sql.whoami(c)).isEqualTo("u_md5@appdb");
            }
        }
    }

    @Test
    void nullPasswordRefusesTheLogin() throws Exception {
        try (UsherInstance u = superuserLookup("scram-sha-256").start()) {
            SQLException e = Sql.loginError(u, EXPIRED, "expired_pw", "appdb");
            assertThat(e.getSQLState()).isEqualTo("28P01");
            assertThat(e.getMessage()).contains("SASL authentication failed");
        }
    }

    @Test
    void everyLoginAsksAgainSoPasswordChangesApplyAtOnce() throws Exception {
        pg.execute("ALTER ROLE " + CHANGING + " PASSWORD 'first_pw'");
        try (UsherInstance u = functionLookup("scram-sha-256").start()) {
            try (Connection c = u.connect(CHANGING, "first_pw", "appdb", new Properties())) {
                assertThat(Sql.whoami(c)).isEqualTo("aq_changing@appdb");
            }
            pg.execute("ALTER ROLE " + CHANGING + " PASSWORD 'second_pw'");
            assertThat(Sql.loginError(u, CHANGING, "first_pw", "appdb").getSQLState()).isEqualTo("28P01");
            try (Connection c = u.connect(CHANGING, "second_pw", "appdb", new Properties())) {
                assertThat(Sql.whoami(c)).isEqualTo("aq_changing@appdb");
            }
            // a new server connection of the pool logs in with the new verifier's keys
            u.usher().pools().poolsOf("appdb").forEach(p -> p.killServers());
            try (Connection c = u.connect(CHANGING, "second_pw", "appdb", new Properties())) {
                assertThat(Sql.whoami(c)).isEqualTo("aq_changing@appdb");
            }
        } finally {
            pg.execute("ALTER ROLE " + CHANGING + " PASSWORD 'first_pw'");
        }
    }

    @Test
    void perDatabaseAuthQueryOverridesTheGlobalOne() throws Exception {
        // the global (default) query reads pg_authid, which aq_auth may not: that database's logins fail
        try (LogCapture logs = new LogCapture(Level.WARN);
             UsherInstance u = withoutFixtureSecrets("md5").set("auth_user", AUTH_USER).userlist(AUTH_USER, AUTH_PW)
                     .database("viafunc", "host=127.0.0.1 port=" + pg.port() + " dbname=appdb auth_query='" + FUNCTION_QUERY + "'")
                     .start()) {
            SQLException e = Sql.loginError(u, MD5, "md5_pw", "appdb");
            assertThat(e.getMessage()).contains("error response from auth_query");
            assertThat(e.getSQLState()).isEqualTo("28000");
            assertThat(logs.text()).contains("auth_query failed: error response from auth_query").contains("42501");
            try (Connection c = u.connect(MD5, "viafunc")) {
                assertThat(Sql.whoami(c)).isEqualTo("u_md5@appdb");
            }
        }
    }

    @Test
    void perDatabaseAuthUser() throws Exception {
        // no global auth_user: only the entry that names one looks users up
        try (UsherInstance u = withoutFixtureSecrets("md5").userlist(AUTH_USER, AUTH_PW)
                .database("withauth", "host=127.0.0.1 port=" + pg.port() + " dbname=appdb auth_user=" + AUTH_USER
                        + " auth_query='" + FUNCTION_QUERY + "'")
                .start()) {
            assertThat(Sql.loginError(u, MD5, "md5_pw", "appdb").getSQLState()).isEqualTo("28P01");
            try (Connection c = u.connect(MD5, "withauth")) {
                assertThat(Sql.whoami(c)).isEqualTo("u_md5@appdb");
            }
        }
    }

    @Test
    void authDbnameRunsTheQueryInAnotherDatabase() throws Exception {
        // the function exists in appdb only: without auth_dbname, otherdb's lookup fails
        try (UsherInstance u = functionLookup("md5").start()) {
            assertThat(Sql.loginError(u, MD5, "md5_pw", "otherdb").getMessage()).contains("error response from auth_query");
        }
        try (UsherInstance u = functionLookup("md5").set("auth_dbname", "appdb").start()) {
            try (Connection c = u.connect(MD5, "otherdb")) {
                assertThat(Sql.whoami(c)).isEqualTo("u_md5@otherdb");
            }
        }
        // per database, overriding the global setting
        try (UsherInstance u = functionLookup("md5").set("auth_dbname", "nosuchdb")
                .database("other2", "host=127.0.0.1 port=" + pg.port() + " dbname=otherdb auth_dbname=appdb")
                .start()) {
            try (Connection c = u.connect(MD5, "other2")) {
                assertThat(Sql.whoami(c)).isEqualTo("u_md5@otherdb");
            }
            SQLException e = Sql.loginError(u, MD5, "md5_pw", "otherdb");
            assertThat(e.getMessage()).contains("bouncer config error");
        }
    }

    @Test
    void consoleUsersAreLookedUpInAuthDbname() throws Exception {
        Properties simple = new Properties();
        simple.setProperty("preferQueryMode", "simple");
        try (UsherInstance u = superuserLookup("md5").set("admin_users", MD5).set("auth_dbname", "appdb").start();
             Connection c = u.connect(MD5, "md5_pw", "pgbouncer", simple);
             Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW VERSION")) {
            assertThat(rs.next()).isTrue();
        }
        // without auth_dbname the console has no database to ask (as PgBouncer)
        try (UsherInstance u = superuserLookup("md5").set("admin_users", MD5).start()) {
            SQLException e;
            try (Connection c = u.connect(MD5, "md5_pw", "pgbouncer", simple)) {
                throw new AssertionError("console login succeeded");
            } catch (SQLException ex) {
                e = ex;
            }
            assertThat(e.getMessage()).contains("bouncer config error");
        }
    }

    @Test
    void usersInAuthFileAreNotLookedUp() throws Exception {
        // a broken auth_query does not matter for users auth_file knows
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_user", AUTH_USER).set("auth_query", "SELECT broken")
                .userlist(AUTH_USER, AUTH_PW).start();
             Connection c = u.connect(MD5, "appdb")) {
            assertThat(Sql.whoami(c)).isEqualTo("u_md5@appdb");
        }
    }
}

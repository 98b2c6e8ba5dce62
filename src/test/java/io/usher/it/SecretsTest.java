package io.usher.it;

import ch.qos.logback.classic.Level;
import io.usher.auth.Md5Password;
import io.usher.testing.LogCapture;
import io.usher.testing.PostgresCluster;
import io.usher.testing.TestRoles;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;

import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.PLAIN;
import static io.usher.testing.TestRoles.SCRAM;
import static io.usher.testing.TestRoles.SCRAM2;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * No password, md5 hash, SCRAM verifier or SCRAM key ever shows: logins good and bad with every
 * method, server logins that fail, RELOAD and every SHOW command, with Usher logging everything it
 * can (TRACE, log_connections, log_disconnections, log_pooler_errors); the captured log, the error
 * messages clients got and the console's rows are searched for each secret.
 */
class SecretsTest {
    private static final String WRONG_SERVER_PASSWORD = "WrongServerPw-4f1c";
    private final PostgresCluster pg = PostgresCluster.shared();
    private final StringBuilder seen = new StringBuilder();

    private UsherInstance.Builder usher(String authType) {
        return UsherInstance.builder(pg).set("auth_type", authType).set("verbose", 3)
                .set("log_connections", 1).set("log_disconnections", 1).set("log_pooler_errors", 1)
                .set("admin_users", SCRAM2).userlist(SCRAM2, "scram2_pw").userlist(PLAIN, "plain_pw")
                .set("server_tls_sslmode", "disable")
                .database("forced", "host=127.0.0.1 port=" + pg.port() + " dbname=appdb user=u_scram2 password=scram2_pw")
                .database("badforced", "host=127.0.0.1 port=" + pg.port() + " dbname=appdb user=u_md5 password="
                        + WRONG_SERVER_PASSWORD);
    }

    private void login(UsherInstance u, String user, String password, String db) {
        try (Connection c = u.connect(user, password, db, new Properties());
             Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1")) {
            rs.next();
            seen.append("ok ").append(user).append('\n');
        } catch (SQLException e) {
            seen.append(e.getSQLState()).append(' ').append(e.getMessage()).append('\n');
        }
    }

    private void console(UsherInstance u, String... commands) throws SQLException {
        Properties p = new Properties();
        p.setProperty("preferQueryMode", "simple");
        try (Connection admin = u.connect(SCRAM2, "scram2_pw", "pgbouncer", p); Statement s = admin.createStatement()) {
            for (String command : commands) {
                if (!command.startsWith("SHOW")) {
                    s.execute(command);
                    continue;
                }
                try (ResultSet rs = s.executeQuery(command)) {
                    ResultSetMetaData md = rs.getMetaData();
                    while (rs.next()) {
                        for (int i = 1; i <= md.getColumnCount(); i++) {
                            seen.append(rs.getString(i)).append('|');
                        }
                        seen.append('\n');
                    }
                }
            }
        }
    }

    /** Every form a secret of the fixture roles could take. */
    private Set<String> secrets() {
        Set<String> s = new LinkedHashSet<>();
        for (String role : TestRoles.ROLES) {
            String pw = TestRoles.password(role);
            s.add(pw);
            String md5 = Md5Password.encrypt(role, pw);
            s.add(md5.substring(3)); // the hash without its "md5" prefix
            String stored = pg.storedSecret(role);
            if (stored != null) {
                s.add(stored.startsWith("md5") ? stored.substring(3) : stored);
                if (stored.startsWith("SCRAM-SHA-256$")) {
                    // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
                    String keys = stored.substring(stored.lastIndexOf('$') + 1);
                    s.add(keys.substring(0, keys.indexOf(':')));
                    s.add(keys.substring(keys.indexOf(':') + 1));
                }
            }
        }
        s.add(pg.superuserPassword());
        String su = pg.storedSecret(pg.superuser());
        if (su != null && su.startsWith("SCRAM-SHA-256$")) {
            String keys = su.substring(su.lastIndexOf('$') + 1);
            s.add(keys.substring(0, keys.indexOf(':')));
            s.add(keys.substring(keys.indexOf(':') + 1));
        }
        s.add(WRONG_SERVER_PASSWORD);
        s.addAll(List.of("BadPw-md5-1a", "BadPw-scram-2b", "BadPw-plain-3c", "BadPw-scram2-5d"));
        return s;
    }

    @Test
    void noSecretInLogsErrorsOrConsoleRows() throws Exception {
        String logText;
        try (LogCapture logs = new LogCapture(Level.TRACE)) {
            try (UsherInstance u = usher("md5").start()) {
                login(u, MD5, "md5_pw", "appdb");
                login(u, MD5, "BadPw-md5-1a", "appdb");
                login(u, SCRAM, "scram_pw", "appdb");          // md5 with a verifier: SCRAM, then pass-through
                login(u, SCRAM, "BadPw-scram-2b", "appdb");
                login(u, SCRAM2, "scram2_pw", "forced");        // forced user with password=
                login(u, MD5, "md5_pw", "badforced");           // the server refuses the entry's password
                login(u, "ghost", "BadPw-md5-1a", "appdb");
                console(u, "RELOAD", "SHOW CONFIG", "SHOW DATABASES", "SHOW USERS", "SHOW POOLS", "SHOW CLIENTS",
                        "SHOW SERVERS", "SHOW SOCKETS", "SHOW LISTS", "SHOW STATE", "SHOW STATS", "SHOW PEERS",
                        "SHOW DNS_HOSTS", "SHOW VERSION");
            }
            try (UsherInstance u = usher("scram-sha-256").start()) {
                login(u, SCRAM2, "scram2_pw", "appdb");         // plain password in auth_file, SCRAM to the client
                login(u, SCRAM2, "BadPw-scram2-5d", "appdb");
                login(u, MD5, "md5_pw", "appdb");               // an md5 hash cannot do SCRAM: refused
            }
            // auth_query: the secrets come from pg_authid (the superuser as auth_user)
            try (UsherInstance u = usher("md5").userlist(MD5, null).userlist(SCRAM, null)
                    .set("auth_user", pg.superuser()).userlist(pg.superuser(), pg.superuserPassword()).start()) {
                login(u, MD5, "md5_pw", "appdb");
                login(u, MD5, "BadPw-md5-1a", "appdb");
                login(u, SCRAM, "scram_pw", "otherdb");
                login(u, SCRAM, "BadPw-scram-2b", "otherdb");
                login(u, "ghost", "BadPw-md5-1a", "appdb");
                console(u, "SHOW USERS", "SHOW POOLS", "SHOW SERVERS", "SHOW CONFIG");
            }
            try (UsherInstance u = usher("plain").start()) {
                login(u, PLAIN, "plain_pw", "appdb");           // cleartext from the client, and to the server
                login(u, PLAIN, "BadPw-plain-3c", "appdb");
                console(u, "SHOW USERS", "SHOW CLIENTS", "SHOW CONFIG");
            }
            logText = logs.text();
        }
        String all = logText + "\n" + seen;
        // the test did run what it meant to: logins worked and failed, things were logged
        assertThat(seen).contains("ok u_md5", "ok u_scram", "ok u_plain", "28P01");
        assertThat(logText).contains("login attempt", "password authentication failed", "closing because");
        List<String> found = new ArrayList<>();
        for (String secret : secrets()) {
            if (all.contains(secret)) {
                found.add(secret);
            }
        }
        assertThat(found).as("secrets in the log, errors or console output").isEmpty();
    }

    @Test
    void configObjectsDoNotPrintPasswords() throws Exception {
        try (UsherInstance u = usher("md5").start()) {
            String text = u.usher().config().databases().toString() + u.usher().config().userList()
                    + u.usher().config();
            assertThat(text).doesNotContain(WRONG_SERVER_PASSWORD, "scram2_pw", "plain_pw");
        }
    }
}

package io.usher.it;

import io.usher.testing.LoopbackPorts;
import io.usher.testing.PostgresCluster;
import io.usher.testing.SharedPostgresExtension;
import io.usher.testing.TestRoles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.SCRAM;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Usher configured from the environment alone, as a container runs it (the edoburu image's
 * variables and USHER_ ones), started as its own JVM in front of a real cluster; and
 * {@code usher config check}.
 */
@ExtendWith(SharedPostgresExtension.class)
class EnvConfigCliTest {
    @TempDir
    Path dir;

    static Connection connect(int port, String user, String password, String database) throws Exception {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "5");
        p.setProperty("socketTimeout", "30");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database, p);
    }

    static void awaitServing(UsherProcess usher, int port, String user, String password, String db) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                .failFast("usher exited before serving", () -> !usher.process.isAlive())
                .until(() -> {
                    try (Connection c = connect(port, user, password, db)) {
                        return true;
                    }
                });
    }

    /** A URL with the role's password, percent-encoding nothing (the fixtures' passwords need none). */
    private static String url(PostgresCluster pg, String role, String database) {
        return "postgres://" + role + ":" + TestRoles.password(role) + "@127.0.0.1:" + pg.port() + "/" + database
                + "?sslmode=disable";
    }

    // DATABASE_URL + USHER_ variables, no file: clients log in with the URL's user and password to its database;
    // the server uses SCRAM (pass-through not needed: the password from the URL logs in)
    @Test
    void environmentOnlyServesTheUrlsDatabaseWithItsCredentials(PostgresCluster pg) throws Exception {
        int port = LoopbackPorts.pickFree();
        Map<String, String> env = new LinkedHashMap<>();
        env.put("DATABASE_URL", url(pg, SCRAM, APPDB));
        env.put("USHER_LISTEN_ADDR", "127.0.0.1");
        env.put("USHER_LISTEN_PORT", String.valueOf(port));
        env.put("POOL_MODE", "transaction");
        env.put("DEFAULT_POOL_SIZE", "2");
        try (UsherProcess usher = UsherProcess.start(dir, env)) {
            awaitServing(usher, port, SCRAM, TestRoles.password(SCRAM), APPDB);
            try (Connection c = connect(port, SCRAM, TestRoles.password(SCRAM), APPDB)) {
                assertThat(one(c, "SELECT current_user || '@' || current_database()")).isEqualTo(SCRAM + "@" + APPDB);
            }
            // a wrong password is refused
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> connect(port, SCRAM, "wrong", APPDB))
                    .hasMessageContaining("password authentication failed");
            // nothing with the password was written next to it
            try (var files = Files.walk(dir)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    assertThat(Files.readString(f)).as(f.toString()).doesNotContain(TestRoles.password(SCRAM));
                }
            }
            usher.process.destroy(); // SIGTERM
            UsherProcess.Run r = usher.finish(Duration.ofSeconds(30));
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(r.stderr()).contains("configuration from the environment");
        }
    }

    // the edoburu image's DB_* variables and --database-url; an md5 server gets the password from the environment
    @Test
    void imageVariablesAndDatabaseUrlOption(PostgresCluster pg) throws Exception {
        int port = LoopbackPorts.pickFree();
        Map<String, String> env = new LinkedHashMap<>();
        env.put("DB_HOST", "127.0.0.1");
        env.put("DB_PORT", String.valueOf(pg.port()));
        env.put("DB_USER", MD5);
        env.put("DB_PASSWORD", TestRoles.password(MD5));
        env.put("DB_NAME", APPDB);
        env.put("LISTEN_ADDR", "127.0.0.1");
        env.put("LISTEN_PORT", String.valueOf(port));
        env.put("AUTH_TYPE", "scram-sha-256");
        try (UsherProcess usher = UsherProcess.start(dir, env)) {
            awaitServing(usher, port, MD5, TestRoles.password(MD5), APPDB);
            try (Connection c = connect(port, MD5, TestRoles.password(MD5), APPDB)) {
                assertThat(one(c, "SELECT current_user")).isEqualTo(MD5);
            }
        }
        int port2 = LoopbackPorts.pickFree();
        Map<String, String> env2 = Map.of("USHER_LISTEN_ADDR", "127.0.0.1", "USHER_LISTEN_PORT", String.valueOf(port2),
                "DATABASE_URL", "postgres://ignored:ignored@nowhere.invalid/nothing");
        try (UsherProcess usher = UsherProcess.start(dir, env2, "--database-url", url(pg, SCRAM, "otherdb"))) {
            awaitServing(usher, port2, SCRAM, TestRoles.password(SCRAM), "otherdb");
            try (Connection c = connect(port2, SCRAM, TestRoles.password(SCRAM), "otherdb")) {
                assertThat(one(c, "SELECT current_database()")).isEqualTo("otherdb");
            }
        }
    }

    @Test
    void unknownUsherVariableStopsTheStart() throws Exception {
        UsherProcess.Run r = UsherProcess.run(dir, Map.of("DATABASE_URL", "postgres://a:b@h/db",
                "USHER_DEFAULT_POOLSIZE", "5"));
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(r.stderr()).contains("USHER_DEFAULT_POOLSIZE").contains("USHER_DEFAULT_POOL_SIZE");
    }

    @Test
    void noFileAndNoDatabaseSaysWhatIsMissing() throws Exception {
        UsherProcess.Run r = UsherProcess.run(dir, Map.of());
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(r.stderr()).contains("DATABASE_URL");
    }

    // config check: effective settings with their origins, passwords masked, exit 0
    @Test
    void configCheckShowsOriginsAndMasksSecrets() throws Exception {
        Path ini = dir.resolve("pgbouncer.ini");
        Files.writeString(ini, String.join("\n",
                "[databases]",
                "forced = host=127.0.0.1 dbname=appdb user=u password=file-secret",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                "pool_mode = session",
                ""));
        UsherProcess.Run r = UsherProcess.run(dir, Map.of("USHER_POOL_MODE", "transaction",
                "DATABASE_URL", "postgres://app:url-secret@db.example.com:6543/appdb", "MAX_CLIENT_CONN", "500"),
                "config", "check", ini.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).doesNotContain("url-secret").doesNotContain("file-secret");
        assertThat(r.stdout()).containsPattern("pool_mode = transaction +; env USHER_POOL_MODE")
                .containsPattern("listen_addr = 127.0.0.1 +; .*pgbouncer.ini:4")
                .containsPattern("max_client_conn = 500 +; env MAX_CLIENT_CONN")
                .containsPattern("listen_port = 6432 +; default")
                .containsPattern("appdb = host=db.example.com port=6543 +; env DATABASE_URL")
                .contains("password=********")
                .containsPattern("\"app\" \"md5\\*+\" +; env DATABASE_URL")
                .contains("; OK");

        // from the environment alone; a bad value is reported with its variable
        r = UsherProcess.run(dir, Map.of("DB_HOST", "db", "USHER_QUERY_TIMEOUT", "soon"), "config", "check");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(r.stderr()).contains("env USHER_QUERY_TIMEOUT: invalid value \"soon\"");
    }
}

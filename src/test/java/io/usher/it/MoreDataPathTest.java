package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.util.Properties;

import static io.usher.it.Sql.exec;
import static io.usher.it.Sql.one;
import static io.usher.it.Sql.pid;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.TRUST;
import static org.assertj.core.api.Assertions.assertThat;

/** Protocol corners of the data path, reset and check queries, and clients leaving at bad moments. */
class MoreDataPathTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    private static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] z(String s) {
        return (s + "\0").getBytes(StandardCharsets.UTF_8);
    }

    // Parse/Bind/Execute answered after Flush without a Sync; the server stays with the client until the Sync
    @Test
    void flushWithoutSyncGetsResultsAndHoldsTheServer() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("default_pool_size", 1).start();
             WireClient w = new WireClient(u.port())) {
            w.loginTrust(TRUST, "appdb");
            byte[] parse = WireClient.message('P', cat(z(""), z("SELECT 41 + 1"), new byte[] {0, 0}));
            byte[] bind = WireClient.message('B', cat(z(""), z(""), new byte[] {0, 0, 0, 0, 0, 0}));
            byte[] exec = WireClient.message('E', cat(z(""), new byte[] {0, 0, 0, 0}));
            byte[] flush = WireClient.message('H', new byte[0]);
            w.send(cat(parse, bind, exec, flush));
            assertThat(w.read().type()).isEqualTo('1'); // ParseComplete
            assertThat(w.read().type()).isEqualTo('2'); // BindComplete
            WireClient.Message row = w.read();
            assertThat(row.type()).isEqualTo('D');
            assertThat(row.text()).contains("42");
            assertThat(w.read().type()).isEqualTo('C');
            // no Sync yet: another client must wait for the only server
            try (Connection other = u.connect(TRUST, null, "appdb", new Properties())) {
                java.util.concurrent.CompletableFuture<String> f = Sql.oneAsync(other, "SELECT 'other'");
                Thread.sleep(500);
                assertThat(f).isNotDone();
                w.send(WireClient.message('S', new byte[0]));
                assertThat(w.readUntil('Z').payload()[0]).isEqualTo((byte) 'I');
                assertThat(f.get(5, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("other");
            }
        }
    }

    // a pipeline of simple queries in one write: every answer comes back in order
    @Test
    void pipelinedSimpleQueriesInOneWrite() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("default_pool_size", 1).start();
             WireClient w = new WireClient(u.port())) {
            w.loginTrust(TRUST, "appdb");
            w.send(cat(WireClient.query("SELECT 'a'"), WireClient.query("SELECT 1/0"), WireClient.query("SELECT 'c'")));
            assertThat(w.readUntil('D').text()).contains("a");
            w.readUntil('Z');
            assertThat(w.readUntil('E').fields().get('C')).isEqualTo("22012");
            w.readUntil('Z');
            assertThat(w.readUntil('D').text()).contains("c");
            assertThat(w.readUntil('Z').payload()[0]).isEqualTo((byte) 'I');
        }
    }

    // server_reset_query_always runs the reset after every transaction in transaction mode
    @Test
    void serverResetQueryAlwaysInTransactionMode() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 1)
                .set("server_reset_query", "RESET ALL").set("server_reset_query_always", 1).start();
             Connection a = u.connect(MD5, "appdb"); Connection b = u.connect(MD5, "appdb")) {
            exec(a, "SET work_mem = '7MB'");
            assertThat(pid(b)).isEqualTo(pid(a));
            assertThat(one(b, "SHOW work_mem")).isEqualTo("4MB");
        }
        // without _always, transaction mode does not reset: the setting leaks, as in PgBouncer
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 1).start();
             Connection a = u.connect(MD5, "appdb"); Connection b = u.connect(MD5, "appdb")) {
            exec(a, "SET work_mem = '7MB'");
            assertThat(one(b, "SHOW work_mem")).isEqualTo("7MB");
            exec(b, "RESET work_mem");
        }
    }

    // server_check_query runs before a server idle longer than server_check_delay is handed out
    @Test
    void serverCheckQueryRunsAfterCheckDelay() throws Exception {
        pg.execute("CREATE SEQUENCE IF NOT EXISTS check_probe");
        pg.execute("GRANT USAGE, SELECT, UPDATE ON SEQUENCE check_probe TO u_md5");
        pg.execute("SELECT setval('check_probe', 1)");
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 1)
                .database("appdb", "host=127.0.0.1 port=" + pg.port() + " dbname=postgres")
                .set("server_check_query", "SELECT nextval('check_probe')").set("server_check_delay", 0).start();
             Connection a = u.connect(MD5, "appdb")) {
            for (int i = 0; i < 3; i++) {
                one(a, "SELECT 1");
            }
            // the login's use of the fresh server is not checked; each of the 3 queries after it is
            assertThat(pg.query("SELECT last_value FROM check_probe").get(0).get(0)).isEqualTo("4");
        }
    }

    // application_name_add_host appends the client's address to application_name
    @Test
    void applicationNameAddHost() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("application_name_add_host", 1).start()) {
            Properties p = new Properties();
            p.setProperty("ApplicationName", "myapp");
            try (Connection c = u.connect(MD5, "md5_pw", "appdb", p)) {
                assertThat(one(c, "SHOW application_name")).matches("myapp - 127\\.0\\.0\\.1:\\d+");
            }
        }
    }

    // a client that disconnects while its query runs, or in the middle of COPY FROM STDIN, leaves no dirty server
    @Test
    void clientLeavingMidQueryOrMidCopyLeavesServerClean() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("default_pool_size", 1).start()) {
            try (WireClient w = new WireClient(u.port())) {
                w.loginTrust(TRUST, "appdb");
                w.send(WireClient.query("SELECT pg_sleep(30)"));
                Thread.sleep(200);
            }
            try (WireClient w = new WireClient(u.port())) {
                w.loginTrust(TRUST, "appdb");
                w.send(WireClient.query("CREATE TEMP TABLE copy_probe (x int); COPY copy_probe FROM STDIN"));
                assertThat(w.readUntil('G').type()).isEqualTo('G'); // CopyInResponse
                w.send(WireClient.message('d', "1\n2\n".getBytes(StandardCharsets.UTF_8)));
                Thread.sleep(100);
            }
            try (Connection c = u.connect(TRUST, null, "appdb", new Properties())) {
                org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).untilAsserted(() ->
                        assertThat(one(c, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'u_trust' AND state <> 'idle' AND pid <> pg_backend_pid()")).isEqualTo("0"));
                assertThat(one(c, "SELECT to_regclass('pg_temp.copy_probe') IS NULL")).isEqualTo("t");
                assertThat(one(c, "SELECT pg_current_xact_id_if_assigned() IS NULL")).isEqualTo("t");
            }
        }
    }

    // [databases] host= a Unix-socket directory; connect_query runs once on each new server; timezone= is
    // the server's startup TimeZone, which a client that sends none sees
    @Test
    void databaseEntryUnixSocketHostConnectQueryAndTimezone() throws Exception {
        String entry = "host=" + pg.socketDir() + " port=" + pg.port() + " dbname=appdb timezone=Asia/Tokyo"
                + " connect_query='SELECT set_config(''usher.marker'', ''connected'', false)'";
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").database("viasocket", entry).start();
             WireClient w = new WireClient(u.port())) {
            w.loginTrust(TRUST, "viasocket");
            w.send(WireClient.query("SELECT current_setting('usher.marker') || ' ' || current_setting('TimeZone') || ' '"
                    + " || coalesce(inet_client_addr()::text, 'unix')"));
            assertThat(w.readUntil('D').text()).contains("connected Asia/Tokyo unix");
            w.readUntil('Z');
        }
    }

    // per-database pool_size overrides default_pool_size
    @Test
    void perDatabasePoolSize() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 5)
                .database("small", "host=127.0.0.1 port=" + pg.port() + " dbname=appdb pool_size=1").start();
             Connection a = u.connect(MD5, "small"); Connection b = u.connect(MD5, "small")) {
            a.setAutoCommit(false);
            pid(a);
            java.util.concurrent.CompletableFuture<String> f = Sql.oneAsync(b, "SELECT 'b'");
            Thread.sleep(500);
            assertThat(f).isNotDone(); // pool_size=1 on this entry: b waits
            a.commit();
            assertThat(f.get(5, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("b");
        }
    }
}

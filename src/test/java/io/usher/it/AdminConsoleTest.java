package io.usher.it;

import io.usher.testing.PostgresCluster;
import io.usher.testing.ProcessResult;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.SCRAM;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The admin console (virtual database "pgbouncer"): access rules and the SHOW commands Usher has so far. */
class AdminConsoleTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    private static UsherInstance start(PostgresCluster pg) {
        return UsherInstance.builder(pg).set("default_pool_size", 1).set("reserve_pool_size", 3)
                .set("admin_users", "u_scram2").set("stats_users", "u_plain")
                .userlist("u_scram2", "scram2_pw").userlist("u_plain", "plain_pw").start();
    }

    private static Connection console(UsherInstance u, String user, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("preferQueryMode", "simple"); // the console speaks the simple protocol only, as PgBouncer's
        return u.connect(user, password, "pgbouncer", p);
    }

    private static List<Map<String, Object>> rows(Connection c, String sql) throws SQLException {
        return AdminRows.rows(c, sql);
    }

    private static List<String> columns(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            List<String> names = new ArrayList<>();
            for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                names.add(rs.getMetaData().getColumnName(i));
            }
            return names;
        }
    }

    // users in neither admin_users nor stats_users get PgBouncer's "not allowed"
    @Test
    void otherUsersAreNotAllowed() throws Exception {
        try (UsherInstance u = start(pg)) {
            assertThatThrownBy(() -> console(u, MD5, "md5_pw")).hasMessageContaining("not allowed");
            // a wrong password of an admin user fails like any login
            assertThatThrownBy(() -> console(u, "u_scram2", "wrong")).hasMessageContaining("authentication failed");
        }
    }

    // a stats user may SHOW but gets "admin access needed" for control commands, and can go on
    @Test
    void statsUserCanShowButNotControl() throws Exception {
        try (UsherInstance u = start(pg); Connection c = console(u, "u_plain", "plain_pw")) {
            assertThat(one(c, "SHOW VERSION")).startsWith("PgBouncer 1.25.0 (Usher ");
            assertThatThrownBy(() -> one(c, "PAUSE")).hasMessageContaining("admin access needed");
            assertThat(rows(c, "SHOW POOLS")).isNotNull();
        }
    }

    // SHOW POOLS: PgBouncer's columns in order, and counts that follow a waiting client
    @Test
    void showPoolsFollowsLiveCounts() throws Exception {
        try (UsherInstance u = start(pg); Connection admin = console(u, "u_scram2", "scram2_pw");
             Connection a = u.connect(MD5, "appdb"); Connection b = u.connect(MD5, "appdb")) {
            assertThat(columns(admin, "SHOW POOLS")).containsExactly("database", "user", "cl_active", "cl_waiting",
                    "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled",
                    "sv_idle", "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode", "load_balance_hosts");
            a.setAutoCommit(false);
            one(a, "SELECT 1"); // a holds the only server
            CompletableFuture<String> waiting = Sql.oneAsync(b, "SELECT 'b'");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() ->
                    ((Number) rows(admin, "SHOW POOLS").get(0).get("cl_waiting")).intValue() == 1);
            Map<String, Object> r = rows(admin, "SHOW POOLS").get(0);
            assertThat(r).containsEntry("database", "appdb").containsEntry("user", MD5)
                    .containsEntry("sv_active", 1L).containsEntry("sv_idle", 0L).containsEntry("pool_mode", "transaction");
            a.commit();
            assertThat(waiting.get()).isEqualTo("b");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                Map<String, Object> after = rows(admin, "SHOW POOLS").get(0);
                assertThat(after).containsEntry("cl_waiting", 0L).containsEntry("sv_active", 0L)
                        .containsEntry("cl_active", 2L);
                assertThat((Long) after.get("sv_idle") + (Long) after.get("sv_used")).isEqualTo(1L);
            });
        }
    }

    // SHOW DATABASES, CONFIG, USERS and STATE report the running configuration
    @Test
    void showDatabasesConfigUsersState() throws Exception {
        try (UsherInstance u = start(pg); Connection admin = console(u, "u_scram2", "scram2_pw")) {
            Map<String, Map<String, Object>> dbs = new LinkedHashMap<>();
            for (Map<String, Object> r : rows(admin, "SHOW DATABASES")) {
                dbs.put((String) r.get("name"), r);
            }
            assertThat(dbs).containsKeys("appdb", "otherdb", "pgbouncer");
            assertThat(dbs.get("appdb")).containsEntry("host", "127.0.0.1").containsEntry("port", (long) pg.port())
                    .containsEntry("database", "appdb").containsEntry("pool_size", 1L).containsEntry("reserve_pool_size", 3L)
                    .containsEntry("paused", 0L).containsEntry("reserve_pool", 3L);
            // PgBouncer 1.25's columns in its order, then the 1.18 name for reserve_pool_size
            assertThat(columns(admin, "SHOW DATABASES")).containsExactly("name", "host", "port", "database",
                    "force_user", "pool_size", "min_pool_size", "reserve_pool_size", "server_lifetime", "pool_mode",
                    "load_balance_hosts", "max_connections", "current_connections", "max_client_connections",
                    "current_client_connections", "paused", "disabled", "reserve_pool");
            Map<String, String> config = new LinkedHashMap<>();
            for (Map<String, Object> r : rows(admin, "SHOW CONFIG")) {
                config.put((String) r.get("key"), (String) r.get("value"));
            }
            assertThat(config).containsEntry("default_pool_size", "1").containsEntry("pool_mode", "transaction")
                    .containsEntry("listen_port", String.valueOf(u.port()));
            assertThat(columns(admin, "SHOW CONFIG")).containsExactly("key", "value", "default", "changeable");
            assertThat(rows(admin, "SHOW USERS")).anySatisfy(r -> assertThat(r).containsEntry("name", MD5));
            assertThat(rows(admin, "SHOW STATE")).isNotEmpty();
            assertThatThrownBy(() -> one(admin, "SHOW NONSENSE")).hasMessageContaining("unsupported SHOW cmd");
        }
    }

    // psql against the console, as operators use it
    @Test
    void psqlShowPools() throws Exception {
        assumeTrue(PostgresCluster.findClientTool("psql").isPresent(), "psql not installed");
        try (UsherInstance u = start(pg)) {
            ProcessResult r = pg.runClient(Duration.ofSeconds(30), Map.of("PGPASSWORD", "scram2_pw"), "psql",
                    "-h", "127.0.0.1", "-p", String.valueOf(u.port()), "-U", "u_scram2", "-X", "-A", "-t",
                    "pgbouncer", "-c", "SHOW VERSION");
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(r.stdout()).contains("PgBouncer 1.25.0 (Usher");
        }
    }

    // PAUSE waits for the running transaction, closes the servers and holds new queries until RESUME
    @Test
    void pauseWaitsForRunningQueriesAndResumeReleasesWaiters() throws Exception {
        try (UsherInstance u = start(pg); Connection admin = console(u, "u_scram2", "scram2_pw");
             Connection a = u.connect(MD5, "appdb"); Connection b = u.connect(MD5, "otherdb")) {
            one(b, "SELECT 1");
            CompletableFuture<String> running = Sql.oneAsync(a, "SELECT 'slept' FROM pg_sleep(1)");
            Thread.sleep(200);
            long t0 = System.nanoTime();
            Sql.exec(admin, "PAUSE");
            long tookMs = (System.nanoTime() - t0) / 1_000_000;
            assertThat(running).isCompletedWithValue("slept");
            assertThat(tookMs).isGreaterThan(500);
            assertThat(pg.backendCount(MD5, "appdb") + pg.backendCount(MD5, "otherdb")).isZero();
            CompletableFuture<String> held = Sql.oneAsync(a, "SELECT 'after resume'");
            Thread.sleep(700);
            assertThat(held).isNotDone();
            assertThat(rows(admin, "SHOW DATABASES")).anySatisfy(r ->
                    assertThat(r).containsEntry("name", "appdb").containsEntry("paused", 1L));
            Sql.exec(admin, "RESUME");
            assertThat(held.get(5, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("after resume");
        }
    }

    // PAUSE db pauses only that database
    @Test
    void pauseOneDatabase() throws Exception {
        try (UsherInstance u = start(pg); Connection admin = console(u, "u_scram2", "scram2_pw");
             Connection a = u.connect(MD5, "appdb"); Connection b = u.connect(MD5, "otherdb")) {
            Sql.exec(admin, "PAUSE appdb");
            CompletableFuture<String> held = Sql.oneAsync(a, "SELECT 'a'");
            assertThat(one(b, "SELECT 'b'")).isEqualTo("b");
            Thread.sleep(500);
            assertThat(held).isNotDone();
            Sql.exec(admin, "RESUME appdb");
            assertThat(held.get(5, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("a");
        }
    }

    // RELOAD re-reads the file: a new default_pool_size applies to the existing pool; a broken file is refused
    @Test
    void reloadAppliesNewPoolSizeAndRefusesABrokenFile() throws Exception {
        try (UsherInstance u = start(pg); Connection admin = console(u, "u_scram2", "scram2_pw")) {
            java.nio.file.Path ini = u.dir().resolve("pgbouncer.ini");
            String original = java.nio.file.Files.readString(ini);
            java.nio.file.Files.writeString(ini, original.replace("default_pool_size = 1", "default_pool_size = 3"));
            Sql.exec(admin, "RELOAD");
            assertThat(rows(admin, "SHOW DATABASES")).anySatisfy(r ->
                    assertThat(r).containsEntry("name", "appdb").containsEntry("pool_size", 3L));
            // three transactions at once now get three servers
            List<Connection> cs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Connection c = u.connect(MD5, "appdb");
                c.setAutoCommit(false);
                cs.add(c);
            }
            List<CompletableFuture<String>> fs = new ArrayList<>();
            for (Connection c : cs) {
                fs.add(Sql.oneAsync(c, "SELECT 'ok' FROM pg_sleep(0.3)"));
            }
            for (CompletableFuture<String> f : fs) {
                assertThat(f.get(5, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("ok");
            }
            assertThat(pg.backendCount(MD5, "appdb")).isEqualTo(3);
            for (Connection c : cs) {
                c.close();
            }
            java.nio.file.Files.writeString(ini, original + "\nthis is not a valid line\n");
            assertThatThrownBy(() -> Sql.exec(admin, "RELOAD")).hasMessageContaining("RELOAD failed");
            assertThat(rows(admin, "SHOW DATABASES")).anySatisfy(r ->
                    assertThat(r).containsEntry("name", "appdb").containsEntry("pool_size", 3L));
        }
    }

    // SHOW STATS counts transactions, queries and bytes per database, as PgBouncer defines them
    @Test
    void showStatsCountsTransactionsAndQueries() throws Exception {
        try (UsherInstance u = start(pg); Connection admin = console(u, "u_scram2", "scram2_pw")) {
            try (Connection c = u.connect(MD5, "otherdb")) {
                for (int i = 0; i < 30; i++) {
                    one(c, "SELECT " + i);
                }
                for (int i = 0; i < 10; i++) {
                    c.setAutoCommit(false);
                    one(c, "SELECT 1");
                    one(c, "SELECT 2");
                    c.commit();
                    c.setAutoCommit(true);
                }
            }
            Map<String, Object> r = rows(admin, "SHOW STATS").stream()
                    .filter(x -> "otherdb".equals(x.get("database"))).findFirst().orElseThrow();
            // 30 one-statement transactions + 10 of BEGIN, SELECT, SELECT, COMMIT (pgjdbc sends BEGIN with the first query)
            assertThat((Long) r.get("total_xact_count")).isEqualTo(40L);
            assertThat((Long) r.get("total_query_count")).isGreaterThanOrEqualTo(60L);
            assertThat((Long) r.get("total_received")).isPositive();
            assertThat((Long) r.get("total_sent")).isPositive();
            assertThat((Long) r.get("total_query_time")).isPositive();
            assertThat((Long) r.get("total_server_assignment_count")).isGreaterThanOrEqualTo(40L);
            assertThat(columns(admin, "SHOW STATS")).containsExactly("database", "total_server_assignment_count",
                    "total_xact_count", "total_query_count", "total_received", "total_sent", "total_xact_time",
                    "total_query_time", "total_wait_time", "total_client_parse_count", "total_server_parse_count",
                    "total_bind_count", "avg_server_assignment_count", "avg_xact_count", "avg_query_count",
                    "avg_recv", "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time",
                    "avg_client_parse_count", "avg_server_parse_count", "avg_bind_count", "total_requests");
            assertThat(r.get("total_requests")).isEqualTo(r.get("total_query_count"));
            assertThat(columns(admin, "SHOW STATS_TOTALS")).startsWith("database", "server_assignment_count", "xact_count");
            assertThat(rows(admin, "SHOW TOTALS")).anySatisfy(t ->
                    assertThat(t).containsEntry("name", "total_xact_count").containsEntry("value", 40L))
                    .anySatisfy(t -> assertThat(t).containsEntry("name", "avg_xact_count"));
        }
    }

    // SHOW CLIENTS and SHOW SERVERS: a linked pair points at each other through ptr/link
    @Test
    void showClientsAndServersShowTheLinkedPair() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "session").set("admin_users", "u_scram2")
                .userlist("u_scram2", "scram2_pw").start();
             Connection admin = console(u, "u_scram2", "scram2_pw"); Connection c = u.connect(MD5, "appdb")) {
            int backendPid = Sql.pid(c);
            List<Map<String, Object>> servers = rows(admin, "SHOW SERVERS");
            Map<String, Object> sv = servers.stream().filter(r -> ((Long) r.get("remote_pid")) == backendPid)
                    .findFirst().orElseThrow(() -> new AssertionError(servers));
            assertThat(sv).containsEntry("type", "S").containsEntry("user", MD5).containsEntry("database", "appdb")
                    .containsEntry("state", "active").containsEntry("port", (long) pg.port());
            Map<String, Object> cl = rows(admin, "SHOW CLIENTS").stream()
                    .filter(r -> sv.get("link").equals(r.get("ptr"))).findFirst().orElseThrow();
            assertThat(cl).containsEntry("type", "C").containsEntry("user", MD5).containsEntry("database", "appdb")
                    .containsEntry("state", "active").containsEntry("addr", "127.0.0.1")
                    .containsEntry("local_port", (long) u.port()).containsEntry("link", sv.get("ptr"));
            assertThat(columns(admin, "SHOW CLIENTS")).isEqualTo(columns(admin, "SHOW SERVERS"));
            assertThat(rows(admin, "SHOW LISTS")).anySatisfy(r -> assertThat(r).containsEntry("list", "used_clients"));
        }
    }

    // DISABLE refuses new clients of a database until ENABLE; RECONNECT replaces servers as they are released
    @Test
    void disableEnableAndReconnect() throws Exception {
        try (UsherInstance u = start(pg); Connection admin = console(u, "u_scram2", "scram2_pw");
             Connection a = u.connect(MD5, "appdb")) {
            int before = Sql.pid(a);
            Sql.exec(admin, "DISABLE appdb");
            assertThatThrownBy(() -> u.connect(MD5, "appdb").close()).hasMessageContaining("database does not allow connections: appdb");
            assertThat(rows(admin, "SHOW DATABASES")).anySatisfy(r ->
                    assertThat(r).containsEntry("name", "appdb").containsEntry("disabled", 1L));
            assertThat(Sql.pid(a)).isEqualTo(before); // clients already in are not affected
            Sql.exec(admin, "ENABLE appdb");
            u.connect(MD5, "appdb").close();
            Sql.exec(admin, "RECONNECT appdb");
            Sql.exec(admin, "WAIT_CLOSE appdb");
            assertThat(Sql.pid(a)).isNotEqualTo(before);
        }
    }

    // KILL drops the database's clients and servers and holds new queries until RESUME; KILL_CLIENT drops one
    @Test
    void killAndKillClient() throws Exception {
        try (UsherInstance u = start(pg); Connection admin = console(u, "u_scram2", "scram2_pw")) {
            Connection a = u.connect(MD5, "appdb");
            one(a, "SELECT 1");
            Sql.exec(admin, "KILL appdb");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThatThrownBy(() -> one(a, "SELECT 1")).isInstanceOf(SQLException.class));
            a.close();
            assertThat(pg.backendCount(MD5, "appdb")).isZero();
            Connection b = u.connect(MD5, "appdb");
            CompletableFuture<String> held = Sql.oneAsync(b, "SELECT 'after resume'");
            Thread.sleep(500);
            assertThat(held).isNotDone();
            Sql.exec(admin, "RESUME");
            assertThat(held.get(5, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("after resume");
            Object id = rows(admin, "SHOW CLIENTS").stream().filter(r -> "appdb".equals(r.get("database")))
                    .findFirst().orElseThrow().get("id");
            Sql.exec(admin, "KILL_CLIENT " + id);
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThatThrownBy(() -> one(b, "SELECT 1")).isInstanceOf(SQLException.class));
            b.close();
            assertThatThrownBy(() -> Sql.exec(admin, "KILL_CLIENT 1")).hasMessageContaining("client not found");
            assertThatThrownBy(() -> Sql.exec(admin, "SUSPEND")).hasMessageContaining("not supported");
        }
    }

    // SHUTDOWN answers, then stops Usher
    @Test
    void shutdownStopsUsher() throws Exception {
        try (UsherInstance u = start(pg)) {
            java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
            u.usher().onShutdownRequest(stopped::countDown);
            try (Connection admin = console(u, "u_scram2", "scram2_pw")) {
                Sql.exec(admin, "SHUTDOWN");
            }
            assertThat(stopped.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        }
    }

    // SHUTDOWN WAIT_FOR_CLIENTS: the listener closes at once, connected clients keep working, Usher stops when they leave
    @Test
    void shutdownWaitForClients() throws Exception {
        try (UsherInstance u = start(pg)) {
            java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
            u.usher().onShutdownRequest(stopped::countDown);
            try (Connection a = u.connect(MD5, "appdb")) {
                try (Connection admin = console(u, "u_scram2", "scram2_pw")) {
                    Sql.exec(admin, "SHUTDOWN WAIT_FOR_CLIENTS");
                    assertThatThrownBy(() -> Sql.exec(admin, "SHUTDOWN NOW")).hasMessageContaining("invalid SHUTDOWN mode");
                }
                assertThatThrownBy(() -> u.connect(MD5, "appdb")).isInstanceOf(SQLException.class);
                for (int i = 0; i < 10; i++) {
                    assertThat(one(a, "SELECT " + i)).isEqualTo(String.valueOf(i));
                }
                assertThat(stopped.await(300, java.util.concurrent.TimeUnit.MILLISECONDS)).as("stopped early").isFalse();
                assertThat(u.usher().readinessProblem()).isEqualTo("shutting down");
            }
            assertThat(stopped.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        }
    }

    // SHUTDOWN WAIT_FOR_SERVERS: an open transaction finishes, an idle client asking again is refused
    @Test
    void shutdownWaitForServers() throws Exception {
        try (UsherInstance u = start(pg)) {
            java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
            u.usher().onShutdownRequest(stopped::countDown);
            try (Connection inTx = u.connect(MD5, "appdb"); Connection idle = u.connect(SCRAM, "appdb")) {
                one(idle, "SELECT 1");
                inTx.setAutoCommit(false);
                one(inTx, "SELECT 1");
                try (Connection admin = console(u, "u_scram2", "scram2_pw")) {
                    Sql.exec(admin, "SHUTDOWN WAIT_FOR_SERVERS");
                }
                assertThatThrownBy(() -> one(idle, "SELECT 2")).hasMessageContaining("pooler is shutting down")
                        .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("08P01"));
                assertThat(stopped.await(300, java.util.concurrent.TimeUnit.MILLISECONDS)).as("stopped early").isFalse();
                assertThat(one(inTx, "SELECT 'in tx'")).isEqualTo("in tx");
                inTx.commit();
                assertThat(stopped.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            }
        }
    }

    // the remaining SHOW commands answer with PgBouncer's columns
    @Test
    void otherShowCommands() throws Exception {
        try (UsherInstance u = start(pg); Connection admin = console(u, "u_scram2", "scram2_pw");
             Connection a = u.connect(MD5, "appdb")) {
            one(a, "SELECT 1");
            assertThat(columns(admin, "SHOW SOCKETS")).isEqualTo(columns(admin, "SHOW CLIENTS"));
            assertThat(rows(admin, "SHOW SOCKETS")).anySatisfy(r -> assertThat(r).containsEntry("type", "S"))
                    .anySatisfy(r -> assertThat(r).containsEntry("type", "C"));
            assertThat(columns(admin, "SHOW PEERS")).containsExactly("peer_id", "host", "port", "pool_size");
            assertThat(columns(admin, "SHOW PEER_POOLS")).containsExactly("peer_id", "cl_active_cancel_req",
                    "cl_waiting_cancel_req", "sv_active_cancel", "sv_login");
            assertThat(columns(admin, "SHOW DNS_HOSTS")).containsExactly("hostname", "ttl", "addrs");
            assertThat(columns(admin, "SHOW DNS_ZONES")).containsExactly("zonename", "serial", "count");
            assertThat(rows(admin, "SHOW MEM")).isNotEmpty();
            assertThat(columns(admin, "SHOW FDS")).containsExactly("fd", "task", "user", "database", "addr", "port", "cancel", "link");
            assertThat(rows(admin, "SHOW FDS")).anySatisfy(r -> assertThat(r).containsEntry("task", "server"));
        }
    }

    // SET key = value changes an online-changeable setting; others are refused with the reason
    @Test
    void setChangesOnlineSettings() throws Exception {
        try (UsherInstance u = start(pg); Connection admin = console(u, "u_scram2", "scram2_pw")) {
            Sql.exec(admin, "SET default_pool_size = 3");
            assertThat(rows(admin, "SHOW CONFIG")).anySatisfy(r ->
                    assertThat(r).containsEntry("key", "default_pool_size").containsEntry("value", "3"));
            assertThat(rows(admin, "SHOW DATABASES")).anySatisfy(r ->
                    assertThat(r).containsEntry("name", "appdb").containsEntry("pool_size", 3L));
            assertThatThrownBy(() -> Sql.exec(admin, "SET listen_port = 1")).hasMessageContaining("cannot be changed online");
            assertThatThrownBy(() -> Sql.exec(admin, "SET default_pool_size = lots")).hasMessageContaining("invalid value");
            Sql.exec(admin, "SET application_name = 'driver noise'"); // a session setting: accepted, no effect
        }
    }

    // over the Unix socket, Usher's own OS user gets in as "pgbouncer" without a password; others are not allowed
    @Test
    void localSuperuserOverUnixSocket() throws Exception {
        assumeTrue(PostgresCluster.findClientTool("psql").isPresent(), "psql not installed");
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("usher-sock-");
        try (UsherInstance u = UsherInstance.builder(pg).set("unix_socket_dir", dir).start()) {
            ProcessResult ok = pg.runClient(Duration.ofSeconds(30), Map.of(), "psql", "-h", dir.toString(),
                    "-p", String.valueOf(u.port()), "-U", "pgbouncer", "-X", "-A", "-t", "pgbouncer", "-c", "SHOW VERSION");
            assertThat(ok.exitCode()).as(ok.stderr()).isZero();
            assertThat(ok.stdout()).contains("PgBouncer 1.25.0 (Usher");
            ProcessResult refused = pg.runClient(Duration.ofSeconds(30), Map.of(), "psql", "-h", dir.toString(),
                    "-p", String.valueOf(u.port()), "-U", "someone", "-X", "-A", "-t", "pgbouncer", "-c", "SHOW VERSION");
            assertThat(refused.exitCode()).isNotZero();
            assertThat(refused.stderr()).contains("not allowed");
        }
    }

    // averages are computed per stats_period from the totals
    @Test
    void averagesPerStatsPeriod() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("stats_period", 1).set("admin_users", "u_scram2")
                .userlist("u_scram2", "scram2_pw").start();
             Connection admin = console(u, "u_scram2", "scram2_pw"); Connection c = u.connect(MD5, "appdb")) {
            for (int i = 0; i < 50; i++) {
                one(c, "SELECT " + i);
            }
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                Map<String, Object> r = rows(admin, "SHOW STATS_AVERAGES").stream()
                        .filter(x -> "appdb".equals(x.get("database"))).findFirst().orElseThrow();
                assertThat((Long) r.get("query_count")).isPositive();
                assertThat((Long) r.get("query_time")).isPositive();
            });
        }
    }
}

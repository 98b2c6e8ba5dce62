package io.usher.it;

import io.usher.pool.Pool;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.TRUST;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * PgBouncer 1.25's timeouts: query_timeout, idle_transaction_timeout, transaction_timeout,
 * client_idle_timeout (global and per [users] entry), server_fast_close, autodb_idle_timeout and
 * cancel_wait_timeout. Exact errors are read with {@link WireClient}; "the server is closed" is what
 * PostgreSQL's pg_stat_activity says.
 */
class TimeoutsTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    /** An instance where u_trust logs in without a password exchange (WireClient speaks no auth). */
    private UsherInstance.Builder trust() {
        return UsherInstance.builder(pg).set("auth_type", "trust");
    }

    /** SHOW DATABASES: name -> database (the name on the server). */
    private static java.util.Map<String, String> consoleDatabases(UsherInstance u) throws Exception {
        java.util.Properties p = new java.util.Properties();
        p.setProperty("preferQueryMode", "simple");
        java.util.Map<String, String> names = new java.util.HashMap<>();
        try (Connection c = u.connect(TRUST, "", "pgbouncer", p);
             java.sql.ResultSet rs = c.createStatement().executeQuery("SHOW DATABASES")) {
            while (rs.next()) {
                names.put(rs.getString("name"), rs.getString("database"));
            }
        }
        return names;
    }

    private static WireClient login(UsherInstance u, String database) throws IOException {
        WireClient c = new WireClient(u.port());
        c.loginTrust(TRUST, database);
        return c;
    }

    /** Runs a simple query; the first column of the first row (null if none). Fails on an ErrorResponse. */
    private static String query(WireClient c, String sql) throws IOException {
        c.send(WireClient.query(sql));
        String value = null;
        while (true) {
            WireClient.Message m = c.read();
            switch (m.type()) {
                case 'D':
                    if (value == null) {
                        value = firstColumn(m.payload());
                    }
                    break;
                case 'E':
                    throw new AssertionError("unexpected error " + m.fields());
                case 'Z':
                    return value;
                default:
                    break;
            }
        }
    }

    private static String firstColumn(byte[] dataRow) {
        ByteBuffer b = ByteBuffer.wrap(dataRow);
        b.getShort();
        int len = b.getInt();
        return len < 0 ? null : new String(dataRow, 6, len, StandardCharsets.UTF_8);
    }

    private static int pid(WireClient c) throws IOException {
        return Integer.parseInt(query(c, "SELECT pg_backend_pid()"));
    }

    /** Reads until an ErrorResponse; its fields. */
    private static Map<Character, String> error(WireClient c) throws IOException {
        return c.readUntil('E').fields();
    }

    private static void assertFatal(Map<Character, String> e, String sqlState, String message) {
        assertThat(e).containsEntry('S', "FATAL").containsEntry('C', sqlState).containsEntry('M', message);
    }

    private void awaitBackendGone(int pid) {
        await().atMost(Duration.ofSeconds(5)).until(() ->
                pg.query("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid).get(0).get(0).equals("0"));
    }

    private boolean backendAlive(int pid) {
        return !pg.query("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid).get(0).get(0).equals("0");
    }

    private static long millisSince(long t0) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    }

    // ---- query_timeout ----

    // a query running longer than query_timeout: the client gets "query timeout" and is disconnected, the
    // server is closed (and the query cancelled); a query under the limit is not touched
    @Test
    void queryTimeoutEndsTheQueryTheClientAndTheServer() throws Exception {
        try (UsherInstance u = trust().set("query_timeout", 1).start();
             WireClient c = login(u, APPDB)) {
            assertThat(query(c, "SELECT 'short' FROM pg_sleep(0.5)")).isEqualTo("short");
            int server = pid(c);
            long t0 = System.nanoTime();
            c.send(WireClient.query("SELECT pg_sleep(30)"));
            assertFatal(error(c), "57014", "query timeout");
            assertThat(millisSince(t0)).isBetween(900L, 5000L);
            assertThat(c.closedWithin(2000)).isTrue();
            awaitBackendGone(server);
        }
    }

    // as in PgBouncer 1.25, query_timeout counts from the client's last request while its server is not
    // idle, so a transaction left open (idle) that long ends with "query timeout" too
    @Test
    void queryTimeoutAlsoEndsATransactionLeftIdle() throws Exception {
        try (UsherInstance u = trust().set("query_timeout", 1).start();
             WireClient c = login(u, APPDB)) {
            query(c, "BEGIN");
            int server = pid(c);
            assertFatal(error(c), "57014", "query timeout");
            assertThat(c.closedWithin(2000)).isTrue();
            awaitBackendGone(server);
        }
    }

    // [users] query_timeout applies to the pools of that user only, over a global 0
    @Test
    void queryTimeoutPerUser() throws Exception {
        try (UsherInstance u = trust().user(TRUST, "query_timeout=1").start();
             WireClient c = login(u, APPDB);
             Connection other = u.connect(MD5, APPDB)) {
            CompletableFuture<String> long2 = Sql.oneAsync(other, "SELECT 'other user' FROM pg_sleep(2)");
            c.send(WireClient.query("SELECT pg_sleep(30)"));
            assertFatal(error(c), "57014", "query timeout");
            assertThat(long2.get(10, TimeUnit.SECONDS)).isEqualTo("other user");
        }
    }

    // a client still waiting for a server when query_timeout passes gets "query_timeout" (PgBouncer checks it
    // before query_wait_timeout); the client holding the only server is not affected
    @Test
    void queryTimeoutWhileWaitingForAServer() throws Exception {
        try (UsherInstance u = trust().set("pool_mode", "session").set("default_pool_size", 1)
                .set("query_timeout", 1).start();
             WireClient holder = login(u, APPDB);
             WireClient waiter = login(u, APPDB)) {
            int server = pid(holder);
            long t0 = System.nanoTime();
            waiter.send(WireClient.query("SELECT 1"));
            assertFatal(error(waiter), "57014", "query_timeout");
            assertThat(millisSince(t0)).isBetween(900L, 5000L);
            assertThat(waiter.closedWithin(2000)).isTrue();
            assertThat(pid(holder)).isEqualTo(server);
        }
    }

    // ---- idle_transaction_timeout ----

    // idle in a transaction longer than idle_transaction_timeout: "idle transaction timeout", server closed;
    // time spent running queries does not count (PgBouncer #125), nor idling outside a transaction
    @Test
    void idleTransactionTimeout() throws Exception {
        try (UsherInstance u = trust().set("idle_transaction_timeout", 1).start();
             WireClient c = login(u, APPDB)) {
            query(c, "SELECT 1");
            Thread.sleep(1500); // idle outside a transaction: fine
            query(c, "BEGIN");
            assertThat(query(c, "SELECT 'ran' FROM pg_sleep(1.5)")).isEqualTo("ran");
            Thread.sleep(500);
            assertThat(query(c, "SELECT 'still in'")).isEqualTo("still in");
            int server = pid(c);
            long t0 = System.nanoTime();
            assertFatal(error(c), "25P03", "idle transaction timeout");
            assertThat(millisSince(t0)).isBetween(800L, 5000L);
            assertThat(c.closedWithin(2000)).isTrue();
            awaitBackendGone(server);
        }
    }

    // ---- transaction_timeout ----

    // [users] transaction_timeout: a transaction open longer ends with "transaction timeout" even while the
    // client keeps it busy; short transactions of that user, and other users, are not affected
    @Test
    void transactionTimeoutPerUser() throws Exception {
        try (UsherInstance u = trust().user(TRUST, "transaction_timeout=1").start();
             WireClient c = login(u, APPDB);
             Connection other = u.connect(MD5, APPDB)) {
            query(c, "BEGIN");
            query(c, "COMMIT");
            Thread.sleep(1200); // no transaction open: nothing to time out
            other.setAutoCommit(false);
            one(other, "SELECT 1");
            query(c, "BEGIN");
            int server = pid(c);
            long t0 = System.nanoTime();
            Map<Character, String> e = null;
            while (e == null && millisSince(t0) < 5000) {
                c.send(WireClient.query("SELECT 1"));
                while (true) {
                    WireClient.Message m = c.read();
                    if (m.type() == 'E') {
                        e = m.fields();
                        break;
                    }
                    if (m.type() == 'Z') {
                        break;
                    }
                }
                if (e == null) {
                    Thread.sleep(200);
                }
            }
            assertThat(e).isNotNull();
            assertFatal(e, "25P04", "transaction timeout");
            assertThat(millisSince(t0)).isBetween(800L, 5000L);
            assertThat(c.closedWithin(2000)).isTrue();
            awaitBackendGone(server);
            assertThat(one(other, "SELECT 'other user, still in its transaction'")).startsWith("other user");
            other.commit();
        }
    }

    // the global transaction_timeout also bounds a single statement (the transaction of an autocommit query)
    @Test
    void transactionTimeoutBoundsAnAutocommitQuery() throws Exception {
        try (UsherInstance u = trust().set("transaction_timeout", 1).start();
             WireClient c = login(u, APPDB)) {
            assertThat(query(c, "SELECT 'quick' FROM pg_sleep(0.3)")).isEqualTo("quick");
            c.send(WireClient.query("SELECT pg_sleep(30)"));
            assertFatal(error(c), "25P04", "transaction timeout");
            assertThat(c.closedWithin(2000)).isTrue();
        }
    }

    // ---- client_idle_timeout ----

    // a client without a server that sends nothing for client_idle_timeout is told so and disconnected;
    // one that keeps talking stays
    @Test
    void clientIdleTimeout() throws Exception {
        try (UsherInstance u = trust().set("client_idle_timeout", 1).start();
             WireClient idle = login(u, APPDB);
             WireClient busy = login(u, APPDB)) {
            query(idle, "SELECT 1");
            long t0 = System.nanoTime();
            CompletableFuture<Map<Character, String>> told = CompletableFuture.supplyAsync(() -> {
                try {
                    return error(idle);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            for (int i = 0; i < 8; i++) {
                Thread.sleep(300);
                assertThat(query(busy, "SELECT " + i)).isEqualTo(String.valueOf(i));
            }
            assertFatal(told.get(5, TimeUnit.SECONDS), "57P05", "client_idle_timeout");
            assertThat(idle.closedWithin(2000)).isTrue();
            assertThat(millisSince(t0)).isGreaterThanOrEqualTo(900L);
        }
    }

    // as in PgBouncer, client_idle_timeout only applies to clients without a server: a session-mode client
    // keeps its server and is not timed out
    @Test
    void clientIdleTimeoutSparesSessionClientsHoldingAServer() throws Exception {
        try (UsherInstance u = trust().set("pool_mode", "session").set("client_idle_timeout", 1).start();
             WireClient c = login(u, APPDB)) {
            int server = pid(c);
            assertThat(c.closedWithin(1800)).isFalse();
            assertThat(pid(c)).isEqualTo(server);
        }
    }

    // [users] client_idle_timeout is per client user; SET client_idle_timeout online reaches clients already idle
    @Test
    void clientIdleTimeoutPerUserAndSetOnline() throws Exception {
        try (UsherInstance u = trust().user(TRUST, "client_idle_timeout=1").start();
             WireClient c = login(u, APPDB);
             Connection other = u.connect(MD5, APPDB)) {
            query(c, "SELECT 1");
            one(other, "SELECT 1");
            assertFatal(error(c), "57P05", "client_idle_timeout");
            Thread.sleep(300);
            assertThat(one(other, "SELECT 'other user idled 1.3 s'")).startsWith("other user");
            assertThat(u.usher().set("client_idle_timeout", "0.5")).isNull();
            Thread.sleep(1200); // the already idle client is reached by the new value
            assertThat(other.isValid(1)).isFalse();
        }
    }

    // ---- server_fast_close ----

    // session mode with server_fast_close: after RECONNECT an idle session's server is closed at once, with its
    // client ("database configuration changed"); a session in a transaction keeps its server until COMMIT
    @Test
    void serverFastCloseAfterReconnect() throws Exception {
        try (UsherInstance u = trust().set("pool_mode", "session").set("server_fast_close", 1).start();
             WireClient idle = login(u, APPDB);
             WireClient inTx = login(u, APPDB)) {
            int idleServer = pid(idle);
            query(inTx, "BEGIN");
            int txServer = pid(inTx);
            u.usher().pools().poolsOf(APPDB).forEach(Pool::reconnect);
            assertFatal(error(idle), "57P01", "database configuration changed");
            assertThat(idle.closedWithin(2000)).isTrue();
            awaitBackendGone(idleServer);
            Thread.sleep(300);
            assertThat(pid(inTx)).isEqualTo(txServer); // the transaction goes on
            inTx.send(WireClient.query("COMMIT"));
            assertThat(inTx.readUntil('Z').payload()[0]).isEqualTo((byte) 'I');
            assertFatal(error(inTx), "57P01", "database configuration changed");
            assertThat(inTx.closedWithin(2000)).isTrue();
            awaitBackendGone(txServer);
        }
    }

    // without server_fast_close a session keeps its server across RECONNECT (it is replaced when released)
    @Test
    void withoutServerFastCloseSessionsKeepTheirServer() throws Exception {
        try (UsherInstance u = trust().set("pool_mode", "session").start();
             WireClient c = login(u, APPDB)) {
            int server = pid(c);
            u.usher().pools().poolsOf(APPDB).forEach(Pool::reconnect);
            Thread.sleep(500);
            assertThat(pid(c)).isEqualTo(server);
        }
    }

    // ---- autodb_idle_timeout ----

    // a database made from the "*" entry is dropped (pools and statistics) once unused for autodb_idle_timeout;
    // databases of their own entries stay; a new client makes it again
    @Test
    void autodbIdleTimeoutDropsUnusedAutoDatabases() throws Exception {
        try (UsherInstance u = trust().database("*", "host=127.0.0.1 port=" + pg.port())
                .set("autodb_idle_timeout", 1).set("server_idle_timeout", 0.5).set("admin_users", TRUST).start()) {
            try (WireClient c = login(u, "postgres"); WireClient d = login(u, APPDB)) {
                query(c, "SELECT 1");
                query(d, "SELECT 1");
                Thread.sleep(2000); // a client connected keeps the auto-database
                assertThat(u.usher().pools().poolsOf("postgres")).hasSize(1);
                // SHOW DATABASES lists it while it exists, as PgBouncer does
                assertThat(consoleDatabases(u)).containsEntry("postgres", "postgres").doesNotContainKey("*");
            }
            await().atMost(Duration.ofSeconds(6)).until(() -> u.usher().pools().poolsOf("postgres").isEmpty());
            assertThat(consoleDatabases(u)).doesNotContainKey("postgres");
            assertThat(u.usher().stats().all()).noneMatch(s -> s.database().equals("postgres"));
            assertThat(u.usher().pools().poolsOf(APPDB)).hasSize(1);
            try (WireClient again = login(u, "postgres")) {
                assertThat(query(again, "SELECT current_database()")).isEqualTo("postgres");
            }
        }
    }

    // ---- cancel_wait_timeout ----

    // Usher sends a cancel request at once; cancel_wait_timeout bounds how long its connection to the server
    // may stay open. A proxy in front of PostgreSQL holds cancel connections open without answering.
    @Test
    void cancelWaitTimeoutClosesAStuckCancelConnection() throws Exception {
        try (CancelHoldingProxy proxy = new CancelHoldingProxy(pg.port());
             UsherInstance u = UsherInstance.builder(pg).set("cancel_wait_timeout", 1)
                     .database(APPDB, "host=127.0.0.1 port=" + proxy.port() + " dbname=appdb").start();
             Connection c = u.connect(MD5, APPDB)) {
            Statement s = c.createStatement();
            CompletableFuture<String> q = CompletableFuture.supplyAsync(() -> {
                try (var rs = s.executeQuery("SELECT 'not cancelled' FROM pg_sleep(3)")) {
                    rs.next();
                    return rs.getString(1);
                } catch (java.sql.SQLException e) {
                    return e.getMessage();
                }
            });
            Thread.sleep(500);
            s.cancel();
            await().atMost(Duration.ofSeconds(5)).until(() -> !proxy.heldMillis.isEmpty());
            long held = proxy.heldMillis.get(0);
            assertThat(held).as("ms the stuck cancel connection stayed open").isBetween(800L, 4000L);
            assertThat(q.get(10, TimeUnit.SECONDS)).isEqualTo("not cancelled");
        }
    }

    /** Forwards connections to PostgreSQL, except cancel requests: those it holds open, and times how long. */
    private static final class CancelHoldingProxy implements AutoCloseable {
        final ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        final List<Long> heldMillis = new CopyOnWriteArrayList<>();
        final List<Socket> sockets = new CopyOnWriteArrayList<>();
        private final int pgPort;

        CancelHoldingProxy(int pgPort) throws IOException {
            this.pgPort = pgPort;
            Thread t = new Thread(this::acceptLoop, "cancel-holding-proxy");
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return listener.getLocalPort();
        }

        private void acceptLoop() {
            while (!listener.isClosed()) {
                try {
                    Socket s = listener.accept();
                    sockets.add(s);
                    Thread t = new Thread(() -> serve(s));
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket client) {
            try {
                InputStream in = client.getInputStream();
                byte[] head = in.readNBytes(8);
                ByteBuffer b = ByteBuffer.wrap(head);
                if (head.length == 8 && b.getInt(0) == 16 && b.getInt(4) == 80877102) {
                    long t0 = System.nanoTime();
                    while (in.read() >= 0) {
                        // hold it: read until Usher closes it
                    }
                    heldMillis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
                    return;
                }
                Socket server = new Socket(InetAddress.getLoopbackAddress(), pgPort);
                sockets.add(server);
                server.getOutputStream().write(head);
                Thread up = new Thread(() -> pipe(in, server));
                up.setDaemon(true);
                up.start();
                pipe(server.getInputStream(), client);
            } catch (IOException e) {
                // connection ended
            }
        }

        private static void pipe(InputStream from, Socket to) {
            try {
                OutputStream out = to.getOutputStream();
                byte[] buf = new byte[8192];
                int n;
                while ((n = from.read(buf)) >= 0) {
                    out.write(buf, 0, n);
                    out.flush();
                }
                to.shutdownOutput();
            } catch (IOException e) {
                // either side closed
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}

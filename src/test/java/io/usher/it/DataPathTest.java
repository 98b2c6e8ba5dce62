package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.usher.it.Sql.exec;
import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.TRUST;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What flows through a linked pair: extended protocol, COPY, big results, notices, parameters, cancel. */
class DataPathTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    @Test
    void extendedProtocolAndBatchesInTransactionMode() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 2).start();
             Connection c = u.connect(MD5, "appdb")) {
            exec(c, "CREATE TABLE IF NOT EXISTS dp_batch (id int, v text)");
            exec(c, "TRUNCATE dp_batch");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO dp_batch VALUES (?, ?)")) {
                for (int i = 0; i < 500; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, "v" + i);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT count(*), sum(id) FROM dp_batch WHERE v LIKE ?")) {
                ps.setString(1, "v%");
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    assertThat(rs.getInt(1)).isEqualTo(500);
                    assertThat(rs.getLong(2)).isEqualTo(499L * 500 / 2);
                }
            }
        }
    }

    @Test
    void copyInAndOut() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).start();
             Connection c = u.connect(MD5, "appdb")) {
            exec(c, "CREATE TABLE IF NOT EXISTS dp_copy (id int, v text)");
            exec(c, "TRUNCATE dp_copy");
            CopyManager cm = c.unwrap(PGConnection.class).getCopyAPI();
            StringBuilder data = new StringBuilder();
            for (int i = 0; i < 20000; i++) {
                data.append(i).append('\t').append("row").append(i).append('\n');
            }
            long n = cm.copyIn("COPY dp_copy FROM STDIN", new ByteArrayInputStream(data.toString().getBytes(StandardCharsets.UTF_8)));
            assertThat(n).isEqualTo(20000);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            cm.copyOut("COPY (SELECT * FROM dp_copy ORDER BY id) TO STDOUT", out);
            assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(data.toString());
            // a failed COPY leaves the connection usable
            assertThatThrownBy(() -> cm.copyIn("COPY dp_copy FROM STDIN", new ByteArrayInputStream("x\ty\n".getBytes())))
                    .isInstanceOf(SQLException.class);
            assertThat(one(c, "SELECT count(*) FROM dp_copy")).isEqualTo("20000");
        }
    }

    @Test
    void resultOfMoreThan100MegabytesStreamsThrough() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).start();
             Connection c = u.connect(MD5, "appdb")) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.setFetchSize(1000);
                long bytes = 0;
                long rows = 0;
                try (ResultSet rs = s.executeQuery("SELECT g, repeat('x', 1000) FROM generate_series(1, 110000) g")) {
                    while (rs.next()) {
                        rows++;
                        bytes += rs.getString(2).length();
                    }
                }
                assertThat(rows).isEqualTo(110000);
                assertThat(bytes).isGreaterThan(100_000_000L);
            }
            c.commit();
        }
    }

    @Test
    void noticesAndNotificationsReachTheClient() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "session").start();
             Connection listener = u.connect(MD5, "appdb");
             Connection sender = u.connect(MD5, "appdb")) {
            exec(listener, "LISTEN dp_channel");
            exec(sender, "NOTIFY dp_channel, 'hello'");
            one(listener, "SELECT 1");
            org.postgresql.PGNotification[] ns = listener.unwrap(PGConnection.class).getNotifications(5000);
            assertThat((Object[]) ns).isNotEmpty();
            assertThat(ns[0].getParameter()).isEqualTo("hello");
            try (Statement s = listener.createStatement()) {
                s.execute("DO $$ BEGIN RAISE NOTICE 'notice-through-usher'; END $$");
                assertThat((Object) s.getWarnings()).isNotNull();
                assertThat(s.getWarnings().getMessage()).contains("notice-through-usher");
            }
        }
    }

    @Test
    void eachClientKeepsItsOwnParametersOnASharedServer() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 1).start()) {
            try (Connection a = u.connect(MD5, "md5_pw", "appdb", new Properties());
                 Connection b = u.connect(MD5, "md5_pw", "appdb", new Properties())) {
                exec(a, "SET TimeZone = 'America/New_York'");
                exec(a, "SET DateStyle = 'ISO, DMY'");
                exec(a, "SET IntervalStyle = 'postgres_verbose'");
                exec(b, "SET application_name = 'client-b'");
                assertThat(Sql.pid(a)).isEqualTo(Sql.pid(b)); // one server for both
                for (int i = 0; i < 3; i++) {
                    assertThat(one(a, "SHOW TimeZone")).isEqualTo("America/New_York");
                    assertThat(one(b, "SHOW TimeZone")).isNotEqualTo("America/New_York");
                    assertThat(one(a, "SHOW DateStyle")).isEqualTo("ISO, DMY");
                    assertThat(one(a, "SHOW IntervalStyle")).isEqualTo("postgres_verbose");
                    assertThat(one(b, "SHOW IntervalStyle")).isEqualTo("postgres");
                    assertThat(one(b, "SHOW application_name")).isEqualTo("client-b");
                    assertThat(one(a, "SHOW application_name")).isNotEqualTo("client-b");
                }
            }
        }
    }

    @Test
    void cancelReachesTheRightServer() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 4).start();
             Connection a = u.connect(MD5, "appdb");
             Connection b = u.connect(MD5, "appdb")) {
            Statement sa = a.createStatement();
            CompletableFuture<String> slowB = CompletableFuture.supplyAsync(() -> {
                try {
                    return one(b, "SELECT 'b-done' FROM pg_sleep(1.5)");
                } catch (SQLException e) {
                    return e.getSQLState();
                }
            });
            CompletableFuture<String> slowA = CompletableFuture.supplyAsync(() -> {
                try (ResultSet rs = sa.executeQuery("SELECT pg_sleep(20)")) {
                    return "a-done";
                } catch (SQLException e) {
                    return e.getSQLState();
                }
            });
            Thread.sleep(500);
            sa.cancel();
            assertThat(slowA.get(10, TimeUnit.SECONDS)).isEqualTo("57014");
            assertThat(slowB.get(10, TimeUnit.SECONDS)).isEqualTo("b-done");
            assertThat(one(a, "SELECT 'still usable'")).isEqualTo("still usable");
        }
    }

    @Test
    void cancelWithAWrongKeyDoesNothing() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").start();
             WireClient w = new WireClient(u.port())) {
            w.send(WireClient.startupPacket(Map.of("user", TRUST, "database", "appdb")));
            int pid = 0;
            int key = 0;
            while (true) {
                WireClient.Message m = w.read();
                if (m.type() == 'K') {
                    java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(m.payload());
                    pid = bb.getInt();
                    key = bb.getInt();
                }
                if (m.type() == 'Z') {
                    break;
                }
            }
            w.send(WireClient.query("SELECT 'finished' FROM pg_sleep(1)"));
            Thread.sleep(200);
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", u.port())) {
                java.nio.ByteBuffer cancel = java.nio.ByteBuffer.allocate(16).putInt(16).putInt(80877102).putInt(pid).putInt(key + 1);
                s.getOutputStream().write(cancel.array());
            }
            WireClient.Message row = w.readUntil('D');
            assertThat(row.text()).contains("finished");
        }
    }

    /**
     * A cancel of an idle session (session pooling keeps the server linked): PostgreSQL ignores it, and it
     * closes the cancel connection only once it has signalled the backend, so a client that waits for that
     * close (libpq's PQcancel) can send its next query. Usher closed the client's cancel connection before
     * passing the request on, so the next query was the one cancelled. Found by DifferentialTest's cancels.
     */
    @Test
    void cancelOfAnIdleSessionDoesNotCancelTheNextQuery() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("pool_mode", "session").start();
             WireClient c = new WireClient(u.port())) {
            c.loginTrust(TRUST, "appdb");
            for (int i = 0; i < 20; i++) {
                c.cancelVia(u.port());
                c.send(WireClient.query("SELECT pg_sleep(0.05), " + i));
                assertNotCancelled(c, i);
            }
        }
    }

    /**
     * A cancel sent as soon as ReadyForQuery arrives, in transaction pooling, while another client waits for
     * the one server: the first client has no server any more, so nothing is cancelled. Usher looked at the
     * client's server from the cancel connection's thread, where it could still see the server the client's
     * own thread was giving back, and the request would reach the next query on it (PgBouncer's pull request
     * #717 closes the same race). Seen while looking into DifferentialTest's cancel mismatches in statement
     * pooling, whose proven cause is the one of aServerGoesToTheNextClientOnlyOnceItsCancelIsDone; the request
     * is now looked at on the client's own thread. The window is narrow (the client's thread must stall
     * between the flush of ReadyForQuery and the release): this test states the property, it did not fail
     * against the old code in the run tried.
     */
    @Test
    void cancelAfterReadyForQueryDoesNotReachTheServerGivenBack() throws Exception {
        withTwoClientsOnOneServer((u, a, b) -> {
            for (int i = 0; i < 30; i++) {
                a.send(WireClient.query("SELECT pg_sleep(0.01)"));
                b.send(WireClient.query("SELECT pg_sleep(0.05), " + i)); // waits for a's server
                a.readUntil('Z');
                a.cancelVia(u.port());
                assertNotCancelled(b, i);
            }
        });
    }

    /**
     * PostgreSQL signals a cancelled backend twice (the process, then its process group), and on a busy
     * machine the second signal can come after the cancelled query has ended. A client of PostgreSQL sends
     * its next query once the cancel connection is closed; through a transaction pool the server went to
     * the next client at once, whose query could be the one cancelled (DifferentialTest, transaction and
     * statement pooling: about 1 in 2,000 sessions). A server now goes back to the pool only once the
     * cancel requests sent for it are done, as in PgBouncer (its pull request #717). The window is narrow:
     * this test states the property, it is not expected to fail often without it.
     */
    @Test
    void aServerGoesToTheNextClientOnlyOnceItsCancelIsDone() throws Exception {
        withTwoClientsOnOneServer((u, a, b) -> {
            for (int i = 0; i < 10; i++) {
                a.send(WireClient.query("SELECT pg_sleep(30) /* handover */"));
                awaitSleeping("handover */");
                b.send(WireClient.query("SELECT pg_sleep(0.2), " + i)); // waits for a's server
                a.cancelVia(u.port());
                assertThat(a.readUntil('E').fields().get('C')).isEqualTo("57014");
                a.readUntil('Z');
                assertNotCancelled(b, i);
            }
        });
    }

    /** Two trust clients logged in through an Usher whose pool has one server. */
    private interface TwoClients {
        void run(UsherInstance u, WireClient a, WireClient b) throws Exception;
    }

    private void withTwoClientsOnOneServer(TwoClients body) throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("default_pool_size", 1).start();
             WireClient a = new WireClient(u.port());
             WireClient b = new WireClient(u.port())) {
            a.loginTrust(TRUST, "appdb");
            b.loginTrust(TRUST, "appdb");
            body.run(u, a, b);
        }
    }

    /** The client's query gave a row, not an error (it was not cancelled); reads up to ReadyForQuery. */
    private static void assertNotCancelled(WireClient c, int round) throws java.io.IOException {
        assertThat(c.readUntilOneOf('D', 'E').type()).as("round " + round).isEqualTo('D');
        c.readUntil('Z');
    }

    /** Waits (up to 10 s) until PostgreSQL sleeps in a statement whose text ends with {@code tail}. */
    private void awaitSleeping(String tail) throws Exception {
        try (Connection watcher = pg.connectSuper()) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!one(watcher, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                    + " AND query LIKE '%" + tail + "'").equals("1")) {
                assertThat(System.nanoTime() - deadline).as("sleeping within 10 s").isNegative();
                Thread.sleep(2);
            }
        }
    }
}

package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.util.List;
import java.util.Map;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.TRUST;
import static org.assertj.core.api.Assertions.assertThat;

/** A malformed packet closes that one client with an error; everyone else goes on. */
class BadInputTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    private static UsherInstance start(PostgresCluster pg) {
        return UsherInstance.builder(pg).set("auth_type", "trust").set("max_packet_size", 65536).start();
    }

    @Test
    void unknownMessageTypeClosesOnlyThatClient() throws Exception {
        try (UsherInstance u = start(pg); Connection other = u.connect(MD5, "appdb"); WireClient w = new WireClient(u.port())) {
            w.loginTrust(TRUST, "appdb");
            w.send(WireClient.message('y', new byte[] {1, 2, 3}));
            WireClient.Message m = w.read();
            assertThat(m.type()).isEqualTo('E');
            assertThat(m.fields().get('C')).isEqualTo("08P01");
            assertThat(m.fields().get('M')).contains("unsupported pkt type");
            assertThat(w.closedWithin(5000)).isTrue();
            assertThat(one(other, "SELECT 'fine'")).isEqualTo("fine");
        }
    }

    @Test
    void invalidLengthClosesTheClient() throws Exception {
        try (UsherInstance u = start(pg); WireClient w = new WireClient(u.port())) {
            w.loginTrust(TRUST, "appdb");
            w.send(ByteBuffer.allocate(5).put((byte) 'Q').putInt(2).array());
            WireClient.Message m = w.read();
            assertThat(m.type()).isEqualTo('E');
            assertThat(m.fields().get('C')).isEqualTo("08P01");
            assertThat(w.closedWithin(5000)).isTrue();
        }
    }

    @Test
    void packetOverMaxPacketSizeIsRefused() throws Exception {
        try (UsherInstance u = start(pg); Connection other = u.connect(MD5, "appdb"); WireClient w = new WireClient(u.port())) {
            w.loginTrust(TRUST, "appdb");
            w.send(ByteBuffer.allocate(5).put((byte) 'Q').putInt(1_000_000).array());
            WireClient.Message m = w.read();
            assertThat(m.type()).isEqualTo('E');
            assertThat(w.closedWithin(5000)).isTrue();
            assertThat(one(other, "SELECT 'fine'")).isEqualTo("fine");
        }
    }

    @Test
    void garbageStartupPacketIsRefused() throws Exception {
        try (UsherInstance u = start(pg); WireClient w = new WireClient(u.port())) {
            w.send(ByteBuffer.allocate(8).putInt(8).putInt(12345678).array());
            WireClient.Message m = w.read();
            assertThat(m.type()).isEqualTo('E');
            assertThat(m.fields().get('C')).isEqualTo("08P01");
            assertThat(w.closedWithin(5000)).isTrue();
        }
        try (UsherInstance u = start(pg); WireClient w = new WireClient(u.port())) {
            w.send(ByteBuffer.allocate(4).putInt(1_000_000).array()); // absurd length
            assertThat(w.read().type()).isEqualTo('E');
            assertThat(w.closedWithin(5000)).isTrue();
        }
    }

    @Test
    void sslAndGssRequestsAreAnsweredNo() throws Exception {
        try (UsherInstance u = start(pg); WireClient w = new WireClient(u.port())) {
            w.send(ByteBuffer.allocate(8).putInt(8).putInt(80877104).array());
            w.send(ByteBuffer.allocate(8).putInt(8).putInt(80877103).array());
            assertThat(w.readByte()).isEqualTo('N');
            assertThat(w.readByte()).isEqualTo('N');
            w.loginTrust(TRUST, "appdb");
        }
    }

    @Test
    void truncatedMessageThenDisconnectLeavesServerClean() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("default_pool_size", 1).start()) {
            try (WireClient w = new WireClient(u.port())) {
                w.loginTrust(TRUST, "appdb");
                w.send(WireClient.query("BEGIN"));
                w.readUntil('Z');
                byte[] q = WireClient.query("CREATE TEMP TABLE half_sent (x int)");
                w.send(java.util.Arrays.copyOf(q, q.length - 5)); // cut mid-message
            }
            try (Connection c = u.connect(TRUST, null, "appdb", new java.util.Properties())) {
                assertThat(one(c, "SELECT pg_current_xact_id_if_assigned() IS NULL")).isEqualTo("t");
                assertThat(one(c, "SELECT to_regclass('pg_temp.half_sent') IS NULL")).isEqualTo("t");
            }
        }
    }

    @Test
    void maxClientConnRefusesTheExtraClient() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("max_client_conn", 2).start();
             WireClient a = new WireClient(u.port()); WireClient b = new WireClient(u.port())) {
            a.loginTrust(TRUST, "appdb");
            b.loginTrust(TRUST, "appdb");
            WireClient c = new WireClient(u.port());
            c.send(WireClient.startupPacket(Map.of("user", TRUST, "database", "appdb")));
            WireClient.Message m = c.read();
            assertThat(m.type()).isEqualTo('E');
            assertThat(m.fields().get('C')).isEqualTo("53300");
            assertThat(m.fields().get('M')).isEqualTo("no more connections allowed (max_client_conn)");
            assertThat(c.closedWithin(5000)).isTrue();
            c.close();
            b.close();
            // a slot is free again once a client leaves
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> u.usher().clientCount() == 1);
            try (WireClient d = new WireClient(u.port())) {
                d.loginTrust(TRUST, "appdb");
            }
        }
    }

    @Test
    void clientThatNeverLogsInIsClosedAfterClientLoginTimeout() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("client_login_timeout", 1).start();
             WireClient w = new WireClient(u.port())) {
            long start = System.nanoTime();
            WireClient.Message m = w.read(); // sent nothing at all
            assertThat(m.type()).isEqualTo('E');
            assertThat(m.fields().get('M')).isEqualTo("client_login_timeout");
            assertThat((System.nanoTime() - start) / 1_000_000).isBetween(800L, 5000L);
            assertThat(w.closedWithin(3000)).isTrue();
        }
    }

    @Test
    void maxDbAndUserClientConnections() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust")
                .database("limited", "host=127.0.0.1 port=" + pg.port() + " dbname=appdb max_db_client_connections=1")
                .user(MD5, "max_user_client_connections=1").start();
             WireClient a = new WireClient(u.port()); WireClient b = new WireClient(u.port())) {
            a.loginTrust(TRUST, "limited");
            b.send(WireClient.startupPacket(Map.of("user", TRUST, "database", "limited")));
            WireClient.Message m = b.read();
            assertThat(m.fields().get('C')).isEqualTo("53300");
            assertThat(m.fields().get('M')).isEqualTo("client connections exceeded (max_db_client_connections)");
            try (WireClient c = new WireClient(u.port()); WireClient d = new WireClient(u.port())) {
                c.loginTrust(MD5, "appdb");
                d.send(WireClient.startupPacket(Map.of("user", MD5, "database", "otherdb")));
                assertThat(d.read().fields().get('M')).isEqualTo("client connections exceeded (max_user_client_connections)");
            }
            a.close();
            // the slot is given back when the client leaves
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).untilAsserted(() -> {
                try (WireClient e = new WireClient(u.port())) {
                    e.loginTrust(TRUST, "limited");
                }
            });
        }
    }

    // ---- every phase: startup, cancel, authentication, in a transaction, extended protocol, COPY, waiting ----

    /** Usher with md5 logins, one server, small max_packet_size. */
    private static UsherInstance onePool(PostgresCluster pg) {
        return UsherInstance.builder(pg).set("default_pool_size", 1).set("max_packet_size", 65536)
                .set("query_wait_timeout", 10).start();
    }

    /** Reads until an ErrorResponse; it must carry this SQLSTATE, and the connection must then be closed. */
    private static WireClient.Message expectErrorAndClose(WireClient w, String sqlState) throws Exception {
        WireClient.Message m = w.readUntil('E');
        assertThat(m.fields().get('C')).as("SQLSTATE of " + m.fields()).isEqualTo(sqlState);
        assertThat(w.closedWithin(5000)).as("closed after the error").isTrue();
        return m;
    }

    /** The one server of the pool is clean for the next client: no transaction, no temp table, no open COPY. */
    private static void assertNextClientGetsACleanServer(UsherInstance u) throws Exception {
        try (Connection c = u.connect(MD5, "appdb")) {
            assertThat(one(c, "SELECT pg_current_xact_id_if_assigned() IS NULL")).isEqualTo("t");
            assertThat(one(c, "SELECT count(*) FROM pg_class WHERE relpersistence = 't'")).isEqualTo("0");
            assertThat(one(c, "SELECT 'fine'")).isEqualTo("fine");
        }
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> u.usher().clientCount() == 0);
    }

    /** Logs in as u_md5 with its password (md5 exchange), up to ReadyForQuery. */
    private static void loginMd5(WireClient w) throws Exception {
        w.loginMd5(MD5, io.usher.testing.TestRoles.password(MD5), "appdb");
    }

    /** Logs in and opens a transaction that creates a temp table (a server left dirty unless Usher cleans it). */
    private static void loginInATransaction(WireClient w, String table) throws Exception {
        loginMd5(w);
        w.send(WireClient.query("BEGIN; CREATE TEMP TABLE " + table + " (x text); INSERT INTO " + table + " VALUES ('1')"));
        assertThat(w.readUntil('Z').payload()[0]).isEqualTo((byte) 'T');
    }

    @Test
    void startupPacketWithoutItsTerminatorOrOverTheLimitIsRefused() throws Exception {
        try (UsherInstance u = onePool(pg)) {
            try (WireClient w = new WireClient(u.port())) {
                // user=u_md5 with the value's NUL and the list's final NUL missing
                byte[] kv = "user\0u_md5".getBytes(java.nio.charset.StandardCharsets.UTF_8);
                w.send(ByteBuffer.allocate(8 + kv.length).putInt(8 + kv.length).putInt(196608).put(kv).array());
                expectErrorAndClose(w, "08P01");
            }
            try (WireClient w = new WireClient(u.port())) {
                // 10,001 bytes: one over PostgreSQL's MAX_STARTUP_PACKET_LENGTH, all of it sent
                ByteBuffer b = ByteBuffer.allocate(10001).putInt(10001).putInt(196608);
                w.send(b.array());
                expectErrorAndClose(w, "08P01");
            }
            assertNextClientGetsACleanServer(u);
        }
    }

    @Test
    void malformedCancelRequestsCancelNothing() throws Exception {
        try (UsherInstance u = onePool(pg); Connection busy = u.connect(MD5, "appdb")) {
            java.util.concurrent.CompletableFuture<String> sleeping = Sql.oneAsync(busy, "SELECT 'slept' FROM pg_sleep(1.5)");
            Thread.sleep(300);
            try (WireClient w = new WireClient(u.port())) {
                // a cancel request 4 bytes short
                w.send(ByteBuffer.allocate(12).putInt(12).putInt(80877102).putInt(1).array());
                assertThat(w.closedWithin(5000)).isTrue();
            }
            try (WireClient w = new WireClient(u.port())) {
                // well formed, a key nobody has
                w.send(ByteBuffer.allocate(16).putInt(16).putInt(80877102).putInt(12345).putInt(67890).array());
                assertThat(w.closedWithin(5000)).isTrue();
            }
            assertThat(sleeping.get(10, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("slept");
        }
    }

    @Test
    void badPasswordMessagesCloseTheLogin() throws Exception {
        try (UsherInstance u = onePool(pg)) {
            byte[] startup = WireClient.startupPacket(Map.of("user", MD5, "database", "appdb"));
            try (WireClient w = new WireClient(u.port())) {
                // a query where the password belongs
                w.send(startup);
                assertThat(w.read().type()).isEqualTo('R');
                w.send(WireClient.query("SELECT 1"));
                expectErrorAndClose(w, "08P01");
            }
            try (WireClient w = new WireClient(u.port())) {
                // a password message that says it is 100 MB long
                w.send(startup);
                assertThat(w.read().type()).isEqualTo('R');
                w.send(ByteBuffer.allocate(5).put((byte) 'p').putInt(100_000_000).array());
                expectErrorAndClose(w, "08P01");
            }
            try (WireClient w = new WireClient(u.port())) {
                // a password message with a length below its own header
                w.send(startup);
                assertThat(w.read().type()).isEqualTo('R');
                w.send(ByteBuffer.allocate(5).put((byte) 'p').putInt(3).array());
                expectErrorAndClose(w, "08P01");
            }
            try (WireClient w = new WireClient(u.port())) {
                // half a password message, then the client goes away
                w.send(startup);
                assertThat(w.read().type()).isEqualTo('R');
                w.send(ByteBuffer.allocate(7).put((byte) 'p').putInt(40).put((byte) 'm').put((byte) 'd').array());
            }
            assertNextClientGetsACleanServer(u);
        }
    }

    @Test
    void malformedAndOversizedMessagesInATransactionLeaveTheServerClean() throws Exception {
        try (UsherInstance u = onePool(pg)) {
            for (byte[] bad : List.of(WireClient.message('y', new byte[] {1}),
                    ByteBuffer.allocate(5).put((byte) 'Q').putInt(1_000_000).array(),
                    ByteBuffer.allocate(5).put((byte) 'Q').putInt(-7).array())) {
                try (WireClient w = new WireClient(u.port())) {
                    loginInATransaction(w, "t_bad");
                    w.send(bad);
                    expectErrorAndClose(w, "08P01");
                }
                assertNextClientGetsACleanServer(u);
            }
        }
    }

    @Test
    void malformedExtendedProtocolMidPipelineLeavesTheServerClean() throws Exception {
        try (UsherInstance u = onePool(pg); WireClient w = new WireClient(u.port())) {
            loginInATransaction(w, "t_pipe");
            // Parse of a named statement, then a Bind whose body is cut short (it says 1 parameter format code
            // and carries none), then Sync
            byte[] parse = WireClient.message('P', "s1\0SELECT $1::int\0\0\0".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            byte[] bind = WireClient.message('B', new byte[] {0, 's', '1', 0, 0, 1});
            byte[] sync = WireClient.message('S', new byte[0]);
            ByteBuffer all = ByteBuffer.allocate(parse.length + bind.length + sync.length).put(parse).put(bind).put(sync);
            w.send(all.array());
            WireClient.Message m = w.readUntil('E');
            System.out.println("malformed Bind: " + m.fields());
            assertThat(m.fields().get('C')).isEqualTo("08P01");
            // PostgreSQL reports it; the transaction is failed or gone; either way the client is done with it
            w.close();
            assertNextClientGetsACleanServer(u);
        }
    }

    @Test
    void oversizedCopyDataAbortsTheCopyAndLeavesTheServerClean() throws Exception {
        try (UsherInstance u = onePool(pg); WireClient w = new WireClient(u.port())) {
            loginInATransaction(w, "t_copy");
            w.send(WireClient.query("COPY t_copy FROM STDIN"));
            assertThat(w.readUntil('G').type()).isEqualTo('G');
            w.send(WireClient.message('d', "row 1\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            w.send(ByteBuffer.allocate(5).put((byte) 'd').putInt(10_000_000).array()); // over max_packet_size
            expectErrorAndClose(w, "08P01");
            assertNextClientGetsACleanServer(u);
        }
    }

    @Test
    void oversizedMessageWhileWaitingForAServerIsRefusedAtOnce() throws Exception {
        try (UsherInstance u = onePool(pg); Connection holder = u.connect(MD5, "appdb"); WireClient w = new WireClient(u.port())) {
            holder.setAutoCommit(false);
            assertThat(one(holder, "SELECT 'holding the one server'")).isNotNull();
            loginMd5(w);
            long t0 = System.nanoTime();
            w.send(ByteBuffer.allocate(5).put((byte) 'Q').putInt(10_000_000).array());
            expectErrorAndClose(w, "08P01");
            assertThat((System.nanoTime() - t0) / 1_000_000).as("ms to the refusal").isLessThan(3000);
            holder.rollback();
        }
        try (UsherInstance u = onePool(pg)) {
            assertNextClientGetsACleanServer(u);
        }
    }
}

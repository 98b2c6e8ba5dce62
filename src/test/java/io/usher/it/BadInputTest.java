package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.sql.Connection;
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
}

package io.usher.it;

import io.usher.server.DnsCache;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.usher.it.Sql.exec;
import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code host=a,b} lists with {@code load_balance_hosts}, failover to the next host within one
 * connection attempt, and host names through the DNS cache. Two real clusters share one port on
 * two loopback addresses (127.0.0.1 and 127.0.0.2), as two hosts of one list do; 127.0.0.3 on that
 * port has nobody listening.
 */
class HostListTest {
    private static final String DOWN = "127.0.0.3";
    private static PostgresCluster a;
    private static PostgresCluster b;

    @BeforeAll
    static void startClusters() {
        a = PostgresCluster.startNew();
        b = PostgresCluster.startNewOn("127.0.0.2", a.port());
    }

    @AfterAll
    static void stopClusters() {
        if (b != null) {
            b.close();
        }
        if (a != null) {
            a.close();
        }
    }

    private static UsherInstance.Builder usher(String hosts, String more) {
        return UsherInstance.builder(a).set("pool_mode", "session").set("default_pool_size", 10)
                .set("admin_users", "u_plain").userlist("u_plain", "plain_pw")
                .database(APPDB, "host=" + hosts + " port=" + a.port() + " dbname=appdb " + more);
    }

    /** The loopback address of the cluster a connection's server is on. */
    private static String serverAddress(Connection c) throws SQLException {
        return one(c, "SELECT host(inet_server_addr())");
    }

    /** Opens {@code n} sessions one after the other, each holding its own server; returns where each landed. */
    private static List<String> sessions(UsherInstance u, int n, List<Connection> keep) throws SQLException {
        List<String> where = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Connection c = u.connect(MD5, APPDB);
            keep.add(c);
            where.add(serverAddress(c));
        }
        return where;
    }

    private static void closeAll(List<Connection> connections) throws SQLException {
        for (Connection c : connections) {
            c.close();
        }
        connections.clear();
    }

    private static Connection console(UsherInstance u) throws SQLException {
        Properties p = new Properties();
        p.setProperty("preferQueryMode", "simple");
        return u.connect("u_plain", "plain_pw", "pgbouncer", p);
    }

    // round-robin (the default): each new server connection goes to the next host of the list
    @Test
    void roundRobinSpreadsNewServerConnectionsOverTheHosts() throws Exception {
        List<Connection> open = new ArrayList<>();
        try (UsherInstance u = usher("127.0.0.1,127.0.0.2", "").start()) {
            List<String> where = sessions(u, 6, open);
            System.out.println("round-robin: servers on " + where);
            assertThat(where).containsExactly("127.0.0.1", "127.0.0.2", "127.0.0.1", "127.0.0.2", "127.0.0.1",
                    "127.0.0.2");
            assertThat(a.backendCount(MD5, APPDB)).isEqualTo(3);
            assertThat(b.backendCount(MD5, APPDB)).isEqualTo(3);
        } finally {
            closeAll(open);
        }
    }

    // load_balance_hosts=disable: every server connection goes to the first host while it answers
    @Test
    void disableKeepsToTheFirstHostThatAnswers() throws Exception {
        List<Connection> open = new ArrayList<>();
        try (UsherInstance u = usher("127.0.0.2,127.0.0.1", "load_balance_hosts=disable").start()) {
            assertThat(sessions(u, 4, open)).containsOnly("127.0.0.2");
        } finally {
            closeAll(open);
        }
    }

    // a host that refuses connections costs no client anything, in either mode, wherever it is in the list
    @Test
    void aHostThatIsDownIsSkippedWithinTheSameLogin() throws Exception {
        for (String config : List.of("", "load_balance_hosts=disable")) {
            for (String hosts : List.of(DOWN + ",127.0.0.1", "127.0.0.1," + DOWN, DOWN + ",127.0.0.2," + DOWN)) {
                List<Connection> open = new ArrayList<>();
                try (UsherInstance u = usher(hosts, config).set("server_login_retry", 15).start()) {
                    List<String> where = sessions(u, 4, open);
                    assertThat(where).as("host=%s %s", hosts, config).doesNotContain(DOWN).hasSize(4);
                } finally {
                    closeAll(open);
                }
            }
        }
    }

    // a host that refuses the login for want of room (53300, as 08 and 57: "cannot take you now") hands the
    // attempt on; a refusal that would be the same everywhere (a password that is not accepted) does not
    @Test
    void loginRefusalsMoveOnOnlyWhenAnotherHostMayAccept() throws Exception {
        List<Connection> open = new ArrayList<>();
        try (UsherInstance u = usher("127.0.0.2,127.0.0.1", "load_balance_hosts=disable").start()) {
            b.execute("ALTER ROLE " + MD5 + " CONNECTION LIMIT 0");
            try {
                assertThat(sessions(u, 3, open)).containsOnly("127.0.0.1");
            } finally {
                b.execute("ALTER ROLE " + MD5 + " CONNECTION LIMIT -1");
                closeAll(open);
            }
        }
        try (UsherInstance u = usher("127.0.0.2,127.0.0.1", "load_balance_hosts=disable").start()) {
            b.execute("ALTER ROLE " + MD5 + " VALID UNTIL '2000-01-01'");
            try (Connection c = u.connect(MD5, APPDB)) {
                exec(c, "SELECT 1");
                throw new AssertionError("logged in although 127.0.0.2 refused the password");
            } catch (SQLException e) {
                System.out.println("password refused by the first host: " + e.getSQLState() + " " + e.getMessage());
                assertThat(e.getSQLState()).isEqualTo("28P01");
            } finally {
                b.execute("ALTER ROLE " + MD5 + " VALID UNTIL 'infinity'");
            }
        }
    }

    // a host name that does not resolve is skipped like a host that is down; SHOW DNS_HOSTS shows the cache
    @Test
    void aNameThatDoesNotResolveIsSkippedAndTheCacheIsShown() throws Exception {
        List<Connection> open = new ArrayList<>();
        try (UsherInstance u = usher("gone.test,db-a.test,db-b.test", "").set("dns_max_ttl", 30)
                .set("dns_nxdomain_ttl", 20).start()) {
            u.usher().pools().network().dns().lookupWith(fakeZone(Map.of("db-a.test", "127.0.0.1",
                    "db-b.test", "127.0.0.2")));
            List<String> where = sessions(u, 4, open);
            assertThat(new HashSet<>(where)).containsExactlyInAnyOrder("127.0.0.1", "127.0.0.2");
            try (Connection c = console(u); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SHOW DNS_HOSTS")) {
                List<String> rows = new ArrayList<>();
                while (rs.next()) {
                    long ttl = rs.getLong("ttl");
                    rows.add(rs.getString("hostname") + " " + rs.getString("addrs"));
                    assertThat(ttl).as("ttl of %s", rs.getString("hostname"))
                            .isBetween(1L, rs.getString("hostname").equals("gone.test") ? 20L : 30L);
                }
                assertThat(rows).containsExactly("db-a.test 127.0.0.1", "db-b.test 127.0.0.2", "gone.test ");
            }
        } finally {
            closeAll(open);
        }
    }

    private static DnsCache.Lookup fakeZone(Map<String, String> zone) {
        return name -> {
            String ip = zone.get(name);
            if (ip == null) {
                throw new UnknownHostException(name + ": Name or service not known");
            }
            return new InetAddress[] {InetAddress.getByName(ip)};
        };
    }

    // a host name that now points elsewhere: its servers are closed when released, new ones go to the new address
    @Test
    void serversFollowAChangedDnsAnswer() throws Exception {
        Map<String, String> zone = new ConcurrentHashMap<>(Map.of("db.test", "127.0.0.1"));
        try (UsherInstance u = usher("db.test", "").set("pool_mode", "transaction").set("dns_max_ttl", 1).start()) {
            u.usher().pools().network().dns().lookupWith(name -> fakeZone(zone).resolve(name));
            try (Connection c1 = u.connect(MD5, APPDB); Connection c2 = u.connect(MD5, APPDB)) {
                c1.setAutoCommit(false);
                assertThat(serverAddress(c1)).isEqualTo("127.0.0.1"); // c1 holds its server in a transaction
                zone.put("db.test", "127.0.0.2");
                Thread.sleep(1100); // dns_max_ttl passes
                assertThat(serverAddress(c2)).as("a new server looks the name up again").isEqualTo("127.0.0.2");
                c1.commit(); // the server on the old address is closed on release, not reused
                c1.setAutoCommit(true);
                assertThat(serverAddress(c1)).isEqualTo("127.0.0.2");
                assertThat(serverAddress(c2)).isEqualTo("127.0.0.2");
                await().atMost(Duration.ofSeconds(10)).until(() -> a.backendCount(MD5, APPDB) == 0);
            }
        }
    }

    // a cancel request goes to the host the query runs on, not to the first of the list
    @Test
    void cancelReachesTheHostTheServerIsOn() throws Exception {
        try (UsherInstance u = usher(DOWN + ",127.0.0.2", "").start(); Connection c = u.connect(MD5, APPDB)) {
            assertThat(serverAddress(c)).isEqualTo("127.0.0.2");
            try (Statement s = c.createStatement()) {
                CompletableFuture<String> sleeping = CompletableFuture.supplyAsync(() -> {
                    try {
                        s.execute("SELECT pg_sleep(30)");
                        return "finished";
                    } catch (SQLException e) {
                        return e.getSQLState();
                    }
                });
                await().atMost(Duration.ofSeconds(10)).until(() -> b.query(
                        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'")
                        .get(0).get(0).equals("1"));
                s.cancel();
                assertThat(sleeping.get(10, TimeUnit.SECONDS)).isEqualTo("57014");
            }
        }
    }

    // one of two hosts stops: every client is served by the other, without an error; when it is back it gets
    // new server connections again
    @Test
    void stoppingOneHostKeepsServiceUpThroughTheOther() throws Exception {
        List<Connection> open = new ArrayList<>();
        try (UsherInstance u = usher("127.0.0.1,127.0.0.2", "").set("server_login_retry", 1).start()) {
            assertThat(new HashSet<>(sessions(u, 2, open))).containsExactlyInAnyOrder("127.0.0.1", "127.0.0.2");
            closeAll(open);
            b.stop();
            try {
                List<String> where = sessions(u, 6, open);
                System.out.println("with 127.0.0.2 stopped: servers on " + where);
                assertThat(where).containsOnly("127.0.0.1");
                closeAll(open);
            } finally {
                b.start();
            }
            // the host is back: once server_login_retry has passed it takes its share of new servers again
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(500)).until(() -> {
                u.usher().pools().poolsOf(APPDB).forEach(io.usher.pool.Pool::reconnect); // no idle servers to reuse
                List<Connection> probe = new ArrayList<>();
                try {
                    Set<String> seen = new HashSet<>(sessions(u, 4, probe));
                    return seen.contains("127.0.0.2");
                } finally {
                    closeAll(probe);
                }
            });
        } finally {
            closeAll(open);
        }
    }

    // every host down: the client gets PgBouncer's error, not a hang
    @Test
    void allHostsDownGivesTheConnectError() throws Exception {
        try (UsherInstance u = usher(DOWN + ",127.0.0.4", "").start()) {
            long t0 = System.nanoTime();
            try (Connection c = u.connect(MD5, APPDB)) {
                exec(c, "SELECT 1");
                throw new AssertionError("connected with every host down");
            } catch (SQLException e) {
                System.out.println("every host down: " + e.getSQLState() + " " + e.getMessage());
                assertThat(e.getMessage()).contains("pgbouncer cannot connect to server");
                assertThat(e.getSQLState()).isEqualTo("08006");
            }
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(5000);
        }
    }
}

package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * target_session_attrs against a real primary (127.0.0.1) and its streaming standby (127.0.0.2, made
 * with pg_basebackup -R), both on one port as two hosts of a {@code host=a,b} list; 127.0.0.3 on that
 * port has nobody listening. Promotion is {@link FailoverTest}'s; these tests leave the pair as it was.
 */
class TargetSessionAttrsTest {
    private static final String PRIMARY = "127.0.0.1";
    private static final String STANDBY = "127.0.0.2";
    private static final String DOWN = "127.0.0.3";
    private static PostgresCluster primary;
    private static PostgresCluster standby;

    @BeforeAll
    static void startPair() {
        assumeThat(PostgresCluster.replicationBinDir()).as("PostgreSQL binaries with pg_basebackup").isPresent();
        primary = PostgresCluster.startPrimaryOn(PRIMARY, 0);
        standby = primary.startStandby(STANDBY, primary.port());
    }

    @AfterAll
    static void stopPair() {
        if (standby != null) {
            standby.close();
        }
        if (primary != null) {
            primary.close();
        }
    }

    private static UsherInstance.Builder usher(String hosts, String attrs) {
        return UsherInstance.builder(primary).set("pool_mode", "session").set("default_pool_size", 10)
                .set("server_role_check_period", 1)
                .database(APPDB, "host=" + hosts + " port=" + primary.port() + " dbname=appdb"
                        + (attrs == null ? "" : " target_session_attrs=" + attrs));
    }

    /** Opens {@code n} sessions, each holding its own server; returns the server address of each. */
    private static List<String> sessions(UsherInstance u, int n, List<Connection> keep) throws SQLException {
        List<String> where = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Connection c = u.connect(MD5, APPDB);
            keep.add(c);
            where.add(one(c, "SELECT host(inet_server_addr())"));
        }
        return where;
    }

    private static void closeAll(List<Connection> connections) throws SQLException {
        for (Connection c : connections) {
            c.close();
        }
        connections.clear();
    }

    // each value keeps new server connections on the servers of its role, whichever host the list names
    // first (round-robin would otherwise alternate); "any" is today's behaviour and uses both
    @Test
    void eachTargetKeepsToTheServersOfItsRole() throws Exception {
        String[][] cases = {{"primary", PRIMARY}, {"read-write", PRIMARY}, {"standby", STANDBY},
                {"read-only", STANDBY}, {"prefer-standby", STANDBY}};
        for (String hosts : List.of(PRIMARY + "," + STANDBY, STANDBY + "," + PRIMARY)) {
            for (String[] c : cases) {
                List<Connection> open = new ArrayList<>();
                try (UsherInstance u = usher(hosts, c[0]).start()) {
                    assertThat(sessions(u, 4, open)).as("host=%s target_session_attrs=%s", hosts, c[0])
                            .containsOnly(c[1]).hasSize(4);
                } finally {
                    closeAll(open);
                }
            }
        }
        List<Connection> open = new ArrayList<>();
        try (UsherInstance u = usher(PRIMARY + "," + STANDBY, null).start()) {
            assertThat(sessions(u, 4, open)).containsExactly(PRIMARY, STANDBY, PRIMARY, STANDBY);
        } finally {
            closeAll(open);
        }
    }

    // prefer-standby takes the primary when no standby answers (libpq's second pass); standby then has
    // nowhere to go, and says why rather than "cannot connect"
    @Test
    void preferStandbyFallsBackToThePrimaryAndStandbyFailsWithTheReason() throws Exception {
        List<Connection> open = new ArrayList<>();
        try (UsherInstance u = usher(DOWN + "," + PRIMARY, "prefer-standby").start()) {
            assertThat(sessions(u, 3, open)).containsOnly(PRIMARY).hasSize(3);
        } finally {
            closeAll(open);
        }
        try (UsherInstance u = usher(PRIMARY + "," + DOWN, "standby").start()) {
            assertThatThrownBy(() -> u.connect(MD5, APPDB)).isInstanceOf(SQLException.class)
                    .hasMessageContaining("fits target_session_attrs=standby")
                    .hasMessageContaining(PRIMARY + " is a primary");
        }
    }

    // a primary that turns read-only (default_transaction_read_only) is noticed by the periodic recheck:
    // idle connections to it are closed, a connection a client holds is closed when it is released, and
    // new connections find no read-write server until it is writable again
    @Test
    void serversThatNoLongerFitAreRetired() throws Exception {
        List<Connection> open = new ArrayList<>();
        try (UsherInstance u = usher(PRIMARY + "," + STANDBY, "read-write").set("query_wait_timeout", 2).start()) {
            assertThat(sessions(u, 3, open)).containsOnly(PRIMARY);
            Connection held = open.remove(0);
            closeAll(open); // two idle servers, one still linked to its client
            assertThat(primary.backendCount(MD5, APPDB)).isEqualTo(3);
            primary.execute("ALTER SYSTEM SET default_transaction_read_only = on");
            primary.execute("SELECT pg_reload_conf()");
            try {
                await().atMost(Duration.ofSeconds(15)).until(() -> primary.backendCount(MD5, APPDB) == 1);
                held.close();
                await().atMost(Duration.ofSeconds(5)).until(() -> primary.backendCount(MD5, APPDB) == 0);
                // the pool knows its parameters, so the login succeeds; the query waits for a server in vain
                try (Connection c = u.connect(MD5, APPDB)) {
                    assertThatThrownBy(() -> one(c, "SELECT 1")).isInstanceOf(SQLException.class)
                            .hasMessageContaining("query_wait_timeout");
                }
                assertThat(primary.backendCount(MD5, APPDB)).isZero();
            } finally {
                primary.execute("ALTER SYSTEM RESET default_transaction_read_only");
                primary.execute("SELECT pg_reload_conf()");
            }
            await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() -> {
                try (Connection c = u.connect(MD5, APPDB)) {
                    return PRIMARY.equals(one(c, "SELECT host(inet_server_addr())"));
                }
            });
        }
    }
}

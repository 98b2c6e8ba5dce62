package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.usher.it.Probes.awaitNoBackendsOfUser;
import static io.usher.it.Sql.one;
import static io.usher.it.Sql.pid;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** What clients see when PostgreSQL kills, restarts or stops under Usher, and that service comes back. */
class ServerFailureTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    private static void terminate(PostgresCluster cluster, int pid) {
        assertThat(cluster.query("SELECT pg_terminate_backend(" + pid + ")").get(0).get(0)).isEqualTo("t");
    }

    private static void awaitGone(PostgresCluster cluster, int pid) {
        await().atMost(Duration.ofSeconds(10))
                .until(() -> cluster.query("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid).get(0).get(0).equals("0"));
    }

    // a server killed while its client is in a transaction: that client gets an error and is disconnected;
    // the pool replaces the server for the next client
    @Test
    void serverKilledInTransactionFailsItsClientAndIsReplaced() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 1).start()) {
            Connection a = u.connect(MD5, APPDB);
            a.setAutoCommit(false);
            int killed = pid(a);
            terminate(pg, killed);
            awaitGone(pg, killed);
            SQLException e = assertThrows(SQLException.class, () -> one(a, "SELECT 1"));
            System.out.println("in-transaction client after pg_terminate_backend: " + e.getSQLState() + " " + e.getMessage());
            assertThat(a.isValid(2)).as("client of the killed server is disconnected").isFalse();
            a.close();
            try (Connection b = u.connect(MD5, APPDB)) {
                int replacement = pid(b);
                assertThat(replacement).isNotEqualTo(killed);
                assertThat(one(b, "SELECT 41 + 1")).isEqualTo("42");
            }
            assertThat(pg.backendCount(MD5, APPDB)).isEqualTo(1);
        }
    }

    // a killed IDLE server (transaction mode, between transactions, backend already gone) is not noticed:
    // the client's next query runs on a new server without any error
    @Test
    void killedIdleServerIsNotNoticedByTheNextQuery() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 1).start();
             Connection a = u.connect(MD5, APPDB)) {
            int killed = pid(a);
            terminate(pg, killed);
            awaitGone(pg, killed);
            int next = pid(a); // must not throw
            assertThat(next).isNotEqualTo(killed);
            try (Connection b = u.connect(MD5, APPDB)) {
                assertThat(pid(b)).isEqualTo(next);
            }
        }
    }

    // racing the kill (query sent right after pg_terminate_backend returns, before the backend has exited)
    // costs the client at most one error, and the pool recovers
    @Test
    void killedIdleServerRacingTheNextQueryCostsAtMostOneError() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        int errors = 0;
        int rounds = 5;
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 1).start()) {
            Connection a = u.connect(MD5, APPDB);
            for (int round = 0; round < rounds; round++) {
                int killed = pid(a);
                terminate(pg, killed);
                try {
                    assertThat(pid(a)).isNotEqualTo(killed);
                } catch (SQLException e) {
                    errors++;
                    System.out.println("round " + round + ": query right after the kill failed: " + e.getSQLState() + " " + e.getMessage());
                    a.close();
                    a = u.connect(MD5, APPDB);
                    assertThat(pid(a)).as("after one error the next client works").isNotEqualTo(killed);
                }
                awaitGone(pg, killed);
            }
            a.close();
        }
        // each round allows one error only: a failure of the reconnected client above fails the test
        System.out.println("queries that failed right after killing their idle server: " + errors + " of " + rounds);
    }

    // PostgreSQL restarted (fast) under a running Usher: new and existing clients work again without restarting Usher
    @Test
    void postgresRestartIsSurvived() throws Exception {
        try (PostgresCluster priv = PostgresCluster.startNew();
             UsherInstance u = UsherInstance.builder(priv).set("default_pool_size", 2).start()) {
            Connection old = u.connect(MD5, APPDB);
            int before = pid(old);
            priv.restart("fast");
            try (Connection fresh = u.connect(MD5, APPDB)) {
                assertThat(one(fresh, "SELECT 'after restart'")).isEqualTo("after restart");
                assertThat(pid(fresh)).isNotEqualTo(before);
            }
            // the client that was idle (between transactions) through the restart gets a new server too
            assertThat(one(old, "SELECT 7")).isEqualTo("7");
            old.close();
        }
    }

    // PostgreSQL stopped: a new client gets a clean error within seconds (no hang); service returns after start
    @Test
    void postgresStoppedGivesCleanErrorThenRecovers() throws Exception {
        try (PostgresCluster priv = PostgresCluster.startNew();
             UsherInstance u = UsherInstance.builder(priv).set("default_pool_size", 2)
                     .set("server_connect_timeout", 2).set("query_wait_timeout", 3).set("server_login_retry", 1).start()) {
            try (Connection warm = u.connect(MD5, APPDB)) {
                assertThat(one(warm, "SELECT 1")).isEqualTo("1");
            }
            priv.stop();
            long t0 = System.nanoTime();
            CompletableFuture<String> attempt = CompletableFuture.supplyAsync(() -> {
                try (Connection c = u.connect(MD5, APPDB)) {
                    return "unexpected success: " + one(c, "SELECT 1");
                } catch (SQLException e) {
                    return "error " + e.getSQLState() + ": " + e.getMessage();
                }
            });
            String outcome = attempt.get(20, TimeUnit.SECONDS);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            System.out.println("client while PostgreSQL is down, after " + ms + " ms: " + outcome);
            assertThat(outcome).startsWith("error");
            assertThat(ms).as("time to the error (ms)").isLessThan(8000);
            priv.start();
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(500)).ignoreExceptions().until(() -> {
                try (Connection c = u.connect(MD5, APPDB)) {
                    return one(c, "SELECT 'back'").equals("back");
                }
            });
            try (Connection c = u.connect(MD5, APPDB)) {
                assertThat(one(c, "SELECT 2")).isEqualTo("2");
            }
        }
    }
}

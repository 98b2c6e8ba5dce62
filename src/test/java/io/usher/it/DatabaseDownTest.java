package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A database that is down when clients come: they get PgBouncer's errors at once, and service returns
 * by itself once PostgreSQL is back, without restarting Usher. (ServerFailureTest covers a pool that
 * was already in use when PostgreSQL went away.)
 */
class DatabaseDownTest {

    private static String outcome(UsherInstance u) {
        try (Connection c = u.connect(MD5, APPDB)) {
            return "ok " + one(c, "SELECT 'up'");
        } catch (SQLException e) {
            return e.getSQLState() + " " + e.getMessage();
        }
    }

    @Test
    void clientsGetPgBouncersErrorsWhileDownAndServiceReturnsWhenUp() throws Exception {
        try (PostgresCluster pg = PostgresCluster.startNew();
             UsherInstance u = UsherInstance.builder(pg).set("server_login_retry", 2).start()) {
            pg.stop();

            long t0 = System.nanoTime();
            String first = outcome(u);
            long firstMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            System.out.println("first client while down (" + firstMs + " ms): " + first);
            assertThat(first).isEqualTo("08006 FATAL: pgbouncer cannot connect to server");
            assertThat(firstMs).isLessThan(5000);

            // within server_login_retry the next client gets the cached error without a new attempt
            String second = outcome(u);
            System.out.println("next client while down: " + second);
            assertThat(second).isEqualTo("08006 FATAL: server login has been failing, cached error: "
                    + "pgbouncer cannot connect to server (server_login_retry)");

            pg.start();
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(300))
                    .until(() -> outcome(u).equals("ok up"));
            try (Connection c = u.connect(MD5, APPDB)) {
                assertThat(one(c, "SELECT 40 + 2")).isEqualTo("42");
            }
            assertThat(u.usher().readinessProblem()).isNull();
        }
    }

    // stopped while a client sits in a transaction: that client gets an error and is disconnected, a new
    // client gets a clean error, and both kinds work again after the start
    @Test
    void stopDuringATransactionThenStartAgain() throws Exception {
        try (PostgresCluster pg = PostgresCluster.startNew();
             UsherInstance u = UsherInstance.builder(pg).set("server_login_retry", 1)
                     .set("query_wait_timeout", 3).start()) {
            Connection inTx = u.connect(MD5, APPDB);
            inTx.setAutoCommit(false);
            assertThat(one(inTx, "SELECT 1")).isEqualTo("1");
            pg.stop();
            String broken;
            try {
                broken = "ok " + one(inTx, "SELECT 2");
            } catch (SQLException e) {
                broken = e.getSQLState() + " " + e.getMessage();
            }
            System.out.println("client in a transaction when PostgreSQL stopped: " + broken);
            assertThat(broken).doesNotStartWith("ok");
            assertThat(inTx.isValid(2)).isFalse();
            inTx.close();

            String fresh = outcome(u);
            System.out.println("new client while stopped: " + fresh);
            assertThat(fresh).startsWith("08006 FATAL: ").containsAnyOf("pgbouncer cannot connect to server",
                    "query_wait_timeout");

            pg.start();
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(300))
                    .until(() -> outcome(u).equals("ok up"));
        }
    }
}

package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static io.usher.it.Probes.awaitNoBackendsOfUser;
import static io.usher.it.Probes.backendsOfUser;
import static io.usher.it.Probes.backendsOnDatabase;
import static io.usher.it.Sql.one;
import static io.usher.it.Sql.pid;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.OTHERDB;
import static io.usher.testing.TestRoles.TRUST;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

/** Server connection limits: pool size, per-database and per-user caps, reserve pool, min pool, wait timeout. */
class LimitsTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    /** One busy client: its own connection, {@code iterations} short sleeping queries; returns how many ran. */
    private static Future<Integer> busyClient(ExecutorService ex, UsherInstance u, String user, String db,
                                              int iterations, double sleepSeconds) {
        return ex.submit(() -> {
            try (Connection c = u.connect(user, db)) {
                for (int i = 0; i < iterations; i++) {
                    assertThat(one(c, "SELECT " + i + " FROM pg_sleep(" + sleepSeconds + ")")).isEqualTo(String.valueOf(i));
                }
            }
            return iterations;
        });
    }

    private static void awaitAll(List<Future<Integer>> futures, int iterations) throws Exception {
        for (Future<Integer> f : futures) {
            assertThat(f.get(60, TimeUnit.SECONDS)).isEqualTo(iterations);
        }
    }

    // default_pool_size caps the server connections of one (database, user) pool while more clients are busy
    @Test
    void defaultPoolSizeCapsServersOfOnePool() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        ExecutorService ex = Executors.newFixedThreadPool(8);
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 3).start();
             Probes.MaxSampler sampler = new Probes.MaxSampler(() -> pg.backendCount(MD5, APPDB), Duration.ofSeconds(60), 20)) {
            List<Future<Integer>> fs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                fs.add(busyClient(ex, u, MD5, APPDB, 4, 0.2));
            }
            awaitAll(fs, 4);
            int max = sampler.stop();
            assertThat(max).as("most backends PostgreSQL saw for u_md5/appdb (pool size 3)").isEqualTo(3);
        } finally {
            ex.shutdownNow();
        }
    }

    // max_db_connections caps servers across the pools of one database; both users' queries all complete
    @Test
    void maxDbConnectionsCapsServersAcrossUsersOfOneDatabase() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        awaitNoBackendsOfUser(pg, TRUST);
        ExecutorService ex = Executors.newFixedThreadPool(6);
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 5).set("max_db_connections", 2)
                .set("query_wait_timeout", 10).start();
             Probes.MaxSampler sampler = new Probes.MaxSampler(() -> backendsOnDatabase(pg, APPDB, MD5, TRUST),
                     Duration.ofSeconds(60), 20)) {
            List<Future<Integer>> fs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                fs.add(busyClient(ex, u, MD5, APPDB, 5, 0.1));
            }
            // u_md5 takes both of the database's slots first; u_trust's clients arrive while it is busy
            await().atMost(Duration.ofSeconds(10)).until(() -> pg.backendCount(MD5, APPDB) == 2);
            for (int i = 0; i < 3; i++) {
                fs.add(busyClient(ex, u, TRUST, APPDB, 5, 0.1));
            }
            Throwable failure = catchThrowable(() -> awaitAll(fs, 5));
            int max = sampler.stop();
            assertThat(max).as("most backends on appdb for u_md5 + u_trust (max_db_connections 2)").isBetween(1, 2);
            assertThat(failure).as("every client's queries complete").isNull();
        } finally {
            ex.shutdownNow();
        }
    }

    // with max_db_connections reached by idle servers of one pool, another pool's client still gets a server
    // (PgBouncer evicts an idle server of the database: evict_connection in objects.c)
    @Test
    void maxDbConnectionsEvictsIdleServerOfAnotherPool() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        awaitNoBackendsOfUser(pg, TRUST);
        ExecutorService ex = Executors.newFixedThreadPool(2);
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 5).set("max_db_connections", 2)
                .set("query_wait_timeout", 10).start()) {
            // u_md5 fills the database's two slots, then its servers sit idle in its pool
            awaitAll(List.of(busyClient(ex, u, MD5, APPDB, 1, 0.5), busyClient(ex, u, MD5, APPDB, 1, 0.5)), 1);
            assertThat(pg.backendCount(MD5, APPDB)).isEqualTo(2);
            long t0 = System.nanoTime();
            try (Connection c = u.connect(TRUST, APPDB)) {
                assertThat(one(c, "SELECT current_user")).isEqualTo(TRUST);
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(ms).as("u_trust waited (ms) for a server on a database full of idle u_md5 servers").isLessThan(3000);
            assertThat(backendsOnDatabase(pg, APPDB, MD5, TRUST)).isLessThanOrEqualTo(2);
        } finally {
            ex.shutdownNow();
        }
    }

    // max_user_connections caps one user's servers across databases; all queries on both databases complete
    @Test
    void maxUserConnectionsCapsServersAcrossDatabases() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        ExecutorService ex = Executors.newFixedThreadPool(6);
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 5).set("max_user_connections", 2)
                .set("query_wait_timeout", 10).start();
             Probes.MaxSampler sampler = new Probes.MaxSampler(() -> backendsOfUser(pg, MD5), Duration.ofSeconds(60), 20)) {
            List<Future<Integer>> fs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                fs.add(busyClient(ex, u, MD5, APPDB, 5, 0.1));
            }
            // the appdb pool takes both of the user's slots first; otherdb's clients arrive while it is busy
            await().atMost(Duration.ofSeconds(10)).until(() -> pg.backendCount(MD5, APPDB) == 2);
            for (int i = 0; i < 3; i++) {
                fs.add(busyClient(ex, u, MD5, OTHERDB, 5, 0.1));
            }
            Throwable failure = catchThrowable(() -> awaitAll(fs, 5));
            int max = sampler.stop();
            assertThat(max).as("most backends of u_md5 over appdb + otherdb (max_user_connections 2)").isBetween(1, 2);
            assertThat(failure).as("every client's queries complete").isNull();
        } finally {
            ex.shutdownNow();
        }
    }

    // reserve_pool_size/reserve_pool_timeout: a second concurrent transaction gets an extra server only after the timeout
    @Test
    void reservePoolOpensAnExtraServerAfterReservePoolTimeout() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 1).set("reserve_pool_size", 1)
                .set("reserve_pool_timeout", "0.5").start();
             Connection a = u.connect(MD5, APPDB);
             Connection b = u.connect(MD5, APPDB);
             Connection c = u.connect(MD5, APPDB)) {
            a.setAutoCommit(false);
            int aPid = pid(a); // a holds the pool's only regular server in an open transaction
            b.setAutoCommit(false);
            long t0 = System.nanoTime();
            int bPid = pid(b);
            long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(bPid).isNotEqualTo(aPid);
            assertThat(waitedMs).as("b's wait for a reserve server (ms)").isBetween(450L, 2500L);
            assertThat(pg.backendCount(MD5, APPDB)).isEqualTo(2);
            // pool + reserve are both in use: a third transaction waits, no third server is opened
            CompletableFuture<Integer> cPid = CompletableFuture.supplyAsync(() -> {
                try {
                    return pid(c);
                } catch (SQLException e) {
                    throw new RuntimeException(e);
                }
            });
            assertThatThrownBy(() -> cPid.get(1500, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
            assertThat(pg.backendCount(MD5, APPDB)).isEqualTo(2);
            a.commit();
            assertThat(cPid.get(5, TimeUnit.SECONDS)).isIn(aPid, bPid);
            b.commit();
        }
    }

    // min_pool_size: after a pool's first client, the pool fills up to min_pool_size servers while the client idles
    @Test
    void minPoolSizePrewarmsServersAfterFirstClient() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 5).set("min_pool_size", 3).start()) {
            Thread.sleep(500);
            assertThat(pg.backendCount(MD5, APPDB)).as("no pool before its first client").isZero();
            try (Connection c = u.connect(MD5, APPDB)) {
                assertThat(one(c, "SELECT 1")).isEqualTo("1");
                // the client now idles; the janitor opens servers up to min_pool_size
                await().atMost(Duration.ofSeconds(10)).until(() -> pg.backendCount(MD5, APPDB) == 3);
                Thread.sleep(1000);
                assertThat(pg.backendCount(MD5, APPDB)).as("no more than min_pool_size while idle").isEqualTo(3);
            }
        }
    }

    // query_wait_timeout: a query waiting for a server longer than the timeout fails with "query_wait_timeout"
    @Test
    void queryWaitTimeoutFailsAWaitingQuery() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 1).set("query_wait_timeout", 1).start();
             Connection holder = u.connect(MD5, APPDB);
             Connection waiter = u.connect(MD5, APPDB)) {
            holder.setAutoCommit(false);
            pid(holder); // holds the only server in an open transaction
            long t0 = System.nanoTime();
            SQLException e = org.junit.jupiter.api.Assertions.assertThrows(SQLException.class, () -> one(waiter, "SELECT 1"));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(e.getMessage()).contains("query_wait_timeout");
            assertThat(e.getSQLState()).as("SQLSTATE class 08 (connection exception)").startsWith("08");
            assertThat(ms).as("time until query_wait_timeout (ms)").isBetween(900L, 3000L);
            assertThat(waiter.isValid(2)).as("the waiting client is disconnected").isFalse();
            // the holder is unaffected
            assertThat(one(holder, "SELECT 2")).isEqualTo("2");
            holder.commit();
        }
    }
}

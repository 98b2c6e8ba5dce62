package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static io.usher.it.Sql.exec;
import static io.usher.it.Sql.one;
import static io.usher.it.Sql.pid;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.SCRAM2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Session, transaction and statement pooling with PgBouncer's semantics. */
class PoolModesTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    @Test
    void sessionModeKeepsOneServerPerClientUntilDisconnect() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "session").set("default_pool_size", 1).start()) {
            Connection a = u.connect(MD5, "appdb");
            int aPid = pid(a);
            exec(a, "SET work_mem = '7MB'");
            Connection b = u.connect(MD5, "appdb"); // login is answered from the pool's cached parameters
            CompletableFuture<Integer> bPid = Sql.pidAsync(b);
            assertThatThrownBy(() -> bPid.get(800, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
            assertThat(one(a, "SHOW work_mem")).isEqualTo("7MB");
            assertThat(pid(a)).isEqualTo(aPid);
            a.close();
            assertThat(bPid.get(5, TimeUnit.SECONDS)).isEqualTo(aPid);
            // server_reset_query (DISCARD ALL) ran between the two clients
            assertThat(one(b, "SHOW work_mem")).isEqualTo("4MB");
            b.close();
        }
    }

    @Test
    void transactionModeReleasesAtCommitAndHoldsDuringTransaction() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "transaction").set("default_pool_size", 1).start();
             Connection a = u.connect(MD5, "appdb");
             Connection b = u.connect(MD5, "appdb")) {
            a.setAutoCommit(false);
            int aPid = pid(a);
            CompletableFuture<Integer> bPid = Sql.pidAsync(b);
            assertThatThrownBy(() -> bPid.get(800, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
            a.commit();
            assertThat(bPid.get(5, TimeUnit.SECONDS)).isEqualTo(aPid);
            a.setAutoCommit(true);
            for (int i = 0; i < 5; i++) {
                assertThat(pid(a)).isEqualTo(aPid);
                assertThat(pid(b)).isEqualTo(aPid);
            }
        }
    }

    @Test
    void transactionModeManyClientsShareASmallPool() throws Exception {
        int poolSize = 3;
        int clients = 40;
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "transaction").set("default_pool_size", poolSize).start()) {
            ExecutorService ex = Executors.newFixedThreadPool(clients);
            Set<Integer> pids = ConcurrentHashMap.newKeySet();
            AtomicInteger maxBackends = new AtomicInteger();
            List<Future<?>> fs = new ArrayList<>();
            for (int k = 0; k < clients; k++) {
                int id = k;
                fs.add(ex.submit(() -> {
                    try (Connection c = u.connect(SCRAM2, "scram2_pw", "appdb", new java.util.Properties())) {
                        for (int i = 0; i < 10; i++) {
                            int v = Integer.parseInt(one(c, "SELECT " + (id * 1000 + i) + " FROM pg_sleep(0.002)"));
                            assertThat(v).isEqualTo(id * 1000 + i);
                            pids.add(pid(c));
                            maxBackends.accumulateAndGet(pg.backendCount(SCRAM2, "appdb"), Math::max);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(60, TimeUnit.SECONDS);
            }
            ex.shutdown();
            assertThat(pids).hasSizeBetween(1, poolSize);
            assertThat(maxBackends.get()).isLessThanOrEqualTo(poolSize);
        }
    }

    @Test
    void statementModeRefusesTransactionBlocksAndKeepsServing() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "statement").set("default_pool_size", 1).start()) {
            try (Connection c = u.connect(MD5, "appdb")) {
                c.setAutoCommit(false);
                assertThatThrownBy(() -> one(c, "SELECT 1"))
                        .hasMessageContaining("transaction blocks not allowed in statement pooling mode");
            }
            try (Connection a = u.connect(MD5, "appdb"); Connection b = u.connect(MD5, "appdb")) {
                int p = pid(a);
                assertThat(pid(b)).isEqualTo(p);
                assertThat(pid(a)).isEqualTo(p);
            }
        }
    }

    @Test
    void clientLeavingMidTransactionDoesNotDirtyTheServer() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "transaction").set("default_pool_size", 1).start()) {
            Connection a = u.connect(MD5, "appdb");
            a.setAutoCommit(false);
            exec(a, "CREATE TEMP TABLE IF NOT EXISTS leak_probe (x int)");
            exec(a, "INSERT INTO leak_probe VALUES (1)");
            a.abort(Runnable::run); // drops the socket: no COMMIT, no Terminate
            try (Connection b = u.connect(MD5, "appdb")) {
                assertThat(one(b, "SELECT to_regclass('pg_temp.leak_probe') IS NULL")).isEqualTo("t");
                assertThat(one(b, "SELECT pg_current_xact_id_if_assigned() IS NULL")).isEqualTo("t");
            }
        }
    }

    @Test
    void usersSectionPoolModeOverridesGlobalAndDatabaseOverridesGlobal() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "session").set("default_pool_size", 1)
                .user(MD5, "pool_mode=transaction")
                .database("tx", "host=127.0.0.1 port=" + pg.port() + " dbname=appdb pool_mode=transaction")
                .start()) {
            try (Connection a = u.connect(MD5, "appdb"); Connection b = u.connect(MD5, "appdb")) {
                assertThat(pid(b)).isEqualTo(pid(a)); // would block in session mode
            }
            try (Connection a = u.connect(SCRAM2, "scram2_pw", "tx", new java.util.Properties());
                 Connection b = u.connect(SCRAM2, "scram2_pw", "tx", new java.util.Properties())) {
                assertThat(pid(b)).isEqualTo(pid(a));
            }
        }
    }

    @Test
    void waitingClientsAreServedInArrivalOrder() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "transaction").set("default_pool_size", 1).start();
             Connection holder = u.connect(MD5, "appdb")) {
            exec(holder, "CREATE SEQUENCE IF NOT EXISTS fifo_probe");
            long base = Long.parseLong(one(holder, "SELECT nextval('fifo_probe')"));
            holder.setAutoCommit(false);
            pid(holder); // holds the only server
            List<Connection> cs = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                cs.add(u.connect(MD5, "appdb"));
            }
            long[] served = new long[5];
            List<Thread> ts = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                int id = i;
                Thread t = new Thread(() -> {
                    try {
                        // the sequence shows the order in which the server ran the waiting queries
                        served[id] = Long.parseLong(one(cs.get(id), "SELECT nextval('fifo_probe')"));
                    } catch (SQLException e) {
                        served[id] = -1;
                    }
                });
                t.start();
                ts.add(t);
                Thread.sleep(150); // arrive in a known order
            }
            holder.commit();
            for (Thread t : ts) {
                t.join(10_000);
            }
            assertThat(served).containsExactly(base + 1, base + 2, base + 3, base + 4, base + 5);
            for (Connection c : cs) {
                c.close();
            }
        }
    }

    @Test
    void serverResetQueryIsTheConfiguredOne() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "session").set("default_pool_size", 1)
                .set("server_reset_query", "RESET ALL").start()) {
            int p;
            try (Connection a = u.connect(MD5, "appdb")) {
                p = pid(a);
                exec(a, "SET work_mem = '7MB'");
                exec(a, "CREATE TEMP TABLE reset_probe (x int)");
            }
            try (Connection b = u.connect(MD5, "appdb")) {
                assertThat(pid(b)).isEqualTo(p);
                assertThat(one(b, "SHOW work_mem")).isEqualTo("4MB");
                assertThat(one(b, "SELECT to_regclass('pg_temp.reset_probe') IS NOT NULL")).isEqualTo("t");
            }
        }
    }
}

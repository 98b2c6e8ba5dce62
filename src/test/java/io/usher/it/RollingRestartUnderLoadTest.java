package io.usher.it;

import io.usher.ShutdownMode;
import io.usher.testing.LoopbackPorts;
import io.usher.testing.PostgresCluster;
import io.usher.testing.TestRoles;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two Ushers on one port (so_reuseport), each restarted in turn (SIGTERM's WAIT_FOR_CLIENTS, then a
 * new instance on the port) while short-lived clients connect, run one transaction and leave. Every
 * connection Usher accepts is served to the end; what Linux does with connections still queued on
 * the closing listener depends on net.ipv4.tcp_migrate_req (0: reset; 1: handed to the sibling).
 *
 * <p>Bounded: {@code usher.rolling.seconds} (default 12) of load and at most
 * {@code usher.rolling.maxConnections} (default 20000) connections, from {@code usher.rolling.threads}
 * (default 8) threads. Prints the figures; scripts/rolling-restart.sh runs it with either setting.
 */
class RollingRestartUnderLoadTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    /** What the load saw: counts by outcome, and the first message of each kind of failure. */
    static final class Tally {
        final AtomicLong attempts = new AtomicLong();
        final AtomicLong connected = new AtomicLong();
        final AtomicLong committed = new AtomicLong();
        final AtomicLong failedConnections = new AtomicLong();
        final AtomicLong failedTransactions = new AtomicLong();
        final Map<String, AtomicInteger> failures = new ConcurrentHashMap<>();

        void failure(String kind, SQLException e) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            String key = kind + ": " + e.getSQLState() + " " + e.getMessage() + " / " + root;
            failures.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        }

        @Override
        public String toString() {
            return "connections " + attempts + " (failed " + failedConnections + "), transactions " + connected
                    + " (committed " + committed + ", failed " + failedTransactions + ")" + (failures.isEmpty() ? "" : ", failures " + failures);
        }
    }

    private static int migrateReq() {
        try {
            return Integer.parseInt(Files.readString(Path.of("/proc/sys/net/ipv4/tcp_migrate_req")).trim());
        } catch (Exception e) {
            return -1;
        }
    }

    /** One short-lived client: connect, one transaction, disconnect. */
    private static void oneClient(String url, Properties props, int n, Tally t) {
        t.attempts.incrementAndGet();
        Connection c;
        try {
            c = DriverManager.getConnection(url, props);
        } catch (SQLException e) {
            t.failedConnections.incrementAndGet();
            t.failure("connect", e);
            return;
        }
        t.connected.incrementAndGet();
        try (c) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("INSERT INTO rolling_restart_log(n) VALUES (" + n + ")");
            }
            c.commit();
            t.committed.incrementAndGet();
        } catch (SQLException e) {
            t.failedTransactions.incrementAndGet();
            t.failure("transaction", e);
        }
    }

    /** Restarts {@code old} as SIGTERM does: stop accepting, serve its clients until they leave, then a new one. */
    private static UsherInstance restart(UsherInstance old, UsherInstance.Builder config) throws InterruptedException {
        CountDownLatch drained = new CountDownLatch(1);
        old.usher().onShutdownRequest(drained::countDown);
        old.usher().shutdown(ShutdownMode.WAIT_FOR_CLIENTS);
        assertThat(drained.await(30, TimeUnit.SECONDS)).as("the old instance's clients all left").isTrue();
        old.close();
        return config.start();
    }

    @Test
    void restartingEachInstanceInTurnUnderLoadFailsNothingUsherAccepted() throws Exception {
        int seconds = Integer.getInteger("usher.rolling.seconds", 12);
        long maxConnections = Long.getLong("usher.rolling.maxConnections", 20_000);
        int threads = Integer.getInteger("usher.rolling.threads", 8);
        try (Connection su = pg.connect(pg.superuser(), pg.superuserPassword(), "appdb"); Statement s = su.createStatement()) {
            s.execute("DROP TABLE IF EXISTS rolling_restart_log");
            s.execute("CREATE TABLE rolling_restart_log(n bigint)");
            s.execute("GRANT ALL ON rolling_restart_log TO " + MD5);
        }

        int port = LoopbackPorts.pickFree();
        UsherInstance.Builder config = UsherInstance.builder(pg).set("listen_port", port).set("so_reuseport", 1)
                .set("default_pool_size", 4).set("max_client_conn", 1000).set("listen_backlog", 128);
        Properties props = UsherInstance.clientProperties(MD5, TestRoles.password(MD5));
        props.setProperty("connectTimeout", "10");
        String url = "jdbc:postgresql://127.0.0.1:" + port + "/appdb";

        Tally t = new Tally();
        UsherInstance[] fleet = {config.start(), config.start()};
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        AtomicLong numbers = new AtomicLong();
        ExecutorService load = Executors.newFixedThreadPool(threads);
        List<java.util.concurrent.Future<?>> workers = new ArrayList<>();
        int restarts = 0;
        try {
            for (int i = 0; i < threads; i++) {
                workers.add(load.submit(() -> {
                    long n;
                    while (System.nanoTime() - deadline < 0 && (n = numbers.incrementAndGet()) <= maxConnections) {
                        oneClient(url, props, (int) n, t);
                    }
                }));
            }
            // restart A, then B, then A again ... one at a time, while the load runs
            Thread.sleep(1500);
            for (int i = 0; System.nanoTime() - deadline < -TimeUnit.SECONDS.toNanos(2); i = (i + 1) % 2) {
                fleet[i] = restart(fleet[i], config);
                restarts++;
                Thread.sleep(1000);
            }
            for (java.util.concurrent.Future<?> w : workers) {
                w.get(seconds + 60L, TimeUnit.SECONDS);
            }
        } finally {
            load.shutdownNow();
            for (UsherInstance u : fleet) {
                u.close();
            }
        }
        long rows;
        try (Connection su = pg.connect(pg.superuser(), pg.superuserPassword(), "appdb")) {
            rows = Long.parseLong(Sql.one(su, "SELECT count(*) FROM rolling_restart_log"));
        }
        int migrate = migrateReq();
        System.out.printf("rolling restart: net.ipv4.tcp_migrate_req=%d, %d restarts in %d s, %d threads: %s; rows committed %d%n",
                migrate, restarts, seconds, threads, t, rows);

        assertThat(restarts).as("restarts during the load").isGreaterThanOrEqualTo(2);
        // a low bar: on a machine busy with other work a 12 s run may see only a few hundred clients
        assertThat(t.attempts.get()).as("clients run").isGreaterThanOrEqualTo(20);
        // every connection Usher accepted was served: no transaction failed, none was refused by Usher
        assertThat(t.failedTransactions.get()).as("failed transactions; " + t).isZero();
        assertThat(t.committed.get()).isEqualTo(rows).isEqualTo(t.connected.get());
        assertThat(t.failures.keySet()).as("no connection was refused by Usher itself (no 'shutting down')")
                .noneMatch(k -> k.contains("shutting down") || k.contains("08P01") || k.contains("57P01"));
        if (migrate == 1) {
            assertThat(t.failedConnections.get()).as("with tcp_migrate_req=1 no connection is lost; " + t).isZero();
        }
    }
}

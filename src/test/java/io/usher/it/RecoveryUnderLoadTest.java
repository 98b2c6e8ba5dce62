package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * PostgreSQL restarted (fast, immediate), crashed (a backend killed with SIGKILL) and its backends
 * terminated while 24 clients write through Usher. Every write a client saw acknowledged must be in
 * the table exactly once, nothing a client never sent may be there, transactions stay whole, and new
 * work succeeds after each disruption.
 */
class RecoveryUnderLoadTest {
    private static final int CLIENTS = 24;
    private static PostgresCluster pg;
    private static long T0;

    @BeforeAll
    static void cluster() throws SQLException {
        pg = PostgresCluster.startNew();
        try (Connection c = pg.connect(pg.superuser(), pg.superuserPassword(), APPDB); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE ledger (client int NOT NULL, seq int NOT NULL, part int NOT NULL)");
            s.execute("GRANT ALL ON ledger TO " + MD5);
        }
    }

    @AfterAll
    static void stop() {
        if (pg != null) {
            pg.close();
        }
    }

    /** What one client sent: per seq, acknowledged or in doubt (an error came back, or none). */
    private static final class Outcomes {
        final Set<Integer> acked = ConcurrentHashMap.newKeySet();
        final Set<Integer> inDoubt = ConcurrentHashMap.newKeySet();
        final Map<Integer, Long> ackTime = new ConcurrentHashMap<>();
    }

    @Test
    void writesSurviveRestartsCrashesAndKilledBackends() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 8).set("min_pool_size", 4)
                .set("server_login_retry", 1).set("query_wait_timeout", 60).start()) {
            Map<Integer, Outcomes> outcomes = new ConcurrentHashMap<>();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong acks = new AtomicLong();
            AtomicLong errors = new AtomicLong();
            ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
            List<Future<?>> workers = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            long t0 = System.nanoTime();
            T0 = t0;
            for (int id = 0; id < CLIENTS; id++) {
                int client = id;
                Outcomes o = new Outcomes();
                outcomes.put(client, o);
                workers.add(pool.submit(() -> {
                    Connection c = null;
                    for (int seq = 0; seq < 200_000 && !stop.get() && System.nanoTime() < deadline; seq++) {
                        try {
                            if (c == null) {
                                // pgjdbc's defaults: named server-side statements after 5 uses (its
                                // INSERT, and its own BEGIN and COMMIT), tracked by Usher
                                c = u.connect(MD5, APPDB);
                            }
                            write(c, client, seq);
                            o.acked.add(seq);
                            o.ackTime.put(seq, (System.nanoTime() - t0) / 1_000_000);
                            acks.incrementAndGet();
                        } catch (SQLException e) {
                            o.inDoubt.add(seq);
                            if (errors.incrementAndGet() < 40) {
                                System.out.println("ERR t=" + (System.nanoTime() - t0) / 1_000_000 + " client " + client
                                        + " seq " + seq + ": " + e.getSQLState() + " " + e.getMessage());
                            }
                            c = closeIfBroken(c);
                            sleep(50);
                        }
                    }
                    closeIfBroken(c);
                    if (c != null) {
                        c.close();
                    }
                    return null;
                }));
            }
            List<String> log = new ArrayList<>();
            try {
                awaitProgress(acks, 200, "before any disruption", log);
                pg.restart("fast");
                awaitProgress(acks, 200, "after a fast restart", log);
                pg.restart("immediate");
                awaitProgress(acks, 200, "after an immediate restart", log);
                pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + MD5 + "'");
                awaitProgress(acks, 200, "after pg_terminate_backend of every server", log);
                crashABackend();
                awaitProgress(acks, 200, "after a backend crashed (SIGKILL, PostgreSQL reinitialized)", log);
                pg.restart("fast");
                awaitProgress(acks, 200, "after a second fast restart", log);
                pg.restart("immediate");
                awaitProgress(acks, 200, "after a second immediate restart", log);
            } finally {
                stop.set(true);
                for (Future<?> w : workers) {
                    w.get(60, TimeUnit.SECONDS);
                }
                pool.shutdownNow();
            }
            log.forEach(System.out::println);
            System.out.println("recovery under load: " + acks.get() + " acknowledged writes, " + errors.get() + " errors");

            Map<Integer, Map<Integer, Integer>> rows = readLedger();
            int lost = 0;
            int doubled = 0;
            int phantom = 0;
            int torn = 0;
            for (int client = 0; client < CLIENTS; client++) {
                Outcomes o = outcomes.get(client);
                Map<Integer, Integer> present = rows.getOrDefault(client, Map.of());
                for (int seq : o.acked) {
                    if (!present.containsKey(seq)) {
                        lost++;
                        System.out.println("LOST client " + client + " seq " + seq + " acked at " + o.ackTime.get(seq)
                                + " ms; inDoubt neighbours: " + o.inDoubt.stream().filter(x -> Math.abs(x - seq) < 5).toList());
                    }
                }
                for (Map.Entry<Integer, Integer> e : present.entrySet()) {
                    int expectedParts = parts(client);
                    if (e.getValue() > expectedParts) {
                        doubled++;
                    } else if (e.getValue() < expectedParts) {
                        torn++;
                    }
                    if (!o.acked.contains(e.getKey()) && !o.inDoubt.contains(e.getKey())) {
                        phantom++;
                    }
                }
            }
            assertThat(lost).as("acknowledged writes missing").isZero();
            assertThat(doubled).as("writes applied twice").isZero();
            assertThat(torn).as("transactions applied in part").isZero();
            assertThat(phantom).as("rows no client sent").isZero();
            // errors only for work in flight: a handful per client per disruption, not a storm
            assertThat(errors.get()).as("errors seen by clients").isLessThan(CLIENTS * 6L * 4);
            // the pool refills to min_pool_size once PostgreSQL is back
            await().atMost(Duration.ofSeconds(15)).until(() -> pg.backendCount(MD5, APPDB) >= 4);
        }
    }

    /** Odd clients write two rows in one transaction, even clients one row with autocommit. */
    private static int parts(int client) {
        return client % 2 == 1 ? 2 : 1;
    }

    private static void write(Connection c, int client, int seq) throws SQLException {
        boolean tx = parts(client) == 2;
        c.setAutoCommit(!tx);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO ledger VALUES (?, ?, ?)")) {
            for (int part = 0; part < parts(client); part++) {
                ps.setInt(1, client);
                ps.setInt(2, seq);
                ps.setInt(3, part);
                ps.executeUpdate();
            }
        }
        if (tx) {
            c.commit();
        }
    }

    private static Connection closeIfBroken(Connection c) {
        if (c == null) {
            return null;
        }
        try {
            if (c.isValid(2)) {
                if (!c.getAutoCommit()) {
                    c.rollback();
                }
                return c;
            }
            c.close();
        } catch (SQLException e) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // already gone
            }
        }
        return null;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void awaitProgress(AtomicLong acks, long more, String when, List<String> log) {
        long start = System.nanoTime();
        log.add("t=" + (start - T0) / 1_000_000 + " ms: " + when);
        long from = acks.get();
        await(when).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .until(() -> acks.get() >= from + more);
        log.add(String.format("%s: %d more writes acknowledged within %d ms", when, more,
                (System.nanoTime() - start) / 1_000_000));
    }

    /** SIGKILL to one backend: PostgreSQL's postmaster then ends every backend and reinitializes. */
    private static void crashABackend() throws Exception {
        // a backend may exit between the query and the kill: try the next one
        for (List<String> pid : pg.query("SELECT pid FROM pg_stat_activity WHERE usename = '" + MD5 + "'")) {
            Process kill = new ProcessBuilder("kill", "-9", pid.get(0)).redirectErrorStream(true).start();
            if (kill.waitFor() == 0) {
                return;
            }
        }
        throw new AssertionError("no backend of " + MD5 + " to kill");
    }

    /** client -> seq -> number of rows. */
    private static Map<Integer, Map<Integer, Integer>> readLedger() throws SQLException {
        Map<Integer, Map<Integer, Integer>> rows = new HashMap<>();
        try (Connection c = pg.connect(pg.superuser(), pg.superuserPassword(), APPDB); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT client, seq, count(*) FROM ledger GROUP BY client, seq")) {
            while (r.next()) {
                rows.computeIfAbsent(r.getInt(1), k -> new HashMap<>()).put(r.getInt(2), r.getInt(3));
            }
        }
        return rows;
    }
}

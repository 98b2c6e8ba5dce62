package io.usher.it;

import io.usher.ShutdownMode;
import io.usher.testing.PostgresCluster;
import io.usher.testing.TestRoles;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Each shutdown mode under load keeps its promise, then ends Usher. */
class ShutdownUnderLoadTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    // WAIT_FOR_CLIENTS: 50 clients run their work to the end without an error; Usher ends after the last leaves
    @Test
    void waitForClientsServesEveryClientToTheEnd() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 5).start()) {
            CountDownLatch stopped = new CountDownLatch(1);
            u.usher().onShutdownRequest(stopped::countDown);
            AtomicLong answered = new AtomicLong();
            AtomicLong lastClientLeft = new AtomicLong();
            ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
            CountDownLatch running = new CountDownLatch(50);
            ExecutorService threads = Executors.newFixedThreadPool(50);
            List<Future<?>> clients = new ArrayList<>();
            for (int id = 0; id < 50; id++) {
                int client = id;
                clients.add(threads.submit(() -> {
                    try (Connection c = u.connect(MD5, APPDB)) {
                        running.countDown();
                        for (int i = 0; i < 60; i++) {
                            if (!one(c, "SELECT " + (client * 1000 + i)).equals(String.valueOf(client * 1000 + i))) {
                                errors.add("wrong answer");
                            }
                            answered.incrementAndGet();
                            Thread.sleep(5);
                        }
                    } catch (Exception e) {
                        running.countDown();
                        errors.add(e.toString());
                    }
                    lastClientLeft.accumulateAndGet(System.nanoTime(), Math::max);
                    return null;
                }));
            }
            assertThat(running.await(60, TimeUnit.SECONDS)).isTrue();
            u.usher().shutdown(ShutdownMode.WAIT_FOR_CLIENTS);
            assertThat(u.usher().accepting()).isFalse();
            for (Future<?> f : clients) {
                f.get(120, TimeUnit.SECONDS);
            }
            threads.shutdownNow();
            assertThat(stopped.await(10, TimeUnit.SECONDS)).isTrue();
            long stoppedAt = System.nanoTime();
            assertThat(errors).isEmpty();
            assertThat(answered.get()).isEqualTo(50 * 60);
            assertThat(stoppedAt).isGreaterThanOrEqualTo(lastClientLeft.get());
        }
    }

    // WAIT_FOR_SERVERS: a transaction already running commits; a client is refused only when it asks for a
    // server anew ("pooler is shutting down" on the first statement), never in the middle of a transaction
    @Test
    void waitForServersLetsRunningTransactionsCommit() throws Exception {
        String table = "shutdown_ledger";
        try (Connection su = pg.connect(pg.superuser(), pg.superuserPassword(), APPDB); Statement s = su.createStatement()) {
            s.execute("DROP TABLE IF EXISTS " + table);
            s.execute("CREATE TABLE " + table + " (client int, seq int)");
            s.execute("GRANT ALL ON " + table + " TO " + MD5);
        }
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 8).start()) {
            CountDownLatch stopped = new CountDownLatch(1);
            u.usher().onShutdownRequest(stopped::countDown);
            Set<String> committed = ConcurrentHashMap.newKeySet();
            AtomicLong refusedAtStart = new AtomicLong();
            ConcurrentLinkedQueue<String> brokenPromises = new ConcurrentLinkedQueue<>();
            AtomicLong commits = new AtomicLong();
            ExecutorService threads = Executors.newFixedThreadPool(30);
            List<Future<?>> clients = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            for (int id = 0; id < 30; id++) {
                int client = id;
                clients.add(threads.submit(() -> {
                    Properties p = new Properties();
                    p.setProperty("prepareThreshold", "0");
                    try (Connection c = u.connect(MD5, TestRoles.password(MD5), APPDB, p)) {
                        c.setAutoCommit(false);
                        for (int seq = 0; seq < 100_000 && System.nanoTime() < deadline; seq++) {
                            int step = 0;
                            try (PreparedStatement ins = c.prepareStatement("INSERT INTO " + table + " VALUES (?, ?)")) {
                                ins.setInt(1, client);
                                ins.setInt(2, seq);
                                ins.executeUpdate();
                                step = 1;
                                one(c, "SELECT pg_sleep(0.01)");
                                step = 2;
                                c.commit();
                                committed.add(client + ":" + seq);
                                commits.incrementAndGet();
                            } catch (SQLException e) {
                                if (step == 0 && e.getMessage().contains("pooler is shutting down")) {
                                    refusedAtStart.incrementAndGet();
                                } else {
                                    brokenPromises.add("client " + client + " seq " + seq + " step " + step + ": " + e);
                                }
                                return null;
                            }
                        }
                    }
                    return null;
                }));
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> commits.get() >= 200);
            u.usher().shutdown(ShutdownMode.WAIT_FOR_SERVERS);
            for (Future<?> f : clients) {
                f.get(120, TimeUnit.SECONDS);
            }
            threads.shutdownNow();
            assertThat(stopped.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(brokenPromises).isEmpty();
            assertThat(refusedAtStart.get()).as("every client is refused once it asks again").isEqualTo(30);
            Set<String> present = new java.util.HashSet<>();
            try (Connection su = pg.connect(pg.superuser(), pg.superuserPassword(), APPDB); Statement s = su.createStatement();
                 java.sql.ResultSet r = s.executeQuery("SELECT client || ':' || seq FROM " + table)) {
                while (r.next()) {
                    present.add(r.getString(1));
                }
            }
            assertThat(present).as("acknowledged commits in the table").containsAll(committed);
            assertThat(present).as("nothing but acknowledged commits").hasSameSizeAs(committed);
            System.out.println("WAIT_FOR_SERVERS under load: " + committed.size() + " commits, "
                    + refusedAtStart.get() + " clients refused at a transaction's start, none mid-transaction");
        } finally {
            try (Connection su = pg.connect(pg.superuser(), pg.superuserPassword(), APPDB); Statement s = su.createStatement()) {
                s.execute("DROP TABLE IF EXISTS " + table);
            }
        }
    }
}

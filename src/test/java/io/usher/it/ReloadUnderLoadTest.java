package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;

/** RELOAD while 500 clients run queries: pool sizes and a database entry change, and no query is lost. */
class ReloadUnderLoadTest {
    private static final int CLIENTS = 500;
    private static final int QUERIES_PER_CLIENT = 40;
    private final PostgresCluster pg = PostgresCluster.shared();

    @Test
    void reloadWhile500ClientsQueryLosesNothing() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("max_client_conn", 1000).set("default_pool_size", 10)
                .set("query_wait_timeout", 120).start()) {
            Path ini = u.dir().resolve("pgbouncer.ini");
            String original = Files.readString(ini);
            AtomicLong answered = new AtomicLong();
            ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
            CountDownLatch connected = new CountDownLatch(CLIENTS);
            ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
            List<Future<?>> clients = new ArrayList<>();
            for (int id = 0; id < CLIENTS; id++) {
                int client = id;
                clients.add(threads.submit(() -> {
                    try (Connection c = u.connect(MD5, "appdb")) {
                        connected.countDown();
                        connected.await(60, TimeUnit.SECONDS);
                        for (int i = 0; i < QUERIES_PER_CLIENT; i++) {
                            String want = client + ":" + i;
                            String got = one(c, "SELECT '" + want + "'");
                            if (!want.equals(got)) {
                                errors.add("client " + client + " asked for " + want + ", got " + got);
                            }
                            answered.incrementAndGet();
                            Thread.sleep(5);
                        }
                    } catch (Exception e) {
                        connected.countDown();
                        errors.add("client " + client + ": " + e);
                    }
                    return null;
                }));
            }
            assertThat(connected.await(90, TimeUnit.SECONDS)).isTrue();
            // five reloads while the clients run: the pool size moves, and appdb's entry changes (its servers are
            // replaced as they are released)
            String[] variants = {
                original.replace("default_pool_size = 10", "default_pool_size = 14"),
                original.replace("default_pool_size = 10", "default_pool_size = 6")
                        .replace("dbname=appdb", "dbname=appdb application_name=reloaded"),
                original.replace("default_pool_size = 10", "default_pool_size = 12"),
                original,
                original.replace("dbname=appdb", "dbname=appdb application_name=again"),
            };
            for (String v : variants) {
                long before = answered.get();
                Files.writeString(ini, v);
                assertThat(u.usher().reload()).as("reload error").isNull();
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> answered.get() > before + 500
                        || answered.get() == (long) CLIENTS * QUERIES_PER_CLIENT);
            }
            for (Future<?> f : clients) {
                f.get(120, TimeUnit.SECONDS);
            }
            threads.shutdownNow();
            assertThat(errors).as("errors or wrong answers").isEmpty();
            assertThat(answered.get()).isEqualTo((long) CLIENTS * QUERIES_PER_CLIENT);
            // the biggest pool size any reload set bounds what PostgreSQL saw
            assertThat(pg.backendCount(MD5, "appdb")).isLessThanOrEqualTo(14);
            System.out.println("reload under load: " + answered.get() + " queries answered, 5 reloads, 0 errors");
        }
    }
}

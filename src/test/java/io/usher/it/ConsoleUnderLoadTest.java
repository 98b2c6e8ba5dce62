package io.usher.it;

import io.usher.testing.PostgresCluster;
import io.usher.testing.ProcessResult;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Every console command from psql while clients run queries: each answers, and no client sees an error. */
class ConsoleUnderLoadTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    private static final List<String> SHOWS = List.of("HELP", "VERSION", "CONFIG", "DATABASES", "POOLS", "USERS",
            "STATE", "STATS", "STATS_TOTALS", "STATS_AVERAGES", "TOTALS", "CLIENTS", "SERVERS", "SOCKETS",
            "ACTIVE_SOCKETS", "LISTS", "PEERS", "PEER_POOLS", "DNS_HOSTS", "DNS_ZONES", "MEM", "FDS");

    /** Control commands that leave running clients unharmed (KILL is tested on its own). */
    private static final List<String> CONTROLS = List.of("PAUSE appdb", "RESUME appdb", "RECONNECT appdb",
            "WAIT_CLOSE appdb", "RELOAD", "SET default_pool_size = 4", "DISABLE otherdb", "ENABLE otherdb",
            "PAUSE", "RESUME", "RECONNECT", "SET query_wait_timeout = 30");

    @Test
    void everyConsoleCommandFromPsqlUnderLoad() throws Exception {
        assumeTrue(PostgresCluster.findClientTool("psql").isPresent(), "psql not installed");
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 3).set("admin_users", "u_scram2")
                .userlist("u_scram2", "scram2_pw").start()) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong queries = new AtomicLong();
            ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
            ExecutorService load = Executors.newFixedThreadPool(16);
            List<Future<?>> workers = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            for (int t = 0; t < 16; t++) {
                workers.add(load.submit(() -> {
                    try (Connection c = u.connect(MD5, "appdb")) {
                        for (int i = 0; i < 1_000_000 && !stop.get() && System.nanoTime() < deadline; i++) {
                            if (!one(c, "SELECT " + i).equals(String.valueOf(i))) {
                                errors.add("wrong answer");
                            }
                            queries.incrementAndGet();
                        }
                    } catch (Exception e) {
                        errors.add(e.toString());
                    }
                    return null;
                }));
            }
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> queries.get() > 200);
            try {
                for (String show : SHOWS) {
                    ProcessResult r = psql(u, "SHOW " + show);
                    assertThat(r.exitCode()).as("SHOW " + show + ": " + r.stderr()).isZero();
                    if (!show.equals("PEERS") && !show.equals("PEER_POOLS") && !show.startsWith("DNS_")) {
                        assertThat(r.stdout() + r.stderr()).as("SHOW " + show).isNotBlank();
                    }
                }
                for (String control : CONTROLS) {
                    long before = queries.get();
                    ProcessResult r = psql(u, control);
                    assertThat(r.exitCode()).as(control + ": " + r.stderr()).isZero();
                    // clients keep getting answers after each command
                    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> queries.get() > before + 50);
                }
                ProcessResult pools = psql(u, "SHOW POOLS");
                String row = pools.stdout().lines().filter(l -> l.startsWith("appdb|u_md5|")).findFirst().orElseThrow();
                String[] f = row.split("\\|", -1);
                // the 16 clients are active or waiting; the pool never has more than its size (now 4) servers in use
                assertThat(Integer.parseInt(f[2]) + Integer.parseInt(f[3])).as(row).isEqualTo(16);
                assertThat(Integer.parseInt(f[6])).as(row).isBetween(1, 4);
            } finally {
                stop.set(true);
                for (Future<?> w : workers) {
                    w.get(30, TimeUnit.SECONDS);
                }
                load.shutdownNow();
            }
            assertThat(errors).as("errors seen by the clients").isEmpty();
            assertThat(queries.get()).isGreaterThan(200);
            System.out.println("console under load: " + queries.get() + " queries, 0 errors");
        }
    }

    private ProcessResult psql(UsherInstance u, String command) {
        return pg.runClient(Duration.ofSeconds(30), Map.of("PGPASSWORD", "scram2_pw"), "psql", "-h", "127.0.0.1",
                "-p", String.valueOf(u.port()), "-U", "u_scram2", "-X", "-A", "-t", "pgbouncer", "-c", command);
    }
}

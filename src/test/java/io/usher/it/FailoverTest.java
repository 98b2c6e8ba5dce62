package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.usher.it.Sql.exec;
import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.SCRAM;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * A failover under Usher without a config change: the primary (127.0.0.1) dies, its streaming
 * standby (127.0.0.2, same port, made with pg_basebackup -R) is promoted, and writes through Usher
 * (target_session_attrs=read-write) go on on the new primary, while the standby-only entry retires
 * its connections to the server that is no longer a standby. Prints the failover time: from the
 * promote command to the first write committed through Usher on the new primary.
 */
class FailoverTest {
    private static final String OLD_PRIMARY = "127.0.0.1";
    private static final String NEW_PRIMARY = "127.0.0.2";
    /** Bounds of the writer: it stops at whichever comes first. */
    private static final Duration WRITER_LIMIT = Duration.ofSeconds(90);
    private static final int MAX_WRITES = 5_000;

    private PostgresCluster primary;
    private PostgresCluster standby;

    /** One write attempt of the writer: when it ended, and where it committed (null: it failed). */
    record Write(long endNanos, String server, String error) {}

    @BeforeEach
    void startPair() {
        assumeThat(PostgresCluster.replicationBinDir()).as("PostgreSQL binaries with pg_basebackup").isPresent();
        primary = PostgresCluster.startPrimaryOn(OLD_PRIMARY, 0);
        try (Connection c = primary.connect(primary.superuser(), primary.superuserPassword(), APPDB)) {
            exec(c, "CREATE TABLE failover_probe(id bigserial PRIMARY KEY, at timestamptz DEFAULT now())");
            exec(c, "GRANT ALL ON failover_probe, failover_probe_id_seq TO " + MD5);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        standby = primary.startStandby(NEW_PRIMARY, primary.port());
    }

    @AfterEach
    void stopPair() {
        if (standby != null) {
            standby.close();
        }
        if (primary != null) {
            primary.close();
        }
    }

    @Test
    void writesMoveToThePromotedStandbyAndStandbyConnectionsAreRetired() throws Exception {
        String hosts = "host=" + OLD_PRIMARY + "," + NEW_PRIMARY + " port=" + primary.port() + " dbname=appdb";
        try (UsherInstance u = UsherInstance.builder(primary).set("pool_mode", "transaction")
                .set("default_pool_size", 4).set("server_login_retry", 1).set("server_role_check_period", 1)
                .set("query_wait_timeout", 5)
                .database(APPDB, hosts + " target_session_attrs=read-write")
                .database("reads", hosts + " target_session_attrs=standby").start()) {
            // reads go to the standby and leave idle servers there
            try (Connection r = u.connect(SCRAM, "reads")) {
                assertThat(one(r, "SELECT host(inet_server_addr())")).isEqualTo(NEW_PRIMARY);
            }
            assertThat(standby.backendCount(SCRAM, APPDB)).isPositive();

            long deadline = System.nanoTime() + WRITER_LIMIT.toNanos();
            List<Write> writes = new CopyOnWriteArrayList<>();
            ExecutorService pool = Executors.newSingleThreadExecutor();
            Future<?> writer = pool.submit(() -> write(u, writes, deadline));
            try {
                await().atMost(Duration.ofSeconds(20)).failFast(() -> writes.stream().anyMatch(w -> w.error != null))
                        .until(() -> writes.stream().filter(w -> w.server != null).count() >= 5);
                assertThat(writes).allSatisfy(w -> assertThat(w.server).isEqualTo(OLD_PRIMARY));

                long crash = System.nanoTime();
                primary.crash();
                long promote = System.nanoTime();
                standby.promote();
                long promoted = System.nanoTime();
                await().atMost(Duration.ofSeconds(60))
                        .until(() -> writes.stream().anyMatch(w -> NEW_PRIMARY.equals(w.server) && w.endNanos > promote));
                Write first = writes.stream().filter(w -> NEW_PRIMARY.equals(w.server)).findFirst().orElseThrow();
                // the writer goes on a little on the new primary, so that "after the first" means something
                await().atMost(Duration.ofSeconds(30))
                        .until(() -> writes.stream().filter(w -> NEW_PRIMARY.equals(w.server)).count() >= 20);
                long failed = writes.stream().filter(w -> w.server == null).count();
                System.out.println(String.format("FAILOVER: promote->first write on new primary %d ms (pg_ctl promote -w"
                                + " took %d ms, crash->first write %d ms); writes %d, failed %d",
                        ms(first.endNanos - promote), ms(promoted - promote), ms(first.endNanos - crash), writes.size(),
                        failed));
                assertThat(ms(first.endNanos - promote)).as("failover time, ms").isLessThan(15_000);
                assertThat(writes).filteredOn(w -> w.endNanos > first.endNanos)
                        .allSatisfy(w -> assertThat(w.server).as(w.error).isEqualTo(NEW_PRIMARY));
            } finally {
                writer.cancel(true);
                pool.shutdownNow();
                assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
            }
            try (Connection c = standby.connect(standby.superuser(), standby.superuserPassword(), APPDB)) {
                assertThat(Long.parseLong(one(c, "SELECT count(*) FROM failover_probe")))
                        .isGreaterThanOrEqualTo(writes.stream().filter(w -> NEW_PRIMARY.equals(w.server)).count());
            }

            // the standby-only entry's servers now sit on a primary: retired, and nothing fits any more
            await().atMost(Duration.ofSeconds(15)).until(() -> standby.backendCount(SCRAM, APPDB) == 0);
            try (Connection r = u.connect(SCRAM, "reads")) {
                assertThatThrownBy(() -> one(r, "SELECT 1")).isInstanceOf(SQLException.class)
                        .hasMessageContaining("query_wait_timeout");
            }
            assertThat(standby.backendCount(SCRAM, APPDB)).isZero();
        }
    }

    /** Short-lived clients, one write each, until the deadline or MAX_WRITES; 20 ms apart. */
    private static void write(UsherInstance u, List<Write> writes, long deadline) {
        while (System.nanoTime() < deadline && writes.size() < MAX_WRITES && !Thread.currentThread().isInterrupted()) {
            try (Connection c = u.connect(MD5, APPDB)) {
                String server = one(c, "INSERT INTO failover_probe DEFAULT VALUES RETURNING host(inet_server_addr())");
                writes.add(new Write(System.nanoTime(), server, null));
            } catch (SQLException e) {
                writes.add(new Write(System.nanoTime(), null, e.getSQLState() + " " + e.getMessage()));
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }
}

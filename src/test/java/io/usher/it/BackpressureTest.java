package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static io.usher.it.Probes.awaitNoBackendsOfUser;
import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A client that stops reading a huge result makes Usher stop reading the server, instead of buffering the result. */
class BackpressureTest {
    private static final int ROWS = 300_000;
    private static final int WIDTH = 1000;
    private static final String BIG_QUERY = "SELECT repeat('x', " + WIDTH + ") FROM generate_series(1, " + ROWS + ")";
    private static final long MB = JvmMemory.MB;

    private final PostgresCluster pg = PostgresCluster.shared();

    // a ~300 MB result to a client that reads nothing is not buffered in Usher; other clients are served meanwhile;
    // the stalled client later gets every row
    @Test
    void slowReaderDoesNotMakeUsherBufferTheResult() throws Exception {
        awaitNoBackendsOfUser(pg, MD5);
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("default_pool_size", 4).start();
             Connection other = u.connect(MD5, APPDB);
             WireClient slow = new WireClient(u.port())) {
            assertThat(one(other, "SELECT 1")).isEqualTo("1");
            slow.loginTrust(MD5, APPDB);
            JvmMemory before = JvmMemory.now();

            slow.send(WireClient.query(BIG_QUERY));
            // PostgreSQL ends up blocked writing to Usher: Usher stopped reading its server
            await().atMost(Duration.ofSeconds(30)).until(() -> pg.query("SELECT count(*) FROM pg_stat_activity"
                    + " WHERE usename = '" + MD5 + "' AND query LIKE 'SELECT repeat%' AND state = 'active'"
                    + " AND wait_event = 'ClientWrite'").get(0).get(0).equals("1"));
            Thread.sleep(3000); // and reads nothing for a few seconds more

            // another client gets answers normally meanwhile
            long t0 = System.nanoTime();
            assertThat(one(other, "SELECT 40 + 2")).isEqualTo("42");
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("other client's query (ms)").isLessThan(3000);

            JvmMemory during = JvmMemory.now();
            long growth = during.growthSince(before);
            System.out.println("before: " + before + "\nstalled: " + during + "\ngrowth: " + growth / MB + " MB");
            assertThat(growth).as("memory growth while the client reads nothing (bytes); result is ~%d MB", ROWS * (long) WIDTH / MB)
                    .isLessThan(32 * MB);

            // now read everything: all rows arrive intact, then the client goes on working
            long rows = 0;
            String complete = null;
            while (true) {
                WireClient.Message m = slow.read();
                if (m.type() == 'D') {
                    ByteBuffer p = ByteBuffer.wrap(m.payload());
                    assertThat(p.getShort()).isEqualTo((short) 1);
                    assertThat(p.getInt()).isEqualTo(WIDTH);
                    rows++;
                } else if (m.type() == 'C') {
                    complete = m.text().trim();
                } else if (m.type() == 'E') {
                    throw new AssertionError("error instead of rows: " + m.fields());
                } else if (m.type() == 'Z') {
                    break;
                }
            }
            assertThat(rows).isEqualTo(ROWS);
            assertThat(complete).startsWith("SELECT " + ROWS);
            slow.send(WireClient.query("SELECT 'still here'"));
            assertThat(slow.readUntil('D').text()).contains("still here");
            assertThat(slow.readUntil('Z').payload()[0]).isEqualTo((byte) 'I');
            System.out.println("after: " + JvmMemory.now());
        }
    }
}

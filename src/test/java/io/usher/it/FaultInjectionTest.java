package io.usher.it;

import io.usher.pool.Pool;
import io.usher.testing.FaultProxy;
import io.usher.testing.FaultProxy.Side;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static io.usher.it.Probes.awaitNoBackendsOfUser;
import static io.usher.it.Probes.backendsOfUser;
import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.OTHERDB;
import static io.usher.testing.TestRoles.password;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Network faults injected by a {@link FaultProxy} between Usher and PostgreSQL ("server side") and between
 * clients and Usher ("client side"), while two groups of {@link TokenClients} run: four connected straight
 * to Usher (database otherdb, a pool of its own) and four through the client-side proxy (appdb); both pools'
 * servers go through the server-side proxy. For each fault:
 * <ul>
 * <li>every client operation ends (result or error) within the configured timeouts: none hangs;</li>
 * <li>no client ever gets another's token;</li>
 * <li>once the fault is lifted the pool recovers by itself: every operation started after a short grace
 * succeeds;</li>
 * <li>faults on the client side cost the clients that go straight to Usher (another pool) nothing. (Clients
 * of the same pool may wait: a client cut off in a transaction holds its server until query_timeout.)</li>
 * <li>afterwards PostgreSQL's backends of the test user (pg_stat_activity) go back to the baseline, 0, as
 * server_idle_timeout closes the idle servers: no server connection leaked, by Usher or behind the proxy.</li>
 * </ul>
 */
class FaultInjectionTest {
    /** Usher's timeouts, small: query_timeout, query_wait_timeout, server_connect_timeout (seconds). */
    private static final double QUERY_TIMEOUT = 1.5;
    private static final double QUERY_WAIT_TIMEOUT = 2;
    private static final double CONNECT_TIMEOUT = 1;
    /** The longest any one operation (connect included) may take: the timeouts above plus slack. */
    private static final long OP_BOUND_MS = 7000;
    /** pgjdbc's own socket timeout, the hang detector: far above OP_BOUND_MS. */
    private static final int CLIENT_SOCKET_TIMEOUT_S = 30;
    private static final int POOL_SIZE = 4;

    private final PostgresCluster pg = PostgresCluster.shared();
    private FaultProxy serverSide;
    private FaultProxy clientSide;
    private UsherInstance usher;

    @BeforeEach
    void start() {
        awaitNoBackendsOfUser(pg, MD5);
        serverSide = FaultProxy.start(pg.port());
        usher = UsherInstance.builder(pg)
                .database(APPDB, "host=127.0.0.1 port=" + serverSide.port() + " dbname=appdb")
                .database(OTHERDB, "host=127.0.0.1 port=" + serverSide.port() + " dbname=otherdb")
                .set("default_pool_size", POOL_SIZE)
                .set("query_timeout", QUERY_TIMEOUT)
                .set("query_wait_timeout", QUERY_WAIT_TIMEOUT)
                .set("server_connect_timeout", CONNECT_TIMEOUT)
                .set("server_login_retry", 0.5)
                .set("server_idle_timeout", 0.5)
                .set("client_login_timeout", 3)
                .start();
        clientSide = FaultProxy.start(usher.port());
    }

    @AfterEach
    void stop() {
        if (clientSide != null) {
            clientSide.close();
        }
        if (usher != null) {
            usher.close();
        }
        if (serverSide != null) {
            serverSide.close();
        }
    }

    private static Connection connect(int port) throws SQLException {
        return connect(port, APPDB);
    }

    private static Connection connect(int port, String database) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", MD5);
        p.setProperty("password", password(MD5));
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("loginTimeout", String.valueOf(CLIENT_SOCKET_TIMEOUT_S));
        p.setProperty("socketTimeout", String.valueOf(CLIENT_SOCKET_TIMEOUT_S));
        p.setProperty("assumeMinServerVersion", "12");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database, p);
    }

    /**
     * Runs the clients, applies {@code fault} to the proxy on {@code side} for {@code faultTime}, lifts it, and
     * checks the promises of the class comment. Returns a one-line summary.
     */
    private String scenario(String name, boolean serverSideFault, Consumer<FaultProxy> fault, Duration faultTime)
            throws Exception {
        FaultProxy proxy = serverSideFault ? serverSide : clientSide;
        String summary;
        try (Connection warm = connect(usher.port()); Connection warmOther = connect(usher.port(), OTHERDB)) {
            assertThat(one(warm, "SELECT 1")).isEqualTo("1");
            assertThat(one(warmOther, "SELECT 1")).isEqualTo("1");
        }
        Duration maxRun = Duration.ofSeconds(60);
        TokenClients direct = new TokenClients(() -> connect(usher.port(), OTHERDB), "direct", 4, 0.01, maxRun);
        TokenClients proxied = new TokenClients(() -> connect(clientSide.port()), "proxied", 4, 0.01, maxRun);
        try (direct; proxied) {
            Thread.sleep(400);
            assertThat(direct.errorCount() + proxied.errorCount()).as("errors before the fault").isZero();
            long t0 = System.nanoTime();
            fault.accept(proxy);
            Thread.sleep(faultTime.toMillis());
            proxy.heal();
            long healed = System.nanoTime();
            // recovery: a new client through both paths gets an answer, by itself
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).ignoreExceptions().until(() -> {
                try (Connection a = connect(usher.port(), OTHERDB); Connection b = connect(clientSide.port())) {
                    return one(a, "SELECT 'a'").equals("a") && one(b, "SELECT 'b'").equals("b");
                }
            });
            long recoveredMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - healed);
            // then every operation that starts (after a grace for clients that were failing) succeeds
            long steady = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
            Thread.sleep(900);
            direct.stop();
            proxied.stop();
            long[] directAfter = direct.outcomesSince(steady);
            long[] proxiedAfter = proxied.outcomesSince(steady);
            summary = String.format("%s (%s side, %d ms): %s; %s; recovered %d ms after the fault was lifted",
                    name, serverSideFault ? "server" : "client", TimeUnit.NANOSECONDS.toMillis(healed - t0),
                    direct, proxied, recoveredMs);
            System.out.println("FAULT " + summary);

            assertThat(direct.mismatches() + proxied.mismatches()).as("tokens of other clients: " + direct.mismatchSamples()
                    + proxied.mismatchSamples()).isZero();
            assertThat(Math.max(direct.maxOpMillis(), proxied.maxOpMillis())).as("longest operation (ms): " + summary)
                    .isLessThan(OP_BOUND_MS);
            assertThat(directAfter[1] + proxiedAfter[1]).as("operations failing after recovery: " + summary).isZero();
            assertThat(directAfter[0]).as("direct operations after recovery").isPositive();
            assertThat(proxiedAfter[0]).as("proxied operations after recovery").isPositive();
            if (!serverSideFault) {
                assertThat(direct.errorCount()).as("a client-side fault costs the direct clients nothing: " + summary).isZero();
            }
        }
        // none leaked: Usher's servers and PostgreSQL's backends of the user back to 0 (server_idle_timeout)
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(200))
                .untilAsserted(() -> {
                    assertThat(usher.usher().pools().pools().stream().mapToInt(Pool::serverCount).sum()).as("Usher's servers")
                            .isZero();
                    assertThat(backendsOfUser(pg, MD5)).as("PostgreSQL backends of " + MD5).isZero();
                });
        await().atMost(Duration.ofSeconds(5)).until(() -> usher.usher().clientCount() == 0);
        return summary;
    }

    // a server that accepts the connection and then says nothing (here: a stalled link; also a hung postmaster):
    // server_connect_timeout bounds the login as well as the TCP connect, as in PgBouncer (new_server_list in
    // janitor.c). Before, a silent login held its pool slot until the link came back, and a client logging in
    // waited for the whole query_wait_timeout.
    @Test
    void silentServerLoginIsBoundedByServerConnectTimeout() throws Exception {
        usher.close();
        usher = UsherInstance.builder(pg)
                .database(APPDB, "host=127.0.0.1 port=" + serverSide.port() + " dbname=appdb")
                .set("default_pool_size", 2).set("server_connect_timeout", CONNECT_TIMEOUT)
                .set("query_wait_timeout", 20).set("server_login_retry", 0.5).set("server_idle_timeout", 0.5).start();
        serverSide.stall();
        long t0 = System.nanoTime();
        String outcome;
        try (Connection c = connect(usher.port())) {
            outcome = "ok " + one(c, "SELECT 1");
        } catch (SQLException e) {
            outcome = e.getSQLState() + " " + e.getMessage();
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        System.out.println("client logging in while the server's login is silent, after " + ms + " ms: " + outcome);
        assertThat(outcome).isEqualTo("08006 FATAL: pgbouncer cannot connect to server");
        assertThat(ms).as("time to the error (ms); server_connect_timeout is %s s", CONNECT_TIMEOUT).isLessThan(4000);
        Pool pool = usher.usher().pools().pools().stream().filter(p -> p.key().database().equals(APPDB)).findFirst()
                .orElseThrow();
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.serverCount() == 0);
        serverSide.heal();
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).ignoreExceptions().until(() -> {
            try (Connection c = connect(usher.port())) {
                return one(c, "SELECT 'back'").equals("back");
            }
        });
        await().atMost(Duration.ofSeconds(15)).until(() -> pool.serverCount() == 0 && backendsOfUser(pg, MD5) == 0);
    }

    /** A fault: what is done to the proxy, and for how long before it is lifted. */
    record Fault(String name, Consumer<FaultProxy> apply, Duration time) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final Fault DELAY = new Fault("delay 40 ms a chunk", p -> p.delay(Duration.ofMillis(40)), Duration.ofMillis(1000));
    private static final Fault STALL = new Fault("stall", FaultProxy::stall, Duration.ofMillis(2000));
    private static final Fault DROP = new Fault("drop", FaultProxy::drop, Duration.ofMillis(2000));
    private static final Fault RESET = new Fault("reset all, 3 times", p -> {
        for (int i = 0; i < 3; i++) {
            p.resetAll();
            sleep(300);
        }
    }, Duration.ZERO);
    private static final Fault UNREACHABLE = new Fault("reset all, then refuse new connections", p -> {
        p.refuseNew(true);
        p.resetAll();
    }, Duration.ofMillis(2000));
    private static final Fault FIN_TO_CLIENT = new Fault("FIN towards the connecting side", p -> p.halfClose(Side.CLIENT),
            Duration.ofMillis(500));
    private static final Fault FIN_TO_TARGET = new Fault("FIN towards the target", p -> p.halfClose(Side.TARGET),
            Duration.ofMillis(500));
    private static final Fault CUT_RESPONSE = new Fault("response cut after 7 bytes", p -> p.truncate(Side.CLIENT, 7),
            Duration.ofMillis(500));
    private static final Fault CUT_REQUEST = new Fault("request cut after 3 bytes", p -> p.truncate(Side.TARGET, 3),
            Duration.ofMillis(500));

    /** Server side: between Usher and PostgreSQL (FIN towards the connecting side: towards Usher). */
    static List<Fault> serverFaults() {
        return List.of(DELAY, STALL, DROP, RESET, UNREACHABLE, FIN_TO_CLIENT, FIN_TO_TARGET, CUT_RESPONSE, CUT_REQUEST);
    }

    /** Client side: between clients and Usher (FIN towards the target: towards Usher). */
    static List<Fault> clientFaults() {
        return List.of(DELAY, STALL, DROP, RESET, FIN_TO_TARGET, CUT_REQUEST, CUT_RESPONSE);
    }

    @ParameterizedTest(name = "server side: {0}")
    @MethodSource("serverFaults")
    void serverSide(Fault f) throws Exception {
        scenario(f.name(), true, f.apply(), f.time());
    }

    @ParameterizedTest(name = "client side: {0}")
    @MethodSource("clientFaults")
    void clientSide(Fault f) throws Exception {
        scenario(f.name(), false, f.apply(), f.time());
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

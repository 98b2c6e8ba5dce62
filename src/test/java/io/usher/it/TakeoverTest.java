package io.usher.it;

import io.usher.testing.LoopbackPorts;
import io.usher.testing.PostgresCluster;
import io.usher.testing.TestRoles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
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
import java.util.concurrent.atomic.AtomicInteger;

import static io.usher.it.Sql.exec;
import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * usher -R: a second Usher process takes over the listening sockets of the running one (TCP and the
 * Unix socket) through its takeover socket, under load from short-lived pgjdbc clients; the old
 * one drains its clients and exits. Prints the figures: connections and transactions, failed of total.
 */
class TakeoverTest {
    /** Load bounds: clients stop at whichever comes first. */
    private static final Duration LOAD_LIMIT = Duration.ofSeconds(60);
    private static final int MAX_CONNECTIONS = 20_000;
    private static final int CLIENT_THREADS = 4;

    private final PostgresCluster pg = PostgresCluster.shared();
    private Path dir;
    private final List<UsherProcess> processes = new ArrayList<>();

    @BeforeEach
    void makeDir() throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "usher-to-"); // short: socket paths hold 107 bytes
    }

    @AfterEach
    void cleanUp() {
        processes.forEach(UsherProcess::close);
        io.usher.testing.FileTrees.deleteRecursively(dir);
    }

    private Path writeConfig(int port) throws IOException {
        StringBuilder users = new StringBuilder();
        for (String role : TestRoles.ROLES) {
            String stored = pg.storedSecret(role);
            users.append('"').append(role).append("\" \"").append(stored != null ? stored : TestRoles.password(role))
                    .append("\"\n");
        }
        Files.writeString(dir.resolve("userlist.txt"), users);
        Path ini = dir.resolve("usher.ini");
        Files.writeString(ini, "[databases]\nappdb = host=127.0.0.1 port=" + pg.port() + " dbname=appdb\n\n[pgbouncer]\n"
                + "listen_addr = 127.0.0.1\nlisten_port = " + port + "\nunix_socket_dir = " + dir + "\n"
                + "pidfile = " + dir.resolve("usher.pid") + "\nauth_type = md5\nauth_file = " + dir.resolve("userlist.txt")
                + "\npool_mode = transaction\ndefault_pool_size = 8\nmax_client_conn = 500\n"
                + "ignore_startup_parameters = extra_float_digits\n");
        return ini;
    }

    private UsherProcess usher(String... args) throws IOException {
        UsherProcess p = UsherProcess.start(dir, Map.of(), args);
        processes.add(p);
        return p;
    }

    private static Connection connect(int port) throws SQLException {
        java.util.Properties p = new java.util.Properties();
        p.setProperty("user", MD5);
        p.setProperty("password", TestRoles.password(MD5));
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "30");
        p.setProperty("assumeMinServerVersion", "12");
        return java.sql.DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + APPDB, p);
    }

    /** What the load saw. */
    private static final class Load {
        final AtomicInteger connections = new AtomicInteger();
        final AtomicInteger transactions = new AtomicInteger();
        final AtomicInteger failedConnections = new AtomicInteger();
        final AtomicInteger failedTransactions = new AtomicInteger();
        final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        final AtomicBoolean stop = new AtomicBoolean();
    }

    /** One client thread: connect, one transaction of two statements, disconnect; again. */
    private static void clients(int port, Load load, long deadline) {
        while (!load.stop.get() && System.nanoTime() < deadline && load.connections.get() < MAX_CONNECTIONS) {
            Connection c;
            try {
                c = connect(port);
                load.connections.incrementAndGet();
            } catch (SQLException e) {
                load.failedConnections.incrementAndGet();
                load.errors.add("connect: " + e.getSQLState() + " " + e.getMessage());
                continue;
            }
            try (c) {
                c.setAutoCommit(false);
                exec(c, "SELECT pg_backend_pid()");
                one(c, "SELECT count(*) FROM pg_class");
                c.commit();
                load.transactions.incrementAndGet();
            } catch (SQLException e) {
                load.failedTransactions.incrementAndGet();
                load.errors.add("transaction: " + e.getSQLState() + " " + e.getMessage());
            }
        }
    }

    // the new process serves on the very sockets the old one listened on; the old one keeps the clients
    // it has (a session open across the takeover is served to its end), then exits 0; no client sees a
    // refused connection or a failed transaction meanwhile
    @Test
    void aNewProcessTakesOverTheListeningSocketsWithoutRefusingAConnection() throws Exception {
        int port = LoopbackPorts.pickFree();
        Path ini = writeConfig(port);
        Path takeoverSocket = dir.resolve(".s.PGSQL." + port + ".takeover");
        Path unixSocket = dir.resolve(".s.PGSQL." + port);
        UsherProcess old = usher(ini.toString());
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
            try (Connection c = connect(port)) {
                return Files.exists(takeoverSocket);
            }
        });
        long oldPid = old.process.pid();
        assertThat(Files.readString(dir.resolve("usher.pid")).trim()).isEqualTo(String.valueOf(oldPid));

        Load load = new Load();
        long deadline = System.nanoTime() + LOAD_LIMIT.toNanos();
        ExecutorService pool = Executors.newFixedThreadPool(CLIENT_THREADS);
        List<Future<?>> threads = new ArrayList<>();
        UsherProcess fresh;
        int atTakeover;
        int afterOldExit;
        try (Connection kept = connect(port)) {
            assertThat(one(kept, "SELECT 'before'")).isEqualTo("before");
            for (int i = 0; i < CLIENT_THREADS; i++) {
                threads.add(pool.submit(() -> clients(port, load, deadline)));
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> load.transactions.get() >= 200);

            atTakeover = load.connections.get();
            fresh = usher("-R", ini.toString());
            await().atMost(Duration.ofSeconds(30)).until(() -> fresh.stderrSoFar().contains("takeover: done")
                    || !fresh.process.isAlive());
            assertThat(fresh.process.isAlive()).as(fresh.stderrSoFar()).isTrue();
            // it bound nothing: both sockets are the old one's
            assertThat(fresh.stderrSoFar()).contains("listening on /127.0.0.1:" + port + " (taken over)",
                    "listening on the Unix socket, fd");
            // the old one waits for "kept", which still works
            assertThat(old.process.isAlive()).isTrue();
            assertThat(one(kept, "SELECT 'across the takeover'")).isEqualTo("across the takeover");
        }
        UsherProcess.Run oldRun = old.finish(Duration.ofSeconds(30));
        afterOldExit = load.connections.get();
        assertThat(oldRun.exitCode()).as(oldRun.toString()).isZero();
        assertThat(oldRun.stderr() + oldRun.stdout()).contains("taken over by a new process");

        // the load goes on against the new process alone
        await().atMost(Duration.ofSeconds(30)).until(() -> load.connections.get() >= afterOldExit + 300);
        load.stop.set(true);
        for (Future<?> t : threads) {
            t.get(60, TimeUnit.SECONDS);
        }
        pool.shutdown();

        System.out.println(String.format("TAKEOVER: connections %d (failed %d), transactions %d (failed %d); "
                        + "%d connections before the takeover began, %d by the old process's exit",
                load.connections.get() + load.failedConnections.get(), load.failedConnections.get(),
                load.transactions.get() + load.failedTransactions.get(), load.failedTransactions.get(),
                atTakeover, afterOldExit));
        assertThat(load.errors).as("errors seen by clients").isEmpty();
        assertThat(load.failedConnections.get()).isZero();
        assertThat(load.failedTransactions.get()).isZero();

        // the new process has the port, the Unix socket (its file kept by the old one), the pidfile and
        // the takeover socket, so it can be taken over in turn
        assertThat(Files.readString(dir.resolve("usher.pid")).trim()).isEqualTo(String.valueOf(fresh.process.pid()));
        assertThat(Files.exists(takeoverSocket)).isTrue();
        assertThat(sslAnswerOverUnixSocket(unixSocket)).isEqualTo((byte) 'N');
        try (Connection c = connect(port)) {
            assertThat(one(c, "SELECT 'after'")).isEqualTo("after");
        }
    }

    /** Sends an SSLRequest over the Unix socket and returns the one-byte answer ('N': a pooler answers). */
    private static byte sslAnswerOverUnixSocket(Path socket) throws Exception {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 8, 0x04, (byte) 0xd2, 0x16, 0x2f}));
            ByteBuffer answer = ByteBuffer.allocate(1);
            // a blocking read, bounded: closing the channel ends it if no answer comes
            java.util.concurrent.CompletableFuture<Integer> read = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return ch.read(answer);
                } catch (IOException e) {
                    return -1;
                }
            });
            assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(1);
            return answer.get(0);
        }
    }
}

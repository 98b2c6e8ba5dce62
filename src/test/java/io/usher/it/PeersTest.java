package io.usher.it;

import io.usher.ShutdownMode;
import io.usher.client.ClientConnection;
import io.usher.peers.CancelKeys;
import io.usher.peers.PeerPool;
import io.usher.testing.LoopbackPorts;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Peering as PgBouncer 1.19+: cancel keys carry the issuing instance's peer_id, and a CancelRequest
 * that reaches another instance of the fleet is passed on and cancels exactly the query it names.
 */
class PeersTest {
    private static final Duration QUICK = Duration.ofSeconds(5);
    private final PostgresCluster pg = PostgresCluster.shared();

    // ---- helpers ----

    private static int backendPid(Connection c) throws SQLException {
        return c.unwrap(org.postgresql.PGConnection.class).getBackendPID();
    }

    /** The client whose BackendKeyData pid is {@code pid}, on whichever instance issued it. */
    private static ClientConnection client(List<UsherInstance> fleet, int pid) {
        for (UsherInstance u : fleet) {
            for (ClientConnection c : u.usher().clients()) {
                if (c.cancelPid() == pid) {
                    return c;
                }
            }
        }
        throw new AssertionError("no instance has a client with cancel pid " + pid);
    }

    private static long forwarded(UsherInstance u) {
        return u.usher().peers().pools().stream().mapToLong(PeerPool::forwarded).sum();
    }

    private static long forwarded(List<UsherInstance> fleet) {
        return fleet.stream().mapToLong(PeersTest::forwarded).sum();
    }

    /** Starts {@code sql} on {@code c}; completes with the SQLSTATE it failed with, or "ok". */
    private static CompletableFuture<String> run(Connection c, String sql) throws SQLException {
        return run(c.createStatement(), sql);
    }

    /** Starts {@code sql} on {@code s} (closed after); completes with the SQLSTATE it failed with, or "ok". */
    private static CompletableFuture<String> run(Statement s, String sql) {
        return CompletableFuture.supplyAsync(() -> {
            try (s) {
                s.execute(sql);
                return "ok";
            } catch (SQLException e) {
                return e.getSQLState();
            }
        });
    }

    /** Waits until PostgreSQL runs a query containing {@code marker}, so a cancel cannot arrive before it. */
    private void awaitRunning(String marker) {
        await().atMost(QUICK).pollInterval(Duration.ofMillis(20)).until(() -> !pg.query(
                "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%" + marker + "%' AND query NOT LIKE '%pg_stat_activity%'").isEmpty());
    }

    /** A CancelRequest as a client sends one; returns once the receiver has closed the connection. */
    private static void sendCancel(SocketAddress to, int pid, int secret) throws Exception {
        try (SocketChannel ch = SocketChannel.open(to instanceof UnixDomainSocketAddress ? StandardProtocolFamily.UNIX : StandardProtocolFamily.INET)) {
            ch.connect(to);
            ch.write(ByteBuffer.allocate(16).putInt(16).putInt(80877102).putInt(pid).putInt(secret).flip());
            CompletableFuture<Integer> eof = CompletableFuture.supplyAsync(() -> {
                try {
                    return ch.read(ByteBuffer.allocate(1));
                } catch (IOException e) {
                    return -1;
                }
            });
            assertThat(eof.get(QUICK.toMillis(), TimeUnit.MILLISECONDS)).as("the receiver closes the cancel connection").isEqualTo(-1);
        }
    }

    /** Sends a StartupMessage over a Unix socket; returns what comes back until the connection closes. */
    private static String startupOver(Path socket) throws Exception {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            byte[] params = "user\0u_md5\0database\0appdb\0\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            ch.write(ByteBuffer.allocate(8 + params.length).putInt(8 + params.length).putInt(196608).put(params).flip());
            CompletableFuture<String> reply = CompletableFuture.supplyAsync(() -> {
                java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
                ByteBuffer b = ByteBuffer.allocate(4096);
                try {
                    while (ch.read(b.clear()) > 0) {
                        out.write(b.array(), 0, b.position());
                    }
                } catch (IOException e) {
                    // closed
                }
                return out.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
            });
            return reply.get(QUICK.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private UsherInstance.Builder member(int peerId, int port) {
        return UsherInstance.builder(pg).set("listen_port", port).set("peer_id", peerId).set("default_pool_size", 10)
                .set("admin_users", "u_scram2").userlist("u_scram2", "scram2_pw");
    }

    /**
     * Runs a long query on {@code victim} and short ones on {@code bystanders}, cancels the long one
     * with {@code cancel}, and checks that only it ends, with 57014, and quickly.
     */
    private void cancelOnlyTheVictim(Connection victim, List<Connection> bystanders, String marker, Canceller cancel) throws Exception {
        cancelOnlyTheVictim(victim, victim.createStatement(), bystanders, marker, cancel);
    }

    private void cancelOnlyTheVictim(Connection victim, Statement victimStatement, List<Connection> bystanders, String marker,
            Canceller cancel) throws Exception {
        List<CompletableFuture<String>> others = new ArrayList<>();
        for (Connection b : bystanders) {
            others.add(run(b, "SELECT pg_sleep(1.5), 'bystander'"));
        }
        CompletableFuture<String> longQuery = run(victimStatement, "SELECT pg_sleep(30), '" + marker + "'");
        awaitRunning(marker);
        long start = System.nanoTime();
        cancel.cancel();
        assertThat(longQuery.get(QUICK.toMillis(), TimeUnit.MILLISECONDS)).as("the cancelled query's SQLSTATE").isEqualTo("57014");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(QUICK);
        for (CompletableFuture<String> o : others) {
            assertThat(o.get(10, TimeUnit.SECONDS)).as("other sessions' queries are not cancelled").isEqualTo("ok");
        }
        assertThat(Sql.one(victim, "SELECT 'usable again'")).isEqualTo("usable again");
    }

    interface Canceller {
        void cancel() throws Exception;
    }

    // ---- tests ----

    // three instances share one port (so_reuseport); each also has a Unix socket, which is how peers reach
    // one particular instance
    @Test
    void threeInstancesOnOnePortCancelThroughWhicheverInstanceTheCancelReaches() throws Exception {
        int port = LoopbackPorts.pickFree();
        List<Path> dirs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            dirs.add(Files.createTempDirectory("usher-peer-"));
        }
        List<UsherInstance> fleet = new ArrayList<>();
        try {
            for (int id = 1; id <= 3; id++) {
                UsherInstance.Builder b = member(id, port).set("so_reuseport", 1).set("unix_socket_dir", dirs.get(id - 1));
                for (int peer = 1; peer <= 3; peer++) {
                    b.peer(peer, "host=" + dirs.get(peer - 1) + " port=" + port);
                }
                fleet.add(b.start());
            }
            List<Connection> bystanders = new ArrayList<>();
            Connection victim = fleet.get(0).connect(MD5, "appdb");
            try {
                for (int i = 0; i < 6; i++) {
                    bystanders.add(fleet.get(0).connect(MD5, "appdb"));
                }
                // the key names its instance: the client with that pid is on the instance with that peer_id
                int pid = backendPid(victim);
                int owner = CancelKeys.peerId(pid);
                assertThat(owner).isBetween(1, 3);
                ClientConnection victimClient = client(fleet, pid);
                assertThat(fleet.get(owner - 1).usher().clients()).contains(victimClient);
                for (Connection c : bystanders) {
                    assertThat(client(fleet, backendPid(c))).isIn(fleet.get(CancelKeys.peerId(backendPid(c)) - 1).usher().clients());
                }

                // 1. deterministic: the request goes to another instance's Unix socket
                int other = owner % 3 + 1;
                SocketAddress otherSocket = UnixDomainSocketAddress.of(dirs.get(other - 1).resolve(".s.PGSQL." + port));
                long before = forwarded(fleet.get(other - 1));
                cancelOnlyTheVictim(victim, bystanders, "victim-unix", () -> sendCancel(otherSocket, pid, victimClient.cancelKey()));
                assertThat(forwarded(fleet.get(other - 1)) - before).as("instance " + other + " forwarded it").isEqualTo(1);

                // 2. pgjdbc's own cancel: a new TCP connection to the shared port, which the kernel gives to any of
                // the three; repeated until one has landed on another instance (1 in 3 lands on the owner)
                int forwardedRounds = 0;
                for (int round = 0; round < 12 && forwardedRounds < 2; round++) {
                    long sum = forwarded(fleet);
                    Statement st = victim.createStatement();
                    cancelOnlyTheVictim(victim, st, bystanders, "victim-tcp-" + round, st::cancel);
                    if (forwarded(fleet) > sum) {
                        forwardedRounds++;
                    }
                }
                assertThat(forwardedRounds).as("pgjdbc cancels that reached another instance and were forwarded").isPositive();

                // 3. the owner drains (SIGTERM's mode): its TCP listener is closed, so every cancel for its client lands
                // on another instance, which reaches it through its Unix socket, still open for cancels and the console
                UsherInstance draining = fleet.get(owner - 1);
                CountDownLatch drained = new CountDownLatch(1);
                draining.usher().onShutdownRequest(drained::countDown);
                draining.usher().shutdown(ShutdownMode.WAIT_FOR_CLIENTS);
                assertThat(draining.usher().accepting()).isFalse();
                long sum = forwarded(fleet);
                Statement st = victim.createStatement();
                cancelOnlyTheVictim(victim, st, bystanders, "victim-draining", st::cancel);
                assertThat(forwarded(fleet) - sum).as("forwarded to the draining instance").isEqualTo(1);
                assertThat(startupOver(dirs.get(owner - 1).resolve(".s.PGSQL." + port)))
                        .as("a new login on the draining instance's Unix socket").contains("pooler is shutting down");
                assertThat(drained.getCount()).as("still draining: its clients are connected").isEqualTo(1);
            } finally {
                victim.close();
                for (Connection c : bystanders) {
                    c.close();
                }
            }
            try (Connection admin = fleet.get(0).connect("u_scram2", "scram2_pw", "pgbouncer", simple())) {
                List<Map<String, Object>> peers = AdminRows.rows(admin, "SHOW PEERS");
                assertThat(peers).hasSize(3);
                assertThat(peers.get(1)).containsEntry("peer_id", 2L).containsEntry("host", dirs.get(1).toString())
                        .containsEntry("port", (long) port).containsEntry("pool_size", 10L);
            }
        } finally {
            fleet.forEach(UsherInstance::close);
            for (Path d : dirs) {
                try (var files = Files.walk(d)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                }
            }
        }
    }

    private static java.util.Properties simple() {
        java.util.Properties p = new java.util.Properties();
        p.setProperty("preferQueryMode", "simple");
        return p;
    }

    // three ports behind a round-robin TCP proxy: the cancel connection is always the one after the query's
    // connection, so it always reaches the next instance
    @Test
    void threeInstancesBehindARoundRobinProxy() throws Exception {
        int[] ports = {LoopbackPorts.pickFree(), LoopbackPorts.pickFree(), LoopbackPorts.pickFree()};
        List<UsherInstance> fleet = new ArrayList<>();
        try (RoundRobinProxy proxy = new RoundRobinProxy(ports)) {
            for (int id = 1; id <= 3; id++) {
                UsherInstance.Builder b = member(id, ports[id - 1]);
                for (int peer = 1; peer <= 3; peer++) {
                    b.peer(peer, "host=127.0.0.1 port=" + ports[peer - 1] + " pool_size=2");
                }
                fleet.add(b.start());
            }
            java.util.Properties p = UsherInstance.clientProperties(MD5, io.usher.testing.TestRoles.password(MD5));
            String url = "jdbc:postgresql://127.0.0.1:" + proxy.port() + "/appdb";
            List<Connection> bystanders = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    bystanders.add(java.sql.DriverManager.getConnection(url, p));
                }
                for (int round = 0; round < 3; round++) {
                    try (Connection victim = java.sql.DriverManager.getConnection(url, p)) {
                        Statement s = victim.createStatement();
                        int owner = CancelKeys.peerId(backendPid(victim));
                        assertThat(fleet.get(owner - 1).usher().clients()).contains(client(fleet, backendPid(victim)));
                        int next = owner % 3 + 1;
                        long before = forwarded(fleet.get(next - 1));
                        cancelOnlyTheVictim(victim, s, bystanders, "proxied-" + round, s::cancel);
                        assertThat(forwarded(fleet.get(next - 1)) - before)
                                .as("the cancel reached instance " + next + ", which forwarded it to " + owner).isEqualTo(1);
                    }
                }
                assertThat(proxy.connections()).as("every connection went through the proxy").isGreaterThanOrEqualTo(9);
            } finally {
                for (Connection c : bystanders) {
                    c.close();
                }
            }
        } finally {
            fleet.forEach(UsherInstance::close);
        }
    }

    // pool_size bounds the requests in flight to a peer, the rest wait; the TTL goes down by one per hop and a
    // request without TTL, or for a peer not configured, goes nowhere
    @Test
    void forwardingIsBoundedByPoolSizeAndLowersTheTtl() throws Exception {
        try (FakePeer fake = new FakePeer();
             UsherInstance u = member(1, LoopbackPorts.pickFree()).set("cancel_wait_timeout", 60)
                     .peer(2, "host=127.0.0.1 port=" + fake.port() + " pool_size=2").start();
             Connection admin = u.connect("u_scram2", "scram2_pw", "pgbouncer", simple())) {
            SocketAddress usher = new InetSocketAddress("127.0.0.1", u.port());
            int pid = CancelKeys.pid(0x0badcafe, 2);
            List<Socket> requesters = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                Socket s = new Socket();
                s.connect(usher, 5000);
                s.getOutputStream().write(ByteBuffer.allocate(16).putInt(16).putInt(80877102).putInt(pid)
                        .putInt(CancelKeys.secret(i << 8, 2)).array());
                requesters.add(s);
            }
            await().atMost(QUICK).until(() -> fake.received.size() == 2);
            await().atMost(QUICK).untilAsserted(() -> assertThat(AdminRows.rows(admin, "SHOW PEER_POOLS")).containsExactly(
                    Map.of("peer_id", 2L, "cl_active_cancel_req", 2L, "cl_waiting_cancel_req", 3L, "sv_active_cancel", 2L, "sv_login", 0L)));
            assertThat(AdminRows.rows(admin, "SHOW LISTS")).contains(Map.of("list", "peer_pools", "items", 1L));
            Thread.sleep(300);
            assertThat(fake.received).as("no more than pool_size at a time").hasSize(2);
            assertThat(fake.maxOpen.get()).isEqualTo(2);
            // the requesters wait while their request is on its way
            for (Socket s : requesters) {
                s.setSoTimeout(100);
                assertThat(readsEof(s)).isFalse();
            }
            fake.closeAll();
            await().atMost(QUICK).until(() -> fake.received.size() == 4);
            fake.closeAll();
            await().atMost(QUICK).until(() -> fake.received.size() == 5);
            fake.closeAll();
            assertThat(fake.maxOpen.get()).isEqualTo(2);
            for (int[] r : fake.received) {
                assertThat(r[0]).isEqualTo(pid);
                assertThat(CancelKeys.ttl(r[1])).as("one hop used").isEqualTo(2);
            }
            assertThat(fake.received.stream().map(r -> CancelKeys.asIssued(r[1]) >> 8).sorted().toList()).containsExactly(0, 1, 2, 3, 4);
            for (Socket s : requesters) {
                s.setSoTimeout(5000);
                assertThat(readsEof(s)).as("closed once the peer has it").isTrue();
                s.close();
            }
            await().atMost(QUICK).untilAsserted(() -> assertThat(AdminRows.rows(admin, "SHOW PEER_POOLS")).containsExactly(
                    Map.of("peer_id", 2L, "cl_active_cancel_req", 0L, "cl_waiting_cancel_req", 0L, "sv_active_cancel", 0L, "sv_login", 0L)));

            // no TTL left, or a peer that is not configured: closed at once, nothing forwarded
            sendCancel(usher, pid, CancelKeys.secret(0x100, 2) & ~CancelKeys.TTL_MASK);
            sendCancel(usher, CancelKeys.pid(0x0badcafe, 9), CancelKeys.secret(0x100, 9));
            Thread.sleep(200);
            assertThat(fake.received).hasSize(5);
        }
    }

    private static boolean readsEof(Socket s) throws IOException {
        try {
            return s.getInputStream().read() == -1;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        }
    }

    /** A peer that records CancelRequests and closes their connections only when told to. */
    private static final class FakePeer implements AutoCloseable {
        final List<int[]> received = new CopyOnWriteArrayList<>();
        final AtomicInteger maxOpen = new AtomicInteger();
        private final List<Socket> open = new CopyOnWriteArrayList<>();
        private final ServerSocket server;
        private final Thread acceptor;

        FakePeer() throws IOException {
            server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
            acceptor = new Thread(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        open.add(s);
                        maxOpen.accumulateAndGet(open.size(), Math::max);
                        InputStream in = s.getInputStream();
                        ByteBuffer b = ByteBuffer.wrap(in.readNBytes(16));
                        if (b.getInt(0) == 16 && b.getInt(4) == 80877102) {
                            received.add(new int[] {b.getInt(8), b.getInt(12)});
                        }
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "fake-peer");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return server.getLocalPort();
        }

        void closeAll() throws IOException {
            for (Socket s : open) {
                open.remove(s);
                s.close();
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            closeAll();
        }
    }
}

package io.usher;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.ScheduledFuture;
import io.usher.auth.ScramVerifier;
import io.usher.auth.StoredSecret;
import io.usher.auth.ThreadRandom;
import io.usher.client.ClientConnection;
import io.usher.client.TrackedParameters;
import io.usher.config.AuthType;
import io.usher.config.DatabaseConfig;
import io.usher.config.UserConfig;
import io.usher.config.Settings;
import io.usher.config.UsherConfig;
import io.usher.net.SocketOptions;
import io.usher.net.Transport;
import io.usher.pool.PoolManager;
import io.usher.protocol.Messages;
import io.usher.server.ServerConnection;
import io.usher.stats.StatsRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A running pooler: listeners, event loops, pools and the registry of clients. Built from one
 * immutable {@link UsherConfig}.
 */
public final class Usher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Usher.class);

    private static final EnumSet<AuthType> SUPPORTED_AUTH =
            EnumSet.of(AuthType.TRUST, AuthType.ANY, AuthType.PLAIN, AuthType.MD5, AuthType.SCRAM_SHA_256, AuthType.CERT,
                    AuthType.HBA);

    /** auth_hba_file's rules when auth_type = hba; replaced on RELOAD only when the file loads. */
    private volatile io.usher.auth.HbaRules hba;

    /** TLS towards clients; replaced on RELOAD only when the new settings load. */
    private volatile io.usher.tls.ClientTls clientTls = io.usher.tls.ClientTls.disabled();

    private volatile UsherConfig config;
    private final Transport transport;
    private final PoolManager pools;
    private final StatsRegistry stats = new StatsRegistry();
    private final io.usher.prepared.StatementRegistry statementRegistry = new io.usher.prepared.StatementRegistry();
    private final TrackedParameters trackedParameters;
    private final io.usher.peers.PeerForwarder peers;
    private final List<Channel> listeners = new ArrayList<>();
    private final List<Channel> httpListeners = new ArrayList<>();
    /** Null while running; set when a shutdown that waits has begun. */
    private volatile ShutdownMode shutdownMode;
    /**
     * Set on connections the Unix socket accepts once a waiting shutdown has begun: as in PgBouncer, the
     * socket stays open for the admin console, and for CancelRequests, so that peers can still forward
     * cancels for the queries this instance is draining; other logins are refused.
     */
    public static final io.netty.util.AttributeKey<Boolean> ACCEPTED_WHILE_SHUTTING_DOWN =
            io.netty.util.AttributeKey.valueOf("usher.acceptedWhileShuttingDown");
    private final java.util.concurrent.atomic.AtomicBoolean shutdownActionRun = new java.util.concurrent.atomic.AtomicBoolean();
    private final AtomicInteger clientCount = new AtomicInteger();
    private final Map<String, AtomicInteger> clientsPerDatabase = new ConcurrentHashMap<>();
    private final Set<ClientConnection> clients = ConcurrentHashMap.newKeySet();
    /**
     * Connections a listener has accepted whose ClientConnection is not active yet (Netty registers a
     * new connection on its event loop a little later). A waiting shutdown counts them as clients:
     * without this, a connection accepted just before the listener closed could find Usher gone.
     */
    private final Set<Channel> acceptedNotActive = ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicInteger> clientsPerUser = new ConcurrentHashMap<>();
    private final Map<Long, ClientConnection> clientsByCancelKey = new ConcurrentHashMap<>();
    /** SCRAM verifiers made from plain passwords in auth_file, per user and password. */
    private final Map<String, StoredSecret.Scram> plainVerifiers = new ConcurrentHashMap<>();
    private ScheduledFuture<?> janitor;
    private ScheduledFuture<?> statsTask;
    private Path socketFile;
    /** Waits for a successor (usher -R); null when not listening for one. */
    private volatile io.usher.takeover.TakeoverServer takeoverServer;
    /** The listening sockets went to a successor: never close them here (the successor's now). */
    private volatile boolean handedOver;

    /** The number of event-loop threads (--threads, USHER_THREADS; default one per core). */
    public int eventLoopThreads() {
        return transport.workers().executorCount();
    }

    private Usher(UsherConfig config, int threads) {
        this.config = config;
        this.transport = new Transport(threads);
        this.pools = new PoolManager(config, stats);
        this.trackedParameters = new TrackedParameters(config.settings().getList("track_extra_parameters"));
        this.peers = new io.usher.peers.PeerForwarder(this::config, pools.network().dns());
    }

    /** Validates what the config asks for, binds the listeners and starts serving. */
    public static Usher start(UsherConfig config) throws IOException {
        return start(config, null);
    }

    /**
     * As {@link #start(UsherConfig)}; with {@code inherited} (usher -R), serves on the listening
     * sockets a running Usher handed over instead of binding new ones.
     */
    public static Usher start(UsherConfig config, List<io.usher.takeover.TakeoverClient.Inherited> inherited)
            throws IOException {
        Settings s = config.settings();
        if (!SUPPORTED_AUTH.contains(s.authType())) {
            throw new IOException("auth_type = " + s.authType().configName() + " is not supported yet");
        }
        io.usher.tls.ClientTls tls;
        try {
            tls = io.usher.tls.ClientTls.build(s);
        } catch (io.usher.tls.TlsConfigException e) {
            throw new IOException("TLS setup failed: " + e.getMessage(), e);
        }
        String authProblem = authProblem(s, tls);
        if (authProblem != null) {
            throw new IOException(authProblem);
        }
        try {
            io.usher.tls.ServerTls.build(s);
        } catch (io.usher.tls.TlsConfigException e) {
            throw new IOException("TLS setup failed: " + e.getMessage(), e);
        }
        io.usher.auth.HbaRules hba = s.authType() == AuthType.HBA ? loadHba(s) : null;
        int threads = Integer.getInteger("usher.threads", Runtime.getRuntime().availableProcessors());
        Usher u = new Usher(config, threads);
        u.clientTls = tls;
        u.hba = hba;
        try {
            if (inherited != null) {
                u.adopt(inherited);
            } else {
                u.bind();
            }
        } catch (IOException | RuntimeException e) {
            u.close();
            throw e;
        }
        EventLoop janitorLoop = u.transport.workers().next();
        u.janitor = janitorLoop.scheduleWithFixedDelay(() -> {
            u.pools.maintain(janitorLoop);
            u.checkShutdownDone();
        }, 100, 100, TimeUnit.MILLISECONDS);
        long period = Math.max(1, config.settings().getInt("stats_period"));
        u.statsTask = janitorLoop.scheduleAtFixedRate(() -> u.stats.periodEnded(u.config.settings().getBool("log_stats")),
                period, period, TimeUnit.SECONDS);
        u.pools.prewarm();
        Thread warmUp = new Thread(() -> u.pools.network().tls().warmUp(), "usher-tls-warm-up");
        warmUp.setDaemon(true);
        warmUp.start();
        return u;
    }

    /** auth_hba_file, read (relative paths against the working directory, as PgBouncer). */
    private static io.usher.auth.HbaRules loadHba(Settings s) throws IOException {
        String file = s.getString("auth_hba_file").trim();
        if (file.isEmpty()) {
            throw new IOException("auth_type = hba needs auth_hba_file");
        }
        try {
            io.usher.auth.HbaRules rules = io.usher.auth.HbaRules.load(Path.of(file));
            log.info("auth_hba_file {}: {} rules", file, rules.size());
            return rules;
        } catch (IOException | java.nio.file.InvalidPathException e) {
            throw new IOException("auth_hba_file " + file + " could not be read: " + e.getMessage(), e);
        }
    }

    /** auth_hba_file's rules (auth_type = hba), or null. */
    public io.usher.auth.HbaRules hba() {
        return hba;
    }

    /** What in the auth settings cannot work with this client TLS, or null. */
    private static String authProblem(Settings s, io.usher.tls.ClientTls tls) {
        if (s.authType() == AuthType.CERT && !tls.verifiesClients()) {
            return "auth_type = cert needs client_tls_sslmode = verify-ca or verify-full (a verified client certificate)";
        }
        return null;
    }

    private void bind() throws IOException {
        Settings s = config.settings();
        int port = s.getInt("listen_port");
        for (String addr : s.getList("listen_addr")) {
            if (addr.equals("*")) {
                listen(new InetSocketAddress(port)); // the wildcard address covers IPv4 and IPv6
            } else {
                listen(new InetSocketAddress(addr, port));
            }
        }
        String dir = s.getString("unix_socket_dir");
        if (!dir.isEmpty()) {
            if (!Transport.supportsUnixSockets()) {
                log.warn("unix_socket_dir is set, but Unix sockets need the native epoll transport; not listening on {}", dir);
            } else {
                socketFile = Path.of(dir, ".s.PGSQL." + port);
                Files.deleteIfExists(socketFile);
                listen(new DomainSocketAddress(socketFile.toFile()));
                applySocketMode(socketFile, s.getString("unix_socket_mode"));
                applySocketGroup(socketFile, s.getString("unix_socket_group"));
            }
        }
        if (listeners.isEmpty()) {
            throw new IOException("no listen_addr and no unix_socket_dir: nothing to listen on");
        }
    }

    /** unix_socket_mode is octal, as in PgBouncer (default 0777: anyone may connect, auth decides). */
    private static void applySocketMode(Path socket, String octal) throws IOException {
        int mode;
        try {
            mode = Integer.parseInt(octal.trim(), 8);
        } catch (NumberFormatException e) {
            throw new IOException("unix_socket_mode is not an octal number: " + octal);
        }
        Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_READ};
        for (int bit = 0; bit < order.length; bit++) {
            if ((mode & (1 << bit)) != 0) {
                perms.add(order[bit]);
            }
        }
        Files.setPosixFilePermissions(socket, perms);
    }

    /** unix_socket_group: the socket file's group (a name, or a numeric id), so its members may connect. */
    private static void applySocketGroup(Path socket, String group) throws IOException {
        if (group.isBlank()) {
            return;
        }
        java.nio.file.attribute.UserPrincipalLookupService users = socket.getFileSystem().getUserPrincipalLookupService();
        java.nio.file.attribute.GroupPrincipal principal;
        try {
            principal = users.lookupPrincipalByGroupName(group.trim());
        } catch (java.nio.file.attribute.UserPrincipalNotFoundException e) {
            throw new IOException("unix_socket_group: no such group: " + group.trim());
        }
        try {
            Files.getFileAttributeView(socket, java.nio.file.attribute.PosixFileAttributeView.class).setGroup(principal);
        } catch (IOException e) {
            throw new IOException("unix_socket_group: could not give " + socket + " to group " + group.trim() + ": "
                    + e.getMessage(), e);
        }
    }

    private void listen(SocketAddress address) throws IOException {
        boolean unix = address instanceof DomainSocketAddress;
        Settings s = config.settings();
        ServerBootstrap b = serverBootstrap(unix)
                .channel(unix ? Transport.domainServerChannel() : Transport.serverChannel());
        if (!unix && s.getBool("so_reuseport") && Transport.isEpoll()) {
            // several Usher processes may share the port; the kernel spreads connections over them
            b.option(io.netty.channel.epoll.EpollChannelOption.SO_REUSEPORT, true);
        }
        if (!unix) {
            b.option(ChannelOption.SO_REUSEADDR, true);
        }
        try {
            Channel ch = b.bind(address).syncUninterruptibly().channel();
            listeners.add(ch);
            log.info("listening on {}", unix ? ((DomainSocketAddress) address).path() : ch.localAddress());
        } catch (Exception e) {
            throw new IOException("could not listen on " + address + ": " + e.getMessage(), e);
        }
    }

    /**
     * usher -R: serves on the listening sockets a running Usher handed over (already bound and
     * listening: nothing is bound here, so no connection queued on them is lost). The Unix socket's
     * file is the one unix_socket_dir names, as the old process had it.
     */
    private void adopt(List<io.usher.takeover.TakeoverClient.Inherited> sockets) throws IOException {
        for (io.usher.takeover.TakeoverClient.Inherited socket : sockets) {
            boolean unix = socket.kind() == io.usher.takeover.TakeoverProtocol.Kind.UNIX;
            ServerBootstrap b = serverBootstrap(unix).channelFactory(() -> unix
                    ? new io.netty.channel.epoll.EpollServerDomainSocketChannel(socket.fd(), true) // listening already
                    : new io.netty.channel.epoll.EpollServerSocketChannel(socket.fd()));
            try {
                Channel ch = b.register().syncUninterruptibly().channel();
                listeners.add(ch);
                log.info("listening on {} (taken over)", unix ? "the Unix socket, fd " + socket.fd() : ch.localAddress());
            } catch (Exception e) {
                throw new IOException("could not serve on a taken-over socket: " + e.getMessage(), e);
            }
        }
        String dir = config.settings().getString("unix_socket_dir");
        if (!dir.isEmpty() && sockets.stream().anyMatch(k -> k.kind() == io.usher.takeover.TakeoverProtocol.Kind.UNIX)) {
            socketFile = Path.of(dir, ".s.PGSQL." + config.settings().getInt("listen_port"));
        }
    }

    private ServerBootstrap serverBootstrap(boolean unix) {
        Settings s = config.settings();
        return new ServerBootstrap()
                .group(transport.workers())
                .handler(new io.netty.channel.ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object accepted) {
                        // runs before Netty hands the new connection to its event loop
                        if (accepted instanceof Channel child) {
                            acceptedNotActive.add(child);
                            child.closeFuture().addListener(f -> acceptedNotActive.remove(child));
                        }
                        ctx.fireChannelRead(accepted);
                    }
                })
                .option(ChannelOption.SO_BACKLOG, s.getInt("listen_backlog"))
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(32 * 1024, 64 * 1024))
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (!unix) {
                            // the settings of the moment, so RELOAD and SET apply to new clients
                            SocketOptions.from(config.settings()).applyTo(ch);
                        } else if (shutdownMode != null) {
                            ch.attr(ACCEPTED_WHILE_SHUTTING_DOWN).set(Boolean.TRUE);
                        }
                        ch.pipeline().addLast(new ClientConnection(Usher.this));
                    }
                });
    }

    // ---- what clients use ----

    public UsherConfig config() { return config; }
    public PoolManager pools() { return pools; }

    /**
     * The databases as PgBouncer lists them (SHOW DATABASES, the per-database metrics): the [databases]
     * entries but {@code "*"}, which is no database of its own, then each database clients made from
     * it, by name.
     */
    public java.util.List<DatabaseConfig> listedDatabases() {
        UsherConfig c = config;
        java.util.List<DatabaseConfig> dbs = new java.util.ArrayList<>();
        for (DatabaseConfig db : c.databases().values()) {
            if (!db.isFallback()) {
                dbs.add(db);
            }
        }
        java.util.Set<String> made = new java.util.TreeSet<>();
        for (io.usher.pool.Pool p : pools.pools()) {
            if (!c.databases().containsKey(p.key().database())) {
                made.add(p.key().database());
            }
        }
        for (String name : made) {
            c.database(name).ifPresent(dbs::add);
        }
        return dbs;
    }
    public StatsRegistry stats() { return stats; }
    /** Statements clients prepared (max_prepared_statements), shared by name on the servers. */
    public io.usher.prepared.StatementRegistry statementRegistry() { return statementRegistry; }
    public TrackedParameters trackedParameters() { return trackedParameters; }
    /** TLS towards clients as of now (new connections take it; RELOAD may replace it). */
    public io.usher.tls.ClientTls clientTls() { return clientTls; }

    /** Counts a new client; false if it is over max_client_conn (it is still counted until it closes). */
    public boolean clientOpened(ClientConnection c) {
        clients.add(c);
        acceptedNotActive.remove(c.channel());
        return clientCount.incrementAndGet() <= config.settings().getInt("max_client_conn");
    }

    /**
     * Counts a client against max_db_client_connections and max_user_client_connections.
     * @return the name of the limit that is reached (the client is then not counted), or null
     */
    public String admitToDatabaseAndUser(ClientConnection c, DatabaseConfig db, String user) {
        Settings s = config.settings();
        int dbLimit = db.maxDbClientConnections() != null ? db.maxDbClientConnections() : s.getInt("max_db_client_connections");
        UserConfig uc = config.users().get(user);
        int userLimit = uc != null && uc.maxUserClientConnections() != null ? uc.maxUserClientConnections()
                : s.getInt("max_user_client_connections");
        AtomicInteger perDb = clientsPerDatabase.computeIfAbsent(db.name(), k -> new AtomicInteger());
        if (perDb.incrementAndGet() > dbLimit && dbLimit > 0) {
            perDb.decrementAndGet();
            return "max_db_client_connections";
        }
        AtomicInteger perUser = clientsPerUser.computeIfAbsent(user, k -> new AtomicInteger());
        if (perUser.incrementAndGet() > userLimit && userLimit > 0) {
            perUser.decrementAndGet();
            perDb.decrementAndGet();
            return "max_user_client_connections";
        }
        c.countedIn(db.name(), user);
        return null;
    }

    public void clientClosed(ClientConnection c, String countedDatabase, String countedUser) {
        clients.remove(c);
        clientCount.decrementAndGet();
        if (countedDatabase != null) {
            clientsPerDatabase.get(countedDatabase).decrementAndGet();
            clientsPerUser.get(countedUser).decrementAndGet();
        }
        if (c.cancelPid() != 0 || c.cancelKey() != 0) {
            clientsByCancelKey.remove(cancelKeyOf(c.cancelPid(), c.cancelKey()), c);
        }
    }

    /** Clients logged in to a database entry (max_db_client_connections counts these). */
    public int clientsOfDatabase(String database) {
        AtomicInteger n = clientsPerDatabase.get(database);
        return n == null ? 0 : n.get();
    }

    public int clientsOfUser(String user) {
        AtomicInteger n = clientsPerUser.get(user);
        return n == null ? 0 : n.get();
    }

    /** Every open client connection (SHOW CLIENTS). */
    public java.util.Collection<ClientConnection> clients() {
        return clients;
    }

    public int clientCount() {
        return clientCount.get();
    }

    /** The SCRAM verifier for a user whose auth_file entry is a plain password (made once, then reused). */
    public StoredSecret.Scram scramVerifier(String user, StoredSecret.Plain password) {
        String key = user + "\0" + password.password();
        return plainVerifiers.computeIfAbsent(key,
                k -> ScramVerifier.generate(password.password(), config.settings().getInt("scram_iterations"), ThreadRandom.current()));
    }

    /**
     * A fresh, unique (pid, key) pair for the client's BackendKeyData; with peer_id set it carries
     * the peer id and a full TTL as PgBouncer lays them out ({@link io.usher.peers.CancelKeys}).
     */
    public int[] registerCancelKey(ClientConnection c) {
        int peerId = config.settings().getInt("peer_id");
        while (true) {
            SecureRandom random = ThreadRandom.current();
            int pid = io.usher.peers.CancelKeys.pid(random.nextInt(), peerId);
            int key = io.usher.peers.CancelKeys.secret(random.nextInt(), peerId);
            if (pid != 0 && clientsByCancelKey.putIfAbsent(cancelKeyOf(pid, key), c) == null) {
                return new int[] {pid, key};
            }
        }
    }

    /**
     * A CancelRequest from a client. With peer_id set, a key issued by another peer is forwarded to
     * it; otherwise the request is acted on only if both numbers match a client with a server. Either
     * way {@code requester} stays open until the request has been passed on and PostgreSQL (or the peer)
     * has closed that connection, as PostgreSQL closes a cancel connection only after signalling the
     * backend: a client that waits for the close (libpq's PQcancel) knows its next query is safe.
     * @return true if the request was handed on (then {@code requester} is closed when done), false if
     *     no client has that key (the caller closes {@code requester})
     */
    public boolean cancel(int pid, int key, Channel requester) {
        int peerId = config.settings().getInt("peer_id");
        if (peerId > 0) {
            int owner = io.usher.peers.CancelKeys.peerId(pid);
            if (owner != peerId) {
                peers.forward(owner, pid, key, requester);
                return true;
            }
            // the keys this instance issued have the full TTL; the request's may have been lowered on the way
            key = io.usher.peers.CancelKeys.asIssued(key);
        }
        ClientConnection c = clientsByCancelKey.get(cancelKeyOf(pid, key));
        if (c == null) {
            return false;
        }
        c.cancelQuery(requester);
        return true;
    }

    /** Cancel requests on their way to peers (SHOW PEER_POOLS). */
    public io.usher.peers.PeerForwarder peers() {
        return peers;
    }

    /**
     * Opens a short connection to the server's address and sends its CancelRequest. Usher sends a
     * cancel at once (nothing waits for a pool slot), so cancel_wait_timeout bounds the whole attempt:
     * the connect, and the wait for PostgreSQL to close the connection after the request.
     * {@code requester} (the client's cancel connection, or null) is closed when the attempt ends.
     */
    public void sendCancel(ServerConnection s, Channel requester) {
        SocketAddress address = s.remoteAddress();
        if (address == null) {
            closeRequester(requester);
            return;
        }
        s.cancelSent(); // the server goes back to the pool only once this is done (Pool.release)
        int pid = s.backendPid();
        int key = s.backendKey();
        long limitMillis = config.settings().getDuration("cancel_wait_timeout").toMillis();
        long started = System.nanoTime();
        Bootstrap b = new Bootstrap().group(s.eventLoop())
                .channel(address instanceof DomainSocketAddress ? Transport.domainSocketChannel() : Transport.socketChannel())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        // nothing to read: PostgreSQL closes the connection after a cancel request
                    }
                });
        if (limitMillis > 0) {
            b.option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, limitMillis));
        }
        b.connect(address).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                log.warn("S: {} cancel request for pid={} not sent: {}", s.describe(), pid,
                        f.cause() instanceof io.netty.channel.ConnectTimeoutException ? "cancel_wait_timeout" : f.cause().toString());
                s.cancelDone();
                closeRequester(requester);
                return;
            }
            Channel ch = f.channel();
            ch.closeFuture().addListener(c -> {
                s.cancelDone();
                closeRequester(requester);
            });
            ch.writeAndFlush(Messages.cancelRequest(pid, key));
            if (limitMillis > 0) {
                ScheduledFuture<?> limit = ch.eventLoop().schedule(() -> {
                    log.warn("S: {} cancel connection for pid={} closing because: cancel_wait_timeout", s.describe(), pid);
                    ch.close();
                }, Math.max(0, TimeUnit.MILLISECONDS.toNanos(limitMillis) - (System.nanoTime() - started)), TimeUnit.NANOSECONDS);
                ch.closeFuture().addListener(c -> limit.cancel(false));
            }
        });
    }

    private static void closeRequester(Channel requester) {
        if (requester != null) {
            requester.close();
        }
    }

    private static long cancelKeyOf(int pid, int key) {
        return ((long) pid << 32) | (key & 0xffffffffL);
    }

    /**
     * RELOAD and SIGHUP: reads the config file again. New settings apply to new clients and to the
     * existing pools; a file that does not load is reported and the running config kept.
     * @return null on success, else what was wrong
     */
    public synchronized String reload() {
        UsherConfig next;
        try {
            next = config.reload();
        } catch (io.usher.config.ConfigException e) {
            log.error("RELOAD failed, keeping the running configuration: {}", e.getMessage());
            return e.getMessage();
        }
        for (String key : next.notImplementedKeys()) {
            log.warn("config: {} is set, but not supported by Usher yet; ignored", key);
        }
        io.usher.tls.ClientTls tls = clientTls;
        try {
            tls = io.usher.tls.ClientTls.build(next.settings());
        } catch (io.usher.tls.TlsConfigException e) {
            // as PgBouncer: the rest of the configuration applies, TLS stays as it was
            log.error("TLS configuration could not be reloaded, keeping old configuration: {}", e.getMessage());
        }
        String problem = apply(next, tls);
        if (problem != null) {
            log.error("RELOAD failed, keeping the running configuration: {}", problem);
            return problem;
        }
        log.info("RELOAD: configuration reloaded from {}", next.describeSources());
        return null;
    }

    /**
     * Checks a new configuration (auth type, TLS for cert auth, the hba file) and, if it is usable,
     * makes it the running one: pools, clients and listeners of config changes follow.
     * @return null when applied, else what was wrong (nothing changed then)
     */
    private String apply(UsherConfig next, io.usher.tls.ClientTls tls) {
        if (!SUPPORTED_AUTH.contains(next.settings().authType())) {
            return "auth_type = " + next.settings().authType().configName() + " is not supported yet";
        }
        String authProblem = authProblem(next.settings(), tls);
        if (authProblem != null) {
            return authProblem;
        }
        io.usher.auth.HbaRules rules = null;
        if (next.settings().authType() == AuthType.HBA) {
            try {
                rules = loadHba(next.settings());
            } catch (IOException e) {
                return e.getMessage();
            }
        }
        clientTls = tls;
        hba = rules;
        config = next;
        pools.reconfigure(next);
        clients.forEach(ClientConnection::settingsChanged);
        configChange.accept(next);
        return null;
    }

    /**
     * SET key = value from the console, for settings PgBouncer lets change online; applied like a
     * RELOAD (a later RELOAD reads the file again and so undoes it, as in PgBouncer).
     * @return null on success, else what was wrong
     */
    public synchronized String set(String key, String value) {
        io.usher.config.SettingDef def = io.usher.config.SettingDefs.all().get(key);
        if (def == null) {
            return "unknown config parameter: " + key;
        }
        if (!def.reloadable()) {
            return "config parameter " + key + " cannot be changed online";
        }
        try {
            UsherConfig next = config.withSetting(key, value);
            io.usher.tls.ClientTls tls = clientTls;
            if (key.startsWith("client_tls")) {
                try {
                    tls = io.usher.tls.ClientTls.build(next.settings());
                } catch (io.usher.tls.TlsConfigException e) {
                    return e.getMessage();
                }
            }
            if (key.startsWith("server_tls")) {
                try {
                    io.usher.tls.ServerTls.build(next.settings());
                } catch (io.usher.tls.TlsConfigException e) {
                    return e.getMessage();
                }
            }
            String problem = apply(next, tls);
            if (problem != null) {
                return problem;
            }
            log.info("SET {} = {}", key, value);
            return null;
        } catch (io.usher.config.ConfigException e) {
            return e.detail();
        }
    }

    private volatile Runnable shutdownRequest = this::close;
    /** Told of every configuration that a RELOAD or SET made current (the CLI re-applies logging). */
    private volatile java.util.function.Consumer<UsherConfig> configChange = c -> { };

    /** What ends Usher once a shutdown is due; the command line makes it stop the process. */
    /** {@code action} runs after each successful RELOAD or SET, with the new configuration. */
    public void onConfigChange(java.util.function.Consumer<UsherConfig> action) {
        this.configChange = action;
    }

    public void onShutdownRequest(Runnable action) {
        this.shutdownRequest = action;
    }

    /** The shutdown in progress, or null while running normally. */
    public ShutdownMode shutdownMode() {
        return shutdownMode;
    }

    /**
     * Begins a shutdown (console SHUTDOWN, signals). IMMEDIATE ends Usher now. The waiting modes
     * close the TCP listeners at once (the kernel hands new connections to a sibling on the same port
     * under so_reuseport), keep the Unix socket for the console and cancel requests, serve every
     * connection already accepted, and end Usher when what they wait for is done; a later call may
     * change the mode.
     */
    public synchronized void shutdown(ShutdownMode mode) {
        if (mode == ShutdownMode.IMMEDIATE) {
            shutdownMode = mode;
            runShutdownAction();
            return;
        }
        boolean first = shutdownMode == null;
        shutdownMode = mode;
        if (first && !handedOver) {
            List<io.netty.channel.ChannelFuture> closing = new ArrayList<>();
            for (Channel ch : listeners) {
                // the Unix socket stays (console, cancel requests from peers); Usher.close() ends it
                if (!isUnixListener(ch)) {
                    closing.add(ch.close());
                }
            }
            // from a signal or API thread, return only once nothing is accepted any more (an event
            // loop may not block: the console waits for accepting() instead)
            for (io.netty.channel.ChannelFuture f : closing) {
                if (!f.channel().eventLoop().inEventLoop()) {
                    f.awaitUninterruptibly(2, TimeUnit.SECONDS);
                }
            }
        }
        if (mode == ShutdownMode.WAIT_FOR_SERVERS) {
            for (ClientConnection c : clients) {
                c.refuseWaitDuringShutdown();
            }
        }
        log.info(mode == ShutdownMode.WAIT_FOR_SERVERS
                ? "shutting down: not accepting connections, waiting for servers to be released"
                : "shutting down: not accepting connections, waiting for clients to disconnect");
        checkShutdownDone();
    }

    /** Ends Usher once the shutdown in progress has nothing more to wait for (run by the janitor). */
    private void checkShutdownDone() {
        ShutdownMode mode = shutdownMode;
        if (mode == null || shutdownActionRun.get()) {
            return;
        }
        boolean done;
        if (!acceptedNotActive.isEmpty()
                || !handedOver && listeners.stream().anyMatch(ch -> ch.isOpen() && !isUnixListener(ch))) {
            // a connection accepted before the listener closed is served like any other (after a
            // takeover the listeners stay open, in the successor's hands)
            done = false;
        } else if (mode == ShutdownMode.WAIT_FOR_CLIENTS) {
            done = clients.stream().noneMatch(c -> !io.usher.admin.AdminConsole.DATABASE.equals(c.database()));
        } else {
            done = pools.pools().stream().allMatch(p -> p.snapshot().serversActive() == 0);
        }
        if (done) {
            log.info(mode == ShutdownMode.WAIT_FOR_CLIENTS ? "client connections dropped, exiting"
                    : "server connections released, exiting");
            runShutdownAction();
        }
    }

    /** Runs the shutdown action once, on its own thread (it stops the event loops this may run on). */
    private void runShutdownAction() {
        if (shutdownActionRun.compareAndSet(false, true)) {
            new Thread(shutdownRequest, "usher-shutdown").start();
        }
    }

    /**
     * Serves /metrics, /health and /ready over HTTP on {@code address} (Usher's own addition; off
     * unless asked for). Returns the bound port.
     */
    public int startHttp(InetSocketAddress address) throws IOException {
        io.usher.metrics.UsherMetrics metrics = new io.usher.metrics.UsherMetrics(this);
        ServerBootstrap b = new ServerBootstrap()
                .group(transport.workers())
                .channel(Transport.serverChannel())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new io.netty.handler.codec.http.HttpServerCodec(),
                                new io.netty.handler.codec.http.HttpObjectAggregator(8192),
                                new io.usher.metrics.HttpEndpoints(Usher.this, metrics));
                    }
                });
        try {
            Channel ch = b.bind(address).syncUninterruptibly().channel();
            httpListeners.add(ch);
            InetSocketAddress bound = (InetSocketAddress) ch.localAddress();
            log.info("serving /metrics, /health and /ready on http://{}:{}", bound.getHostString(), bound.getPort());
            return bound.getPort();
        } catch (Exception e) {
            throw new IOException("could not listen for HTTP on " + address + ": " + e.getMessage(), e);
        }
    }

    /** Why Usher is not ready for traffic (for /ready), or null when it is. */
    public String readinessProblem() {
        if (shutdownMode != null) {
            return "shutting down";
        }
        if (listeners.isEmpty()) {
            return "not listening";
        }
        for (io.usher.pool.Pool p : pools.pools()) {
            if (p.isLoginFailing()) {
                return "server logins are failing for " + p.key();
            }
        }
        return null;
    }

    /**
     * Waits for a successor on the control socket of {@link io.usher.takeover.TakeoverProtocol#controlSocket}
     * (usher -R; Linux epoll only). Called once Usher serves; a no-op without a place for the socket.
     */
    public void listenForTakeover() throws IOException {
        java.nio.file.Path path;
        try {
            path = io.usher.takeover.TakeoverProtocol.controlSocket(config.settings());
        } catch (IllegalArgumentException tooLong) {
            log.warn("{}: usher -R cannot take over", tooLong.getMessage());
            return;
        }
        if (path == null || !Transport.isEpoll()) {
            log.info("no takeover socket (needs unix_socket_dir or pidfile, and Linux epoll): usher -R cannot take over");
            return;
        }
        takeoverServer = io.usher.takeover.TakeoverServer.listen(path, transport.workers(),
                new io.usher.takeover.TakeoverServer.Handover() {
                    @Override
                    public List<Channel> listeners() {
                        return List.copyOf(listeners);
                    }

                    @Override
                    public List<io.usher.takeover.TakeoverProtocol.Kind> kinds() {
                        return listeners.stream().map(ch -> ch instanceof io.netty.channel.unix.ServerDomainSocketChannel
                                ? io.usher.takeover.TakeoverProtocol.Kind.UNIX : io.usher.takeover.TakeoverProtocol.Kind.TCP)
                                .toList();
                    }

                    @Override
                    public void handedOver() {
                        handOver();
                    }
                });
    }

    /**
     * The successor accepts on our listening sockets: stop accepting by taking them off our event
     * loops. They are not closed: closing the Unix one would delete its file, and connections queued
     * in the kernel stay for the successor either way. Then drain as SIGTERM does.
     */
    private void handOver() {
        handedOver = true;
        for (Channel ch : listeners) {
            ch.deregister();
        }
        takeoverServer.close();
        log.info("taken over by a new process: not accepting any more, serving the clients connected here until they leave");
        shutdown(ShutdownMode.WAIT_FOR_CLIENTS);
    }

    /** Whether the listening sockets went to a successor (usher -R). */
    public boolean handedOver() {
        return handedOver;
    }

    /**
     * Whether any listener still takes new clients (false once a shutdown has begun: the TCP listeners
     * are closed then, and the Unix socket takes only the console and cancel requests).
     */
    public boolean accepting() {
        return !handedOver && listeners.stream().anyMatch(ch -> ch.isOpen() && (shutdownMode == null || !isUnixListener(ch)));
    }

    private static boolean isUnixListener(Channel listener) {
        return listener instanceof io.netty.channel.unix.ServerDomainSocketChannel;
    }

    /** The first TCP port listened on (tests use port 0 in the config). */
    public int port() {
        for (Channel ch : listeners) {
            if (ch.localAddress() instanceof InetSocketAddress) {
                return ((InetSocketAddress) ch.localAddress()).getPort();
            }
        }
        return -1;
    }

    @Override
    public void close() {
        if (janitor != null) {
            janitor.cancel(false);
        }
        if (statsTask != null) {
            statsTask.cancel(false);
        }
        if (!handedOver) {
            for (Channel ch : listeners) {
                ch.close().syncUninterruptibly();
            }
        }
        if (takeoverServer != null) {
            takeoverServer.close();
        }
        for (Channel ch : httpListeners) {
            ch.close().syncUninterruptibly();
        }
        // close clients while the event loops still run, so each connection's cleanup runs
        List<io.netty.channel.ChannelFuture> closing = new ArrayList<>();
        for (ClientConnection c : clients) {
            if (c.channel() != null) {
                closing.add(c.channel().close());
            }
        }
        for (io.netty.channel.ChannelFuture f : closing) {
            f.awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        pools.close();
        transport.shutdown(); // closes every remaining client and server connection
        if (socketFile != null && !handedOver) {
            new File(socketFile.toString()).delete();
        }
    }
}

package io.usher.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.usher.Usher;
import io.usher.admin.AdminConsole;
import io.usher.auth.StoredSecret;
import io.usher.config.AuthType;
import io.usher.config.DatabaseConfig;
import io.usher.config.PoolMode;
import io.usher.config.Settings;
import io.usher.config.UsherConfig;
import io.usher.pool.ParameterSet;
import io.usher.pool.Pool;
import io.usher.pool.PoolSettings;
import io.usher.pool.ServerRequest;
import io.usher.protocol.MessageScanner;
import io.usher.protocol.MessageType;
import io.usher.protocol.Messages;
import io.usher.protocol.PgError;
import io.usher.protocol.ProtocolException;
import io.usher.protocol.SqlState;
import io.usher.protocol.StartupPacket;
import io.usher.server.ServerConnection;
import io.usher.stats.DatabaseStats;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One client connection: startup, authentication, then the data path. While the client has a
 * server, its bytes go to the server as they arrive and the server's bytes come back the same way;
 * the pooler only reads message types, lengths and ReadyForQuery status to know when the server
 * can go back to the pool. Everything here runs on the client's event loop.
 */
public final class ClientConnection extends ChannelInboundHandlerAdapter implements ServerRequest {
    private static final Logger log = LoggerFactory.getLogger(ClientConnection.class);

    /** LOOKUP: auth_query runs for a user auth_file does not know; the client waits for its password request. */
    private enum Phase { STARTUP, LOOKUP, AUTH, LOGIN_WAIT, READY, ADMIN, CLOSED }

    /** Largest message accepted before login (startup and password messages). */
    private static final int MAX_LOGIN_MESSAGE = 64 * 1024;

    private final Usher usher;
    private final UsherConfig config;
    private final Settings settings;
    private Channel channel;
    private EventLoop loop;
    private Phase phase = Phase.STARTUP;
    private ByteBuf inbound;                 // cumulation, only before login completes
    private final MessageScanner scanner;
    private final ClientSide clientSide = new ClientSide();
    private final ServerSide serverSide = new ServerSide();

    private String user;
    private String database;
    private DatabaseConfig databaseConfig;
    private Pool pool;
    private PoolMode mode;
    private ClientAuthenticator authenticator;
    /** auth_query in progress (phase LOOKUP), or null. */
    private AuthQueryLookup lookup;
    /** What auth_query returned for this client's user: its server connections log in with it. */
    private StoredSecret lookedUpSecret;
    private AdminConsole admin;
    private boolean adminBusy;             // set for clients of the virtual database "pgbouncer"
    private io.netty.util.concurrent.ScheduledFuture<?> loginTimer;
    /** Tracked parameters asked for at startup; interned into {@link #wanted} at the welcome. */
    private Map<String, String> wantedParameters = new LinkedHashMap<>();
    private ParameterSet wanted;
    private int cancelPid;
    private int cancelKey;
    private boolean counted;
    private boolean overLimit;
    /** The TLS handler once the client asked for TLS and got 'S'; null for a plain connection. */
    private io.netty.handler.ssl.SslHandler tls;
    /** Protocol and cipher of the finished handshake (SHOW CLIENTS "tls"); read from other threads. */
    private volatile String tlsInfo;
    private String countedDatabase;          // set once counted per database and user
    private String countedUser;

    /** Named prepared statements (transaction/statement pooling with max_prepared_statements), or null. */
    private io.usher.prepared.StatementTracker tracker;
    /** max_prepared_statements at login when this client's statements are tracked (made at its first send), else 0. */
    private int trackedStatements;
    /** With a tracker: the start of a server message header cut by a read, not yet sent to the client. */
    private ByteBuf heldServerHeader;

    /** The linked server; volatile only so that cancel requests from other loops can read it. */
    private volatile ServerConnection server;
    private boolean waiting;
    private final ArrayDeque<ByteBuf> pending = new ArrayDeque<>(2); // small: idle clients are the many
    private int pendingBytes;
    /** Bytes a client may send ahead while it waits for a server (a query or a small pipeline). */
    private static final int MAX_PENDING_BYTES = 64 * 1024;
    private int expectedReady;               // Query/Sync/FunctionCall sent and not yet answered
    private boolean unsynced;                // extended-protocol messages sent after the last Sync
    private boolean flushServer;
    private boolean terminated;
    private String closeReason;
    private DatabaseStats stats;             // the database's counters (SHOW STATS)
    private long queryStart;                 // nanoTime the query in flight was sent; 0 = none
    private long transactionStart;           // nanoTime the open transaction began; 0 = none
    private long waitStart;                  // nanoTime the client started waiting for a server
    private final long connectedNanos = System.nanoTime();
    private final long connectedMillis = System.currentTimeMillis();
    /** nanoTime of the client's last read (PgBouncer's request_time: query_timeout and client_idle_timeout count from it). */
    private long lastRequestNanos = connectedNanos;

    // ---- timeouts of a logged-in client (query, idle transaction, transaction, client idle) ----
    // One timer at most per client, armed for the earliest moment a timeout could strike. When it
    // fires it looks at the state of the moment: it acts, or arms itself for the next deadline (the
    // client sent something since, so the deadline moved). No timer while no timeout applies.
    /** nanoTime the last ReadyForQuery left the linked server idle in a transaction. */
    private long idleTxSince;
    private io.netty.util.concurrent.ScheduledFuture<?> timeoutTimer;
    private long timerDeadline;
    private final Runnable timeoutCheck = this::onTimeoutTimer;
    /** client_idle_timeout of this client's user (or the global one), in nanos; 0 = off. */
    private long clientIdleTimeoutNanos;
    /** server_fast_close: the linked server to close with this client as soon as its transaction ends. */
    private ServerConnection closeWhenClean;

    public ClientConnection(Usher usher) {
        this.usher = usher;
        this.config = usher.config();
        this.settings = config.settings();
        this.scanner = new MessageScanner(settings.getInt("max_packet_size"));
    }

    // ---- Netty events ----

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        loop = channel.eventLoop();
        inbound = ctx.alloc().buffer(256);
        counted = true;
        // max_client_conn counts connections from their accept, as PgBouncer does
        overLimit = !usher.clientOpened(this);
        long loginTimeout = settings.getDuration("client_login_timeout").toNanos();
        if (loginTimeout > 0) {
            loginTimer = loop.schedule(() -> {
                if (phase == Phase.STARTUP || phase == Phase.LOOKUP || phase == Phase.AUTH || phase == Phase.LOGIN_WAIT) {
                    fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, "client_login_timeout"));
                }
            }, loginTimeout, java.util.concurrent.TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf buf = (ByteBuf) msg;
        try {
            switch (phase) {
                case STARTUP:
                case AUTH:
                    inbound.writeBytes(buf);
                    buf.release();
                    processLogin();
                    return;
                case LOOKUP:
                    // nothing is due from the client before its password request; kept for then, but no
                    // more than one password message: past that Usher stops reading until the lookup ends
                    inbound.writeBytes(buf);
                    buf.release();
                    if (inbound.readableBytes() > MAX_LOGIN_MESSAGE + 5) {
                        channel.config().setAutoRead(false);
                    }
                    return;
                case LOGIN_WAIT:
                case READY:
                    fromClient(buf);
                    return;
                case ADMIN:
                    inbound.writeBytes(buf);
                    buf.release();
                    processAdmin();
                    return;
                default:
                    buf.release();
            }
        } catch (ProtocolException e) {
            fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, e.getMessage()));
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (flushServer) {
            flushServer = false;
            ServerConnection s = server;
            if (s != null) {
                s.channel().flush();
            }
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // a client that reads slowly stops the server's reads, so Usher never buffers a big result
        ServerConnection s = server;
        if (s != null) {
            s.channel().config().setAutoRead(ctx.channel().isWritable());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        phase = Phase.CLOSED;
        if (loginTimer != null) {
            // a pending client_login_timeout task would keep this connection (and its channel) reachable until it
            // fires: under a flood of short connections, client_login_timeout's worth of them
            loginTimer.cancel(false);
            loginTimer = null;
        }
        if (timeoutTimer != null) {
            timeoutTimer.cancel(false);
            timeoutTimer = null;
        }
        if (inbound != null) {
            inbound.release();
            inbound = null;
        }
        scanner.release();
        releasePending();
        if (lookup != null) {
            lookup.cancel();
            lookup = null;
        }
        if (waiting && pool != null) {
            pool.cancel(this);
            waiting = false;
        }
        ServerConnection s = server;
        if (s != null) {
            server = null;
            s.detach();
            if (isClean(s)) {
                returnToPool(s, true);
            } else {
                if (expectedReady > 0) {
                    // a query still runs: cancel it, or PostgreSQL keeps running it for nobody
                    usher.sendCancel(s, null);
                }
                s.close("client disconnect while server was not ready");
            }
        }
        if (tracker != null) {
            tracker.close();
        }
        if (heldServerHeader != null) {
            heldServerHeader.release();
            heldServerHeader = null;
        }
        if (counted) {
            counted = false;
            usher.clientClosed(this, countedDatabase, countedUser);
            if (pool != null) {
                pool.clientDetached();
            }
        }
        if (settings.getBool("log_disconnections") && user != null) {
            log.info("C: {}/{}@{} closing because: {} (age={}s)", database, user, remote(),
                    closeReason != null ? closeReason : "client unexpected eof",
                    (System.nanoTime() - connectedNanos) / 1_000_000_000L);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof java.io.IOException || cause.getCause() instanceof javax.net.ssl.SSLException) {
            // a dropped connection, or a TLS failure (logged with the handshake)
            log.debug("C: {}: {}", remote(), cause.toString());
        } else {
            log.warn("C: {}: internal error", remote(), cause);
        }
        ctx.close();
    }

    // ---- startup and authentication ----

    private void processLogin() throws ProtocolException {
        while (phase == Phase.STARTUP || phase == Phase.AUTH) {
            if (phase == Phase.STARTUP) {
                StartupPacket p = StartupPacket.decode(inbound);
                if (p == null) {
                    return;
                }
                onStartupPacket(p);
            } else {
                if (inbound.readableBytes() < 5) {
                    return;
                }
                byte type = inbound.getByte(inbound.readerIndex());
                int length = inbound.getInt(inbound.readerIndex() + 1);
                if (type != MessageType.PASSWORD) {
                    throw new ProtocolException("expected password response, got message type " + MessageType.printable(type));
                }
                if (length < 4 || length > MAX_LOGIN_MESSAGE) {
                    throw new ProtocolException("invalid password message length " + length);
                }
                if (inbound.readableBytes() < length + 1) {
                    return;
                }
                ByteBuf payload = inbound.retainedSlice(inbound.readerIndex() + 5, length - 4);
                inbound.skipBytes(length + 1);
                try {
                    onPasswordMessage(payload);
                } finally {
                    payload.release();
                }
            }
            if (inbound != null) {
                inbound.discardReadBytes();
            }
        }
        if (phase == Phase.ADMIN) {
            processAdmin();
        }
    }

    // ---- the admin console ----

    private void adminAuthenticated() {
        authenticator = null;
        if (loginTimer != null) {
            loginTimer.cancel(false);
            loginTimer = null;
        }
        phase = Phase.ADMIN;
        ByteBuf b = channel.alloc().buffer(256);
        Messages.writeAuthOk(b);
        admin.writeWelcome(b, wantedParameters);
        wantedParameters = null;
        Messages.writeBackendKeyData(b, 0, 0);
        Messages.writeReadyForQuery(b, (byte) 'I');
        channel.writeAndFlush(b);
    }

    private void resumeAdmin() {
        try {
            if (phase == Phase.ADMIN) {
                processAdmin();
            }
        } catch (ProtocolException e) {
            fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, e.getMessage()));
        }
    }

    /** Whole console messages from the cumulation buffer: simple queries only, as in PgBouncer. */
    private void processAdmin() throws ProtocolException {
        while (phase == Phase.ADMIN && !adminBusy && inbound.readableBytes() >= 5) {
            byte type = inbound.getByte(inbound.readerIndex());
            int length = inbound.getInt(inbound.readerIndex() + 1);
            if (length < 4 || length > MAX_LOGIN_MESSAGE) {
                throw new ProtocolException("invalid message length " + length + " for message type " + MessageType.printable(type));
            }
            if (inbound.readableBytes() < length + 1) {
                break;
            }
            ByteBuf payload = inbound.retainedSlice(inbound.readerIndex() + 5, length - 4);
            inbound.skipBytes(length + 1);
            try {
                switch (type) {
                    case MessageType.QUERY:
                        // one command at a time: PAUSE, for one, answers only when the pools are drained
                        adminBusy = true;
                        admin.execute(Messages.readCString(payload), loop, reply -> {
                            Messages.writeReadyForQuery(reply, (byte) 'I');
                            channel.writeAndFlush(reply);
                            adminBusy = false;
                            loop.execute(this::resumeAdmin);
                        });
                        break;
                    case MessageType.TERMINATE:
                        phase = Phase.CLOSED;
                        closeReason = "client close request";
                        channel.close();
                        return;
                    default:
                        throw new ProtocolException("unsupported pkt type: " + MessageType.printable(type)
                                + " (the admin console takes simple queries only)");
                }
            } finally {
                payload.release();
            }
        }
        if (inbound != null) {
            inbound.discardReadBytes();
        }
    }

    private void onStartupPacket(StartupPacket p) throws ProtocolException {
        switch (p.kind()) {
            case SSL_REQUEST:
                onSslRequest();
                return;
            case GSSENC_REQUEST:
                // no GSS encryption: 'N' tells the client to go on (it may ask for TLS next)
                channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'N'}));
                return;
            case CANCEL:
                phase = Phase.CLOSED;
                if (!usher.cancel(p.cancelPid(), p.cancelKey(), channel)) {
                    channel.close();
                }
                return;
            default:
                onStartup(p.parameters());
        }
    }

    /** Whether the client came over the Unix socket (never TLS there, as in PgBouncer and PostgreSQL). */
    private boolean isUnix() {
        return !(channel.localAddress() instanceof InetSocketAddress);
    }

    /**
     * SSLRequest: 'S' and the TLS handshake when client_tls_sslmode is not disable (and the client is
     * on TCP), else 'N'. The 'S' is written before the TLS handler is put in, so it goes out in plain text.
     */
    private void onSslRequest() throws ProtocolException {
        if (tls != null) {
            throw new ProtocolException("SSL req inside SSL");
        }
        io.usher.tls.ClientTls ct = usher.clientTls();
        if (!ct.enabled() || isUnix()) {
            channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'N'}));
            return;
        }
        if (inbound.isReadable()) {
            // bytes sent before the handshake would pass as if they had come encrypted
            throw new ProtocolException("received unencrypted data after SSL request");
        }
        channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'S'}));
        io.netty.handler.ssl.SslHandler handler = ct.newHandler(channel.alloc());
        tls = handler;
        channel.pipeline().addFirst("tls", handler);
        handler.handshakeFuture().addListener(f -> {
            if (f.isSuccess()) {
                tlsInfo = io.usher.tls.ClientTls.describe(handler.engine().getSession());
            } else if (settings.getBool("log_pooler_errors")) {
                log.info("C: {} TLS handshake failed: {}", remote(), f.cause() == null ? "closed" : f.cause().getMessage());
            }
        });
    }

    /** hba "peer": the OS user at the other end of the Unix socket has the name the client logs in as. */
    private boolean peerIsUser() {
        if (!(channel instanceof io.netty.channel.epoll.EpollDomainSocketChannel)) {
            return false;
        }
        try {
            int uid = ((io.netty.channel.epoll.EpollDomainSocketChannel) channel).peerCredentials().uid();
            return user.equals(io.usher.auth.OsUsers.nameOf(uid));
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    /** The client's certificate, when it showed a verified one over TLS. */
    private java.security.cert.X509Certificate peerCertificate() {
        if (tls == null) {
            return null;
        }
        try {
            java.security.cert.Certificate[] chain = tls.engine().getSession().getPeerCertificates();
            return chain.length > 0 && chain[0] instanceof java.security.cert.X509Certificate
                    ? (java.security.cert.X509Certificate) chain[0] : null;
        } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
            return null;
        }
    }

    private void onStartup(Map<String, String> params) {
        if (tls == null && !isUnix() && usher.clientTls().required()) {
            // client_tls_sslmode require and above: no plain TCP (PostgreSQL refuses such a login with 28000)
            fatal(PgError.fatal(SqlState.INVALID_AUTHORIZATION, "SSL required"));
            return;
        }
        user = params.get("user");
        database = params.getOrDefault("database", user);
        if (user == null || user.isEmpty()) {
            fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, "no username supplied"));
            return;
        }
        if (database == null || database.isEmpty()) {
            database = user;
        }
        if (settings.getBool("log_connections")) {
            log.info("C: {}/{}@{} login attempt: db={} user={} tls={}", database, user, remote(), database, user,
                    tlsInfo != null ? tlsInfo : "no");
        }
        if (overLimit) {
            fatal(PgError.fatal(SqlState.TOO_MANY_CONNECTIONS, "no more connections allowed (max_client_conn)"));
            return;
        }
        if (database.equals(AdminConsole.DATABASE)) {
            if (AdminConsole.isLocalSuperuser(channel, user)) {
                // as PgBouncer: user "pgbouncer" over the Unix socket from Usher's own OS user needs no password
                admin = new AdminConsole(usher, AdminConsole.Role.ADMIN);
                authenticated();
                return;
            }
            AdminConsole.Role role = AdminConsole.roleOf(settings, user);
            if (role == null) {
                fatal(PgError.fatal(SqlState.INVALID_AUTHORIZATION, "not allowed"));
                return;
            }
            admin = new AdminConsole(usher, role);
            startAuthentication();
            return;
        }
        if (channel.hasAttr(Usher.ACCEPTED_WHILE_SHUTTING_DOWN)) {
            fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, "pooler is shutting down"));
            return;
        }
        if (usher.pools().isDisabled(database)) {
            fatal(PgError.fatal(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE, "database does not allow connections: " + database));
            return;
        }
        Optional<DatabaseConfig> db = config.database(database);
        if (db.isEmpty()) {
            fatal(PgError.fatal(SqlState.INVALID_CATALOG_NAME, "no such database: " + database));
            return;
        }
        databaseConfig = db.get();
        String limited = usher.admitToDatabaseAndUser(this, databaseConfig, user);
        if (limited != null) {
            fatal(PgError.fatal(SqlState.TOO_MANY_CONNECTIONS, "client connections exceeded (" + limited + ")"));
            return;
        }
        TrackedParameters tracked = usher.trackedParameters();
        for (Map.Entry<String, String> e : params.entrySet()) {
            String name = e.getKey();
            if (name.equals("user") || name.equals("database")) {
                continue;
            }
            String canonical = tracked.canonical(name);
            if (canonical != null) {
                wantedParameters.put(canonical, e.getValue());
            } else if (name.equals("options") && !ignored(name)) {
                // -c settings of tracked parameters, restored on every server like the others
                try {
                    for (Map.Entry<String, String> o : StartupOptions.parse(e.getValue()).entrySet()) {
                        String c = tracked.canonical(o.getKey());
                        if (c != null) {
                            wantedParameters.put(c, o.getValue());
                        } else if (!ignored(o.getKey())) {
                            fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION,
                                    "unsupported startup parameter in options: " + o.getKey()));
                            return;
                        }
                    }
                } catch (ProtocolException bad) {
                    fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, bad.getMessage()));
                    return;
                }
            } else if (!ignored(name)) {
                fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, "unsupported startup parameter: " + name));
                return;
            }
        }
        if (settings.getBool("application_name_add_host")) {
            InetSocketAddress a = remote() instanceof InetSocketAddress ? (InetSocketAddress) remote() : null;
            String host = a == null ? "unix" : a.getAddress().getHostAddress() + ":" + a.getPort();
            wantedParameters.merge("application_name", " - " + host, String::concat);
        }
        startAuthentication();
    }

    private boolean ignored(String name) {
        for (String n : settings.getList("ignore_startup_parameters")) {
            if (n.equalsIgnoreCase(name)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The user's secret from auth_file; failing that, as PgBouncer, from auth_query when an auth_user
     * is set (for the database, else globally), which makes the client wait for the answer.
     */
    private void startAuthentication() {
        Optional<String> stored = config.userList().secret(user);
        if (stored.isEmpty() && settings.authType() != AuthType.ANY) {
            String authUser = databaseConfig != null && databaseConfig.authUser() != null
                    ? databaseConfig.authUser() : settings.getString("auth_user");
            if (!authUser.isEmpty()) {
                startLookup(authUser);
                return;
            }
        }
        authenticate(stored.isPresent(), stored.map(StoredSecret::parse).orElse(null));
    }

    /**
     * auth_query for this client's user, as auth_user, on auth_dbname (for the database, else
     * globally, else the client's own database), with PgBouncer's checks of that database.
     */
    private void startLookup(String authUser) {
        String sql = databaseConfig != null && databaseConfig.authQuery() != null
                ? databaseConfig.authQuery() : settings.getString("auth_query");
        String authDbname = databaseConfig != null && databaseConfig.authDbname() != null
                ? databaseConfig.authDbname() : settings.getString("auth_dbname");
        DatabaseConfig authDb = databaseConfig;
        if (!authDbname.isEmpty()) {
            authDb = AdminConsole.DATABASE.equals(authDbname) ? null : config.database(authDbname).orElse(null);
            if (authDb == null && !AdminConsole.DATABASE.equals(authDbname)) {
                log.error("C: {}/{}@{} authentication database \"{}\" is not configured.", database, user, remote(), authDbname);
                fatal(PgError.fatal(SqlState.INVALID_AUTHORIZATION, "bouncer config error"));
                return;
            }
            if (authDb != null && usher.pools().isDisabled(authDbname)) {
                fatal(PgError.fatal(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "authentication database \"" + authDbname + "\" is disabled"));
                return;
            }
        }
        if (authDb == null) {
            // the console (or auth_dbname = pgbouncer) has no PostgreSQL database to ask
            log.error("C: {}/{}@{} cannot use the reserved \"{}\" database as an auth_dbname", database, user, remote(),
                    AdminConsole.DATABASE);
            fatal(PgError.fatal(SqlState.INVALID_AUTHORIZATION, "bouncer config error"));
            return;
        }
        phase = Phase.LOOKUP;
        lookup = new AuthQueryLookup(usher.pools().poolForLogin(authDb, authUser), sql, user, loop,
                () -> phase == Phase.LOOKUP, this::lookedUp);
        lookup.start();
    }

    /** auth_query answered (on this loop): on with the password exchange, or the login fails. */
    private void lookedUp(AuthQueryLookup.Answer answer) {
        lookup = null;
        if (phase != Phase.LOOKUP) {
            return;
        }
        channel.config().setAutoRead(true);
        if (answer.unavailable() != null) {
            fatal(answer.unavailable());
            return;
        }
        io.usher.server.AuthQueryResult r = answer.result();
        if (!r.ok()) {
            PgError e = r.serverError();
            log.warn("C: {}/{}@{} auth_query failed: {}{}", database, user, remote(), r.failure(),
                    e == null ? "" : " (" + e.sqlState() + ": " + e.message() + ")");
            fatal(PgError.fatal(SqlState.INVALID_AUTHORIZATION, r.failure()));
            return;
        }
        // not found, or found without a password (NULL: e.g. an expired role): the exchange runs and
        // fails at its end exactly as for a wrong password
        StoredSecret secret = r.found() && r.password() != null ? StoredSecret.parse(r.password()) : null;
        if (!r.found() && log.isDebugEnabled()) {
            log.debug("C: {}/{}@{} auth_query: no such user", database, user, remote());
        }
        lookedUpSecret = secret;
        authenticate(r.found(), secret);
        if (phase == Phase.AUTH && inbound != null && inbound.isReadable()) {
            try {
                processLogin();
            } catch (ProtocolException e) {
                fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, e.getMessage()));
            }
        }
    }

    /** Authentication with the user's secret ({@code known}: auth_file or auth_query has the user). */
    private void authenticate(boolean known, StoredSecret secret) {
        AuthType type = settings.authType();
        if (type == AuthType.HBA) {
            // auth_hba_file decides the method from the connection's kind, address, TLS, database and user
            InetAddress from = remote() instanceof InetSocketAddress ? ((InetSocketAddress) remote()).getAddress() : null;
            io.usher.auth.HbaRules.Decision d = usher.hba().evaluate(from, tls != null, database, user);
            if (d.method() == null) {
                fatal(PgError.fatal(SqlState.INVALID_AUTHORIZATION, "login rejected"));
                return;
            }
            if (d.peer() && !peerIsUser()) {
                fatal(PgError.fatal(SqlState.INVALID_AUTHORIZATION, "unix socket login rejected"));
                return;
            }
            type = d.method();
        }
        if (type == AuthType.CERT) {
            String problem = certificateProblem(known);
            if (problem != null) {
                if (settings.getBool("log_pooler_errors")) {
                    log.warn("C: {}/{}@{} {}", database, user, remote(), problem);
                }
                fatal(PgError.fatal(SqlState.INVALID_AUTHORIZATION, "certificate authentication failed"));
                return;
            }
        }
        if (type == AuthType.TRUST && !known && (databaseConfig == null || databaseConfig.user() == null)) {
            fatal(PgError.fatal(SqlState.INVALID_AUTHORIZATION, "no such user: " + user));
            return;
        }
        authenticator = new ClientAuthenticator(type, user, secret, plain -> usher.scramVerifier(user, plain));
        if (!authenticator.needsPassword()) {
            authenticated();
            return;
        }
        phase = Phase.AUTH;
        channel.writeAndFlush(authenticator.start());
    }

    /**
     * auth_type = cert, as PgBouncer: the client came over TLS with a verified certificate whose
     * CommonName is the user name it logs in as, and the user is known. Returns what is wrong, or null.
     */
    private String certificateProblem(boolean knownUser) {
        if (tls == null) {
            return "TLS connection required";
        }
        java.security.cert.X509Certificate cert = peerCertificate();
        if (cert == null) {
            return "TLS client certificate required";
        }
        if (!knownUser) {
            return "no such user: " + user;
        }
        if (!user.equals(io.usher.tls.CertNames.commonName(cert))) {
            return "TLS certificate name mismatch";
        }
        return null;
    }

    private void onPasswordMessage(ByteBuf payload) throws ProtocolException {
        ClientAuthenticator.Step step = authenticator.onPasswordMessage(payload);
        if (step.reply() != null) {
            channel.write(step.reply());
        }
        switch (step.outcome()) {
            case CONTINUE:
                channel.flush();
                return;
            case FAILED:
                if (settings.getBool("log_pooler_errors")) {
                    log.warn("C: {}/{}@{} {}", database, user, remote(), step.failure());
                }
                fatal(PgError.fatal(SqlState.INVALID_PASSWORD, step.failure()));
                return;
            default:
                authenticated();
        }
    }

    private void authenticated() {
        if (admin != null) {
            adminAuthenticated();
            return;
        }
        if (lookedUpSecret != null) {
            usher.pools().learnSecret(databaseConfig, user, lookedUpSecret);
            lookedUpSecret = null;
        }
        pool = usher.pools().attach(databaseConfig, user);
        // the pool's copies of the names: thousands of idle clients then hold no strings of their own
        if (pool.key().user().equals(user)) {
            user = pool.key().user();
        }
        if (pool.key().database().equals(database)) {
            database = pool.key().database();
        }
        stats = pool.stats();
        mode = pool.settings().mode();
        int maxPrepared = settings.getInt("max_prepared_statements");
        if (mode != PoolMode.SESSION && maxPrepared > 0) {
            trackedStatements = maxPrepared; // the tracker itself comes with the first message to a server
        }
        if (authenticator.scramKeys() != null) {
            pool.endpoint().credentials().rememberScramKeys(authenticator.scramKeys());
        }
        int[] key = usher.registerCancelKey(this);
        cancelPid = key[0];
        cancelKey = key[1];
        phase = Phase.LOGIN_WAIT;
        ByteBuf rest = inbound.isReadable() ? inbound.retainedSlice() : null;
        inbound.release();
        inbound = null;
        if (pool.serverParameters() != null) {
            sendWelcome(pool.serverParameters());
        } else {
            // the first client of a pool waits for a server to learn the parameters to announce
            requestServer();
        }
        if (rest != null) {
            try {
                fromClient(rest);
            } catch (ProtocolException e) {
                fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, e.getMessage()));
            }
        }
    }

    private void sendWelcome(Map<String, String> serverParameters) {
        for (String name : usher.trackedParameters().names()) {
            String v = serverParameters.get(name);
            if (v != null) {
                wantedParameters.putIfAbsent(name, v);
            }
        }
        wanted = pool.parameterSets().intern(wantedParameters);
        ByteBuf b = channel.alloc().buffer(512);
        // login state is not needed any more: an idle client should cost as little memory as possible
        authenticator = null;
        if (loginTimer != null) {
            loginTimer.cancel(false);
            loginTimer = null;
        }
        Messages.writeAuthOk(b);
        for (Map.Entry<String, String> e : serverParameters.entrySet()) {
            String v = wantedParameters.getOrDefault(e.getKey(), e.getValue());
            Messages.writeParameterStatus(b, e.getKey(), v);
        }
        wantedParameters = null;
        Messages.writeBackendKeyData(b, cancelPid, cancelKey);
        Messages.writeReadyForQuery(b, (byte) 'I');
        channel.writeAndFlush(b);
        phase = Phase.READY;
        if (settings.getBool("log_connections")) {
            log.info("C: {}/{}@{} login successful", database, user, remote());
        }
        clientIdleTimeoutNanos = clientIdleTimeout(usher.config(), user);
        scheduleTimeouts();
    }

    // ---- client -> server ----

    private void fromClient(ByteBuf buf) throws ProtocolException {
        stats.received(buf.readableBytes());
        lastRequestNanos = System.nanoTime();
        int stop;
        try {
            stop = scanner.scan(buf, clientSide);
        } catch (ProtocolException e) {
            buf.release();
            throw e;
        }
        if (terminated) {
            // forward what came before Terminate; the pooler answers the Terminate itself
            int start = clientSide.terminateStart;
            if (start > buf.readerIndex()) {
                forward(buf.retainedSlice(buf.readerIndex(), start - buf.readerIndex()));
            }
            buf.release();
            if (clientSide.terminateStart < 0) {
                unsynced = true; // part of the Terminate went to the server: it must not be reused
            }
            channelReadComplete(null);
            phase = Phase.CLOSED;
            closeReason = "client close request";
            channel.close();
            return;
        }
        if (stop != buf.writerIndex()) {
            buf.release();
            throw new ProtocolException("unexpected data");
        }
        forward(buf);
        if (server != null && pool.settings().hasServerTimeouts()) {
            // a query or transaction may have begun on the linked server (session mode keeps it linked)
            scheduleTimeouts();
        }
    }

    private void forward(ByteBuf buf) {
        ServerConnection s = server;
        if (s != null && pending.isEmpty()) {
            if (sendToServer(s, buf)) {
                flushServer = true;
            }
            return;
        }
        pending.add(buf);
        pendingBytes += buf.readableBytes();
        if (pendingBytes > MAX_PENDING_BYTES) {
            // a client without a server may not make Usher buffer more than this: stop reading it
            channel.config().setAutoRead(false);
        }
        if (s == null && !waiting && phase == Phase.READY) {
            requestServer();
        }
    }

    private void requestServer() {
        if (usher.shutdownMode() == io.usher.ShutdownMode.WAIT_FOR_SERVERS) {
            fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, "pooler is shutting down"));
            return;
        }
        waiting = true;
        waitStart = System.nanoTime();
        pool.acquire(this);
    }

    /** Reads of the client stream: counts what will be answered with ReadyForQuery, finds Terminate. */
    private final class ClientSide implements MessageScanner.Listener {
        int terminateStart;

        @Override
        public boolean onHeader(byte type, int payloadLength, int start) throws ProtocolException {
            switch (type) {
                case MessageType.QUERY:
                case MessageType.SYNC:
                case MessageType.FUNCTION_CALL:
                    if (expectedReady++ == 0) {
                        queryStart = lastRequestNanos;
                        if (transactionStart == 0) {
                            transactionStart = queryStart;
                        }
                    }
                    unsynced = false;
                    return false;
                case MessageType.TERMINATE:
                    terminateStart = start;
                    return true;
                case MessageType.COPY_DATA:
                case MessageType.COPY_DONE:
                case MessageType.COPY_FAIL:
                    return false;
                default:
                    if (!MessageType.isFrontendType(type)) {
                        throw new ProtocolException("unsupported pkt type: " + MessageType.printable(type));
                    }
                    unsynced = true;
                    return false;
            }
        }

        @Override
        public boolean onMessage(byte type, ByteBuf payload, int start, int end) {
            terminated = true;
            return false;
        }
    }

    // ---- the pool's answers ----

    @Override
    public EventLoop eventLoop() {
        return loop;
    }

    @Override
    public boolean isLogin() {
        return phase == Phase.LOGIN_WAIT && pool.serverParameters() == null;
    }

    @Override
    public boolean isActive() {
        return phase != Phase.CLOSED;
    }

    @Override
    public void serverAssigned(ServerConnection s) {
        // 'waiting' stays set until the server is linked: checks and SETs may still run first
        if (phase == Phase.CLOSED) {
            waiting = false;
            returnToPool(s, false);
            return;
        }
        if (s.needsCheck(pool.settings())) {
            // idle longer than server_check_delay: make sure it still answers before use
            s.detach();
            s.runInternal(pool.settings().checkQuery(), err -> loop.execute(() -> {
                if (err != null) {
                    s.close("server check query failed: " + err.message());
                    if (phase != Phase.CLOSED) {
                        requestServer();
                    } else {
                        waiting = false;
                    }
                } else if (phase == Phase.CLOSED) {
                    waiting = false;
                    returnToPool(s, false);
                } else {
                    s.assignTo(this);
                    serverChecked(s);
                }
            }));
            return;
        }
        serverChecked(s);
    }

    private void serverChecked(ServerConnection s) {
        if (phase == Phase.LOGIN_WAIT) {
            sendWelcome(pool.serverParameters() != null ? pool.serverParameters() : s.parameters());
            if (pending.isEmpty() && mode != PoolMode.SESSION) {
                waiting = false;
                s.detach();
                returnToPool(s, false);
                channel.config().setAutoRead(true);
                return;
            }
        }
        ParameterSet want = wanted;
        String restore = s.appliedParameters() == want ? "" : usher.trackedParameters().restoreSql(want.values(), s.parameters());
        if (restore.isEmpty()) {
            s.appliedParameters(want);
            link(s);
            return;
        }
        s.detach();
        s.runInternal(restore, err -> loop.execute(() -> {
            if (err != null) {
                waiting = false;
                log.warn("C: {}/{}@{} restoring parameters failed: {}", database, user, remote(), err.message());
                s.close("parameter restore failed");
                fatal(err);
            } else if (phase == Phase.CLOSED) {
                waiting = false;
                returnToPool(s, false);
            } else {
                // the server's own spelling of what was set is what the client has from now on
                Map<String, String> now = new LinkedHashMap<>(wanted.values());
                now.replaceAll((k, v) -> s.parameters().getOrDefault(k, v));
                wanted = pool.parameterSets().intern(now);
                s.appliedParameters(wanted);
                s.assignTo(this);
                link(s);
            }
        }));
    }

    private void link(ServerConnection s) {
        waiting = false;
        server = s;
        stats.serverAssigned(waitStart == 0 ? 0 : System.nanoTime() - waitStart);
        waitStart = 0;
        s.transactionStatus((byte) 'I');
        boolean any = false;
        ByteBuf b;
        while ((b = pending.poll()) != null) {
            if (!sendToServer(s, b)) {
                return;
            }
            any = true;
        }
        pendingBytes = 0;
        if (any) {
            s.channel().flush();
        }
        channel.config().setAutoRead(s.channel().isWritable() && !trackerWaiting());
        s.channel().config().setAutoRead(channel.isWritable());
        if (!any) {
            maybeRelease(s);
        }
        scheduleTimeouts();
    }

    /**
     * Writes client bytes to its server (no flush): as they are, or through the statement tracker.
     * False if the client was closed for a malformed message.
     */
    private boolean sendToServer(ServerConnection s, ByteBuf buf) {
        if (tracker == null) {
            if (trackedStatements == 0) {
                s.channel().write(buf);
                return true;
            }
            tracker = new io.usher.prepared.StatementTracker(usher.statementRegistry(), channel.alloc(), stats,
                    settings.getInt("max_packet_size"), trackedStatements);
        }
        try {
            tracker.toServer(buf, s.statements(usher.statementRegistry()), s.channel());
        } catch (ProtocolException e) {
            malformedForTracker(s, e);
            return false;
        }
        afterTracker(s);
        return true;
    }

    /**
     * A statement message that waited for the server's answers to earlier pipelines (StatementTracker)
     * goes on, with what the client sent after it. Called after a read of the server's answers.
     */
    private void resumeTracker(ServerConnection s) {
        try {
            tracker.resume();
        } catch (ProtocolException e) {
            malformedForTracker(s, e);
            return;
        }
        afterTracker(s);
        s.channel().flush();
        if (!tracker.waiting()) {
            channel.config().setAutoRead(s.channel().isWritable());
        }
    }

    private void afterTracker(ServerConnection s) {
        if (tracker.fakesDue() && heldServerHeader == null && s.scanner().atBoundary()) {
            tracker.emitDueFakes(channel); // answers of Usher's own with nothing outstanding before them
        }
        if (tracker.clientFlushNeeded()) {
            channel.flush();
        }
        if (tracker.waiting()) {
            // it holds what the client sends until the server has answered: read no more until then
            channel.config().setAutoRead(false);
        }
    }

    private void malformedForTracker(ServerConnection s, ProtocolException e) {
        server = null;
        s.detach();
        s.close("malformed message from client");
        fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, e.getMessage()));
    }

    /** Whether the statement tracker holds the client's messages (its reads stay paused). */
    private boolean trackerWaiting() {
        return tracker != null && tracker.waiting();
    }

    @Override
    public void serverUnavailable(PgError error) {
        waiting = false;
        fatal(error);
    }

    // ---- server -> client ----

    @Override
    public void onServerData(ServerConnection s, ByteBuf data, boolean flush) {
        if (s != server) {
            data.release();
            s.close("server sent data after it was released");
            return;
        }
        serverSide.cutAt = -1;
        serverSide.releasable = false;
        serverSide.sawReady = false;
        serverSide.chunk = data;
        serverSide.segmentStart = data.readerIndex();
        try {
            s.scanner().scan(data, serverSide);
        } catch (ProtocolException e) {
            serverSide.chunk = null;
            data.release();
            log.warn("S: {} protocol error: {}", s.describe(), e.getMessage());
            s.close(e.getMessage());
            fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, "server conn crashed?"));
            return;
        }
        if (serverSide.cutAt >= 0) {
            // statement pooling: the server opened a transaction; the client is told so instead
            serverSide.writeSegment(serverSide.cutAt);
            serverSide.chunk = null;
            data.release();
            server = null;
            s.detach();
            s.close("transaction blocks not allowed in statement pooling mode");
            fatal(PgError.fatal(SqlState.FEATURE_NOT_SUPPORTED, "transaction blocks not allowed in statement pooling mode"));
            return;
        }
        stats.sent(data.readableBytes());
        if (tracker == null) {
            channel.write(data, channel.voidPromise()); // a failed write closes the client (exceptionCaught)
        } else {
            // held back: a header cut by the read, in case its message is one to drop
            int end = data.writerIndex();
            int partial = s.scanner().partialHeaderBytes();
            if (partial > 0) {
                // its start may be held already: a header can straddle more than two reads
                int here = partial - (heldServerHeader == null ? 0 : heldServerHeader.readableBytes());
                end -= here;
                if (heldServerHeader == null) {
                    heldServerHeader = channel.alloc().buffer(5);
                }
                heldServerHeader.writeBytes(data, end, here);
            }
            if (serverSide.segmentStart == data.readerIndex() && end == data.writerIndex()) {
                channel.write(data, channel.voidPromise()); // nothing dropped or inserted: the read goes on whole
            } else {
                serverSide.writeSegment(end);
                data.release();
            }
            if (s.scanner().atBoundary()) {
                tracker.emitDueFakes(channel);
            }
            if (serverSide.sawReady) {
                serverSide.releasable = canRelease(s);
            }
        }
        serverSide.chunk = null;
        if (flush) {
            channel.flush();
        }
        if (serverSide.releasable) {
            if (!flush) {
                channel.flush();
            }
            maybeRelease(s);
        }
        if (serverSide.sawReady && s == server) {
            if (closeWhenClean == s && isClean(s)) {
                if (!flush) {
                    channel.flush();
                }
                fastClose(s);
            } else if (idleTxSince != 0) {
                scheduleTimeouts(); // idle in transaction from now on
            }
            if (s == server && tracker != null && tracker.canResume()) {
                resumeTracker(s);
            }
        }
    }

    @Override
    public void onServerReadComplete(ServerConnection s) {
        if (s == server || server == null) {
            channel.flush();
        }
    }

    @Override
    public void onServerClosed(ServerConnection s) {
        if (s != server) {
            return;
        }
        server = null;
        fatal(PgError.fatal(SqlState.CONNECTION_FAILURE, "server conn crashed?"));
    }

    @Override
    public void onServerWritabilityChanged(ServerConnection s, boolean writable) {
        if (s == server && phase != Phase.CLOSED) {
            channel.config().setAutoRead(writable && !trackerWaiting());
        }
    }

    /** Reads of the server stream: ReadyForQuery status and parameter changes. */
    private final class ServerSide implements MessageScanner.Listener {
        int cutAt;
        boolean releasable;
        boolean sawReady;
        ByteBuf chunk;          // the read being scanned
        int segmentStart;       // with a tracker: where the part not yet written to the client begins

        /** Writes the scanned read from segmentStart up to {@code upTo} to the client. */
        void writeSegment(int upTo) {
            if (tracker == null) {
                if (upTo > chunk.readerIndex()) {
                    channel.write(chunk.retainedSlice(chunk.readerIndex(), upTo - chunk.readerIndex()), channel.voidPromise());
                }
                return;
            }
            if (upTo > segmentStart) {
                channel.write(chunk.retainedSlice(segmentStart, upTo - segmentStart), channel.voidPromise());
            }
            segmentStart = Math.max(segmentStart, upTo);
        }

        @Override
        public boolean onHeader(byte type, int payloadLength, int start) throws ProtocolException {
            boolean wantTag = false;
            if (tracker != null) {
                int at = start >= 0 ? start : chunk.readerIndex();
                if (tracker.fakesDue()) {
                    // a message boundary: answers Usher owes the client go before this message
                    writeSegment(at);
                    tracker.emitDueFakes(channel);
                }
                int action = tracker.onServerHeader(type, payloadLength);
                if (action == io.usher.prepared.StatementTracker.DROP) {
                    if (payloadLength != 0) {
                        throw new ProtocolException("unexpected payload in " + MessageType.printable(type));
                    }
                    if (start >= 0) {
                        writeSegment(start);
                        segmentStart = start + 5;
                    } else {
                        int heldLength = heldServerHeader == null ? 0 : heldServerHeader.readableBytes();
                        if (heldServerHeader != null) {
                            heldServerHeader.release();
                            heldServerHeader = null;
                        }
                        segmentStart = chunk.readerIndex() + 5 - heldLength;
                    }
                    return false;
                }
                if (start < 0 && heldServerHeader != null) {
                    channel.write(heldServerHeader);
                    heldServerHeader = null;
                }
                wantTag = action == io.usher.prepared.StatementTracker.FORWARD_WANT_PAYLOAD;
            }
            return wantTag || type == MessageType.READY_FOR_QUERY || type == MessageType.PARAMETER_STATUS;
        }

        @Override
        public boolean onMessage(byte type, ByteBuf payload, int start, int end) throws ProtocolException {
            ServerConnection s = server;
            if (type == MessageType.COMMAND_COMPLETE) {
                tracker.onCommandComplete(payload);
                return true;
            }
            if (type == MessageType.PARAMETER_STATUS) {
                String name = Messages.readCString(payload);
                String value = Messages.readCString(payload);
                s.parameters().put(name, value);
                if (wanted.values().containsKey(name) || usher.trackedParameters().canonical(name) != null) {
                    // the client changed a tracked setting: it is now part of what it wants everywhere
                    wanted = wanted.with(name, value, pool.parameterSets());
                    s.appliedParameters(wanted);
                }
                return true;
            }
            if (payloadLengthInvalid(payload)) {
                throw new ProtocolException("invalid ReadyForQuery");
            }
            byte status = payload.getByte(payload.readerIndex());
            s.transactionStatus(status);
            if (expectedReady > 0) {
                expectedReady--;
            }
            long now = countQuery(status);
            // idle_transaction_timeout counts from the ReadyForQuery that left the transaction idle
            idleTxSince = status != 'I' && expectedReady == 0 ? now : 0;
            sawReady = true;
            if (mode == PoolMode.STATEMENT && status != 'I') {
                cutAt = start >= 0 ? start : 0;
                return false;
            }
            releasable = canRelease(s);
            return true;
        }

        private boolean payloadLengthInvalid(ByteBuf payload) {
            return payload.readableBytes() != 1;
        }
    }

    /** PgBouncer's counting: a query per ReadyForQuery, a transaction each time the status is back to idle. Returns now. */
    private long countQuery(byte status) {
        long now = System.nanoTime();
        if (queryStart != 0) {
            stats.queryDone(now - queryStart);
            queryStart = expectedReady > 0 ? now : 0;
        }
        if (status == 'I' && transactionStart != 0) {
            stats.transactionDone(now - transactionStart);
            transactionStart = expectedReady > 0 ? now : 0;
        }
        return now;
    }

    // ---- giving the server back ----

    private boolean canRelease(ServerConnection s) {
        return mode != PoolMode.SESSION && isClean(s);
    }

    /** Nothing in flight either way and no transaction open: the next client may have it. */
    private boolean isClean(ServerConnection s) {
        return expectedReady == 0 && !unsynced && s.transactionStatus() == 'I'
                && s.scanner().atBoundary() && scanner.atBoundary()
                && (tracker == null || (tracker.isIdle() && heldServerHeader == null));
    }

    private void maybeRelease(ServerConnection s) {
        if (s == server && canRelease(s)) {
            server = null;
            closeWhenClean = null;
            s.detach();
            returnToPool(s, false);
            if (!pending.isEmpty() && phase == Phase.READY) {
                requestServer();
            } else {
                scheduleTimeouts(); // client_idle_timeout counts from now on
            }
        }
    }

    /** Back to the pool, after the reset query where PgBouncer runs one. */
    private void returnToPool(ServerConnection s, boolean clientClosed) {
        s.channel().config().setAutoRead(true);
        String reset = pool.settings().resetQuery();
        boolean runReset = !reset.isEmpty() && (pool.settings().resetQueryAlways()
                || (mode == PoolMode.SESSION && clientClosed));
        if (!runReset) {
            pool.release(s);
            return;
        }
        s.runInternal(reset, err -> {
            if (err != null) {
                s.close("server_reset_query failed: " + err.message());
            } else {
                pool.release(s);
            }
        });
    }

    // ---- timeouts ----

    /** client_idle_timeout for a client user: its [users] value when above 0, else the global one. */
    private static long clientIdleTimeout(UsherConfig config, String user) {
        io.usher.config.UserConfig uc = config.users().get(user);
        if (uc != null && uc.clientIdleTimeout() != null && uc.clientIdleTimeout().toNanos() > 0) {
            return uc.clientIdleTimeout().toNanos();
        }
        return config.settings().getDuration("client_idle_timeout").toNanos();
    }

    /** RELOAD or SET changed the settings: timeouts of this client are looked at again. Any thread. */
    public void settingsChanged() {
        loop.execute(() -> {
            if (phase == Phase.READY) {
                clientIdleTimeoutNanos = clientIdleTimeout(usher.config(), user);
                scheduleTimeouts();
            }
        });
    }

    /** Arms the timer for the earliest timeout of the present state, if any applies. */
    private void scheduleTimeouts() {
        long deadline = checkTimeouts(System.nanoTime(), false);
        if (deadline != 0) {
            armTimeout(deadline);
        }
    }

    private void armTimeout(long deadline) {
        if (timeoutTimer != null) {
            if (deadline - timerDeadline >= 0) {
                return; // it fires earlier and looks again
            }
            timeoutTimer.cancel(false);
        }
        timerDeadline = deadline;
        timeoutTimer = loop.schedule(timeoutCheck, Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    private void onTimeoutTimer() {
        timeoutTimer = null;
        long next = checkTimeouts(System.nanoTime(), true);
        if (next != 0) {
            armTimeout(next);
        }
    }

    /**
     * PgBouncer 1.25's timeouts of a logged-in client, in its order. With {@code enforce}, the first
     * that has passed disconnects the client (and its server). Returns the earliest deadline still
     * ahead (nanoTime), or 0 when none applies.
     * <ul>
     * <li>A linked server that is not idle-ready (a query in flight or a transaction open):
     * query_timeout counts from the client's last request (so, as in PgBouncer 1.25, it also ends a
     * transaction left idle that long), idle_transaction_timeout from the ReadyForQuery that left the
     * transaction idle, transaction_timeout from the start of the transaction (or of the query).</li>
     * <li>No server and not waiting for one: client_idle_timeout, from the client's last request.</li>
     * </ul>
     */
    private long checkTimeouts(long now, boolean enforce) {
        if (phase != Phase.READY) {
            return 0;
        }
        ServerConnection s = server;
        if (s != null) {
            PoolSettings ps = pool.settings();
            if (!ps.hasServerTimeouts() || isClean(s)) {
                return 0;
            }
            long next = 0;
            if (ps.queryTimeoutNanos() > 0) {
                long d = lastRequestNanos + ps.queryTimeoutNanos();
                if (enforce && now - d >= 0) {
                    serverTimedOut(s, SqlState.QUERY_CANCELED, "query timeout");
                    return 0;
                }
                next = d;
            }
            if (ps.idleTransactionTimeoutNanos() > 0 && idleTxSince != 0 && expectedReady == 0 && !unsynced
                    && s.transactionStatus() != 'I') {
                long d = idleTxSince + ps.idleTransactionTimeoutNanos();
                if (enforce && now - d >= 0) {
                    serverTimedOut(s, SqlState.IDLE_IN_TRANSACTION_SESSION_TIMEOUT, "idle transaction timeout");
                    return 0;
                }
                next = earliest(next, d);
            }
            if (ps.transactionTimeoutNanos() > 0 && transactionStart != 0) {
                long d = transactionStart + ps.transactionTimeoutNanos();
                if (enforce && now - d >= 0) {
                    serverTimedOut(s, SqlState.TRANSACTION_TIMEOUT, "transaction timeout");
                    return 0;
                }
                next = earliest(next, d);
            }
            return next;
        }
        if (!waiting && clientIdleTimeoutNanos > 0) {
            long d = lastRequestNanos + clientIdleTimeoutNanos;
            if (enforce && now - d >= 0) {
                fatal(PgError.fatal(SqlState.IDLE_SESSION_TIMEOUT, "client_idle_timeout"));
                return 0;
            }
            return d;
        }
        return 0;
    }

    private static long earliest(long a, long b) {
        return a == 0 || b - a < 0 ? b : a;
    }

    /**
     * As PgBouncer's disconnect_server for a linked server: the server is closed and the client gets
     * the reason and is disconnected. A query still running is also cancelled, so that PostgreSQL
     * stops it now rather than when it next writes to the closed socket.
     */
    private void serverTimedOut(ServerConnection s, String sqlState, String reason) {
        server = null;
        closeWhenClean = null;
        s.detach();
        if (expectedReady > 0) {
            usher.sendCancel(s, null);
        }
        s.close(reason);
        fatal(PgError.fatal(sqlState, reason));
    }

    @Override
    public void onServerStale(ServerConnection s) {
        if (s != server || phase != Phase.READY) {
            return;
        }
        if (isClean(s)) {
            fastClose(s);
        } else {
            closeWhenClean = s; // at the end of the transaction (see onServerData)
        }
    }

    /** server_fast_close: the server goes now, and its client with it, so the client knows its session ended. */
    private void fastClose(ServerConnection s) {
        server = null;
        closeWhenClean = null;
        s.detach();
        s.close("database configuration changed");
        fatal(PgError.fatal(SqlState.ADMIN_SHUTDOWN, "database configuration changed"));
    }

    // ---- ending ----

    /** Sends an error and closes the client. */
    public void fatal(PgError error) {
        if (phase == Phase.CLOSED && !channel.isActive()) {
            return;
        }
        if (settings.getBool("log_pooler_errors") && error.isFatal()) {
            log.warn("C: {}/{}@{} pooler error: {}", database, user, remote(), error.message());
        }
        phase = Phase.CLOSED;
        closeReason = error.message();
        releasePending();
        channel.writeAndFlush(Messages.errorResponse(error)).addListener(ChannelFutureListener.CLOSE);
    }

    private void releasePending() {
        ByteBuf b;
        while ((b = pending.poll()) != null) {
            b.release();
        }
        pendingBytes = 0;
    }

    // ---- for cancel requests and the registry ----

    /** Sends a CancelRequest for this client's current query to its server, if it has one. */
    /**
     * A CancelRequest with this client's key, from {@code requester} (closed when done): sent to the
     * server the client has, if any. Looked at on the client's own event loop, after what it is doing: a
     * client that sent the request after its ReadyForQuery has given its server back by then, so the
     * request cannot reach a server that serves another client (or this client's next query) meanwhile.
     */
    public void cancelQuery(Channel requester) {
        try {
            loop.execute(() -> {
                ServerConnection s = server;
                if (s != null) {
                    usher.sendCancel(s, requester);
                } else {
                    requester.close();
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            requester.close(); // the event loop is shutting down
        }
    }

    /** Called by Usher once this client counts against its database's and user's client limits. */
    public void countedIn(String database, String user) {
        this.countedDatabase = database;
        this.countedUser = user;
    }

    /**
     * What SHOW CLIENTS shows of this client. Read from the console's thread without locking: the
     * figures may be a moment old, which is fine for a monitoring view.
     */
    public record ConsoleView(String user, String database, String state, java.net.SocketAddress remote,
                              java.net.SocketAddress local, long connectedMillis, long requestMillis, long waitNanos,
                              ServerConnection server, String applicationName, boolean loggedIn, String tls) {}

    public ConsoleView consoleView() {
        ServerConnection s = server;
        boolean isWaiting = waiting && s == null;
        long w = isWaiting && waitStart != 0 ? System.nanoTime() - waitStart : 0;
        String state = s != null ? "active" : isWaiting ? "waiting" : "idle";
        ParameterSet p = wanted;
        String app = p == null ? "" : p.values().getOrDefault("application_name", "");
        Phase ph = phase;
        long requestMillis = connectedMillis + (lastRequestNanos - connectedNanos) / 1_000_000L;
        return new ConsoleView(user, database, state, channel.remoteAddress(), channel.localAddress(), connectedMillis,
                requestMillis, w, s, app, ph == Phase.READY || ph == Phase.LOGIN_WAIT || ph == Phase.ADMIN,
                tlsInfo != null ? tlsInfo : "");
    }

    /** The database this client logged in to (null before the startup packet). */
    public String database() {
        return database;
    }

    /**
     * SHUTDOWN WAIT_FOR_SERVERS has begun: a client waiting for a server will not get one, and is
     * told so; one that holds a server finishes with it first.
     */
    public void refuseWaitDuringShutdown() {
        EventLoop l = loop;
        if (l == null) {
            return; // not registered yet: it will ask for a server later and be refused then
        }
        l.execute(() -> {
            if (waiting && server == null && phase != Phase.CLOSED) {
                fatal(PgError.fatal(SqlState.PROTOCOL_VIOLATION, "pooler is shutting down"));
            }
        });
    }

    /** KILL and KILL_CLIENT from the console: the client is told why and disconnected. */
    public void kill(String reason) {
        loop.execute(() -> fatal(PgError.fatal(SqlState.ADMIN_SHUTDOWN, reason)));
    }

    public int cancelPid() { return cancelPid; }

    /** Named statements this client has prepared (SHOW CLIENTS prepared_statements). */
    public int preparedStatementCount() {
        io.usher.prepared.StatementTracker t = tracker;
        return t == null ? 0 : t.size();
    }
    public int cancelKey() { return cancelKey; }
    public Channel channel() { return channel; }

    private SocketAddress remote() {
        return channel == null ? null : channel.remoteAddress();
    }
}

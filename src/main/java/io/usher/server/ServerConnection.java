package io.usher.server;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.unix.DomainSocketAddress;
import io.usher.net.Transport;
import io.usher.pool.ParameterSet;
import io.usher.pool.Pool;
import io.usher.pool.PoolSettings;
import io.usher.protocol.ErrorFields;
import io.usher.protocol.MessageScanner;
import io.usher.protocol.MessageType;
import io.usher.protocol.Messages;
import io.usher.protocol.PgError;
import io.usher.protocol.ProtocolException;
import io.usher.protocol.SqlState;
import io.usher.config.TargetSessionAttrs;
import io.usher.tls.ServerTls;
import io.usher.tls.SslMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One connection to PostgreSQL. It logs in, then lives in its pool: idle, linked to a client
 * (ACTIVE: its reads go to the client's event loop untouched), or running a query of the pooler's
 * own (INTERNAL: a reset, check or SET query whose answers nobody else sees).
 *
 * <p>Connecting tries the endpoint's hosts in the order its pool's {@link HostCursor} gives, and
 * each address a host name resolves to, until one accepts the login: a host that cannot be
 * reached, closes the connection during the login or answers that it cannot take connections now
 * (SQLSTATE classes 08, 53, 57) hands the attempt on to the next. Only when every one failed does
 * the pool hear of a failed login. Sharable only so that each attempt's socket can carry this
 * handler: events of any channel but the current one are ignored.
 */
@ChannelHandler.Sharable
public final class ServerConnection extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ServerConnection.class);

    public enum State { CONNECTING, LOGIN, IDLE, ACTIVE, INTERNAL, CLOSED }

    /** The largest message a server may send; PostgreSQL's own limit on a field is 1 GB. */
    private static final int MAX_SERVER_MESSAGE = Integer.MAX_VALUE;

    private final Pool pool;
    private final EventLoop loop;
    /** Fresh for each login attempt (a failed attempt may leave a partial message behind). */
    private MessageScanner scanner = new MessageScanner(MAX_SERVER_MESSAGE);
    private final Map<String, String> parameters = new HashMap<>();
    private final long createdNanos = System.nanoTime();
    private final long createdMillis = System.currentTimeMillis();
    /** Lifetime with up to 10% jitter, so servers opened together do not all expire together. */
    private final double lifetimeJitter = 1.0 - ThreadLocalRandom.current().nextDouble(0.1);
    private volatile State state = State.CONNECTING;
    private volatile ServerOwner owner;
    private Channel channel;
    private ServerLogin login;
    private int backendPid;
    private int backendKey;
    private long idleSinceNanos = createdNanos;
    private volatile String closeReason;

    /** Transaction status from the last ReadyForQuery ('I', 'T' or 'E'). Touched by the owner's loop while linked. */
    private byte transactionStatus = 'I';

    /** The pooler's own query in flight (state INTERNAL), or null. */
    private Internal internal;
    /** The client parameter set this server was last made to match; null when unknown. */
    private ParameterSet appliedParameters;

    /** The endpoint this connection was opened for (RELOAD may give the pool a new one). */
    private final ServerEndpoint endpoint;
    /** server_fast_close: its owner was told that this server is stale. Under the pool's lock. */
    private boolean staleNotified;

    // ---- connect attempts (on this loop) ----
    private List<String> hostList = List.of();
    private List<Integer> order = List.of();
    private int orderPos;
    private int hostIndex = -1;
    private String host;
    private List<SocketAddress> addresses = List.of();
    private int addressPos;
    /** The DNS answer the current host's addresses came from; null for an IP address or socket directory. */
    private DnsCache.Entry dnsEntry;
    private PgError lastFailure;
    /** Set by {@link #close}: no further host is tried. */
    private volatile boolean closing;
    /** The address of the current (finally: the connected) attempt. */
    private volatile SocketAddress remote;
    /** nanoTime the current attempt started: server_connect_timeout counts from it, login included. */
    private long attemptStartNanos;
    /** The login (and connect_query) completed and the pool was told. */
    private boolean loggedIn;
    /** server_connect_timeout of the current attempt's login; cancelled once logged in. */
    private io.netty.util.concurrent.ScheduledFuture<?> loginTimer;

    // ---- target_session_attrs ----
    /** The role the server had when last asked (at login or at a recheck); null when never asked. */
    private volatile ServerRole role;
    /** When {@link #role} was learnt (nanoTime). */
    private volatile long roleCheckedNanos;
    /** prefer-standby: the hosts that answered but were no standby, for the second pass. */
    private List<Integer> fallbackHosts = List.of();
    /** prefer-standby's second pass: any role will do. */
    private boolean fallbackPass;
    /** The last "answered, but the role does not fit" of this attempt (a better final error than a refusal). */
    private PgError roleMismatch;

    // ---- TLS (server_tls_sslmode) ----
    /** The TLS settings of the current attempt (taken when it starts; RELOAD may bring new ones). */
    private ServerTls tls;
    /** The current attempt sends SSLRequest first (false for plain attempts and Unix sockets). */
    private boolean attemptTls;
    /** SSLRequest sent, the one-byte answer not read yet. */
    private boolean awaitingSslAnswer;
    /** sslmode allow: the plain attempt was refused, this one is the retry over TLS. */
    private boolean allowRetry;
    /** Protocol and cipher of the server connection (SHOW SERVERS "tls"); empty without TLS. */
    private volatile String tlsInfo = "";

    public ServerConnection(Pool pool, EventLoop loop) {
        this.pool = pool;
        this.loop = loop;
        this.endpoint = pool.endpoint();
    }

    public ServerEndpoint endpoint() {
        return endpoint;
    }

    /** True the first time only: whether the owner is now to be told that this server is stale. Under the pool's lock. */
    public boolean markStaleNotified() {
        if (staleNotified) {
            return false;
        }
        staleNotified = true;
        return true;
    }

    // ---- lifecycle ----

    /** Opens the socket and starts the login. Runs on any thread. */
    public void connect() {
        if (!loop.inEventLoop()) {
            loop.execute(this::connect);
            return;
        }
        hostList = endpoint.targets();
        order = pool.hostCursor().order(hostList, endpoint.roundRobin(), pool.settings().loginRetryNanos());
        nextAddress();
    }

    /**
     * Connects to the next address of the current host, else moves on to the next host (looking its
     * name up first, without blocking this loop); when none is left, the login fails with the last error.
     */
    private void nextAddress() {
        while (addressPos >= addresses.size()) {
            if (hostIndex >= 0) {
                pool.hostCursor().failed(hostList, hostIndex);
            }
            if (orderPos >= order.size() && !fallbackHosts.isEmpty() && !closing) {
                // prefer-standby found no standby: libpq's second pass takes any of those that answered
                order = fallbackHosts;
                fallbackHosts = List.of();
                orderPos = 0;
                fallbackPass = true;
            }
            if (orderPos >= order.size() || closing) {
                giveUp(roleMismatch != null ? roleMismatch : lastFailure != null ? lastFailure
                        : PgError.fatal(SqlState.CONNECTION_FAILURE, "pgbouncer cannot connect to server"));
                return;
            }
            hostIndex = order.get(orderPos++);
            host = hostList.get(hostIndex);
            addresses = List.of();
            addressPos = 0;
            dnsEntry = null;
            if (ServerEndpoint.isSocketDir(host)) {
                addresses = List.of(endpoint.socketIn(host));
                continue;
            }
            InetAddress literal;
            try {
                literal = DnsCache.literal(host);
            } catch (UnknownHostException e) {
                log.warn("S: {} invalid host address {}: {}", pool.key(), host, e.getMessage());
                lastFailure = PgError.fatal(SqlState.CONNECTION_FAILURE, "server DNS lookup failed");
                continue;
            }
            if (literal != null) {
                addresses = List.of(new InetSocketAddress(literal, endpoint.port()));
                continue;
            }
            CompletableFuture<DnsCache.Entry> lookup = endpoint.network().dns().resolve(host);
            if (!lookup.isDone()) {
                String name = host;
                lookup.thenAccept(e -> loop.execute(() -> {
                    if (state == State.CONNECTING && name.equals(host)) {
                        useAnswer(e);
                        nextAddress();
                    }
                }));
                return;
            }
            useAnswer(lookup.join());
        }
        allowRetry = false;
        connectTo(addresses.get(addressPos++));
    }

    private void useAnswer(DnsCache.Entry answer) {
        if (answer.error() != null) {
            lastFailure = PgError.fatal(SqlState.CONNECTION_FAILURE, "server DNS lookup failed");
            return;
        }
        dnsEntry = answer;
        addresses = answer.rotated().stream()
                .map(a -> (SocketAddress) new InetSocketAddress(a, endpoint.port())).toList();
    }

    private void connectTo(SocketAddress address) {
        remote = address;
        attemptStartNanos = System.nanoTime();
        closeReason = null;
        boolean unix = address instanceof DomainSocketAddress;
        tls = endpoint.network().tls();
        SslMode mode = tls.mode();
        // libpq: never TLS over a Unix socket; allow tries plain first and TLS only after a refusal
        attemptTls = !unix && mode != SslMode.DISABLE && (mode != SslMode.ALLOW || allowRetry);
        awaitingSslAnswer = false;
        tlsInfo = "";
        PoolSettings s = pool.settings();
        Bootstrap b = new Bootstrap().group(loop)
                .channel(unix ? Transport.domainSocketChannel() : Transport.socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, Math.max(1, s.connectTimeoutMillis()))
                .option(ChannelOption.AUTO_READ, true)
                .handler(this);
        if (!unix) {
            endpoint.network().socketOptions().applyTo(b);
        }
        b.connect(address).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                log.warn("S: {} connect to {} ({}) failed: {}", pool.key(), host, address, f.cause().toString());
                attemptFailed(PgError.fatal(SqlState.CONNECTION_FAILURE, "pgbouncer cannot connect to server"), true);
            }
        });
    }

    /**
     * The current attempt failed before the login completed: its socket is dropped and, if
     * {@code retryable}, the next address or host is tried; otherwise (or when none is left) the
     * pool hears of the failure. On this loop.
     */
    private void attemptFailed(PgError error, boolean retryable) {
        lastFailure = error;
        dropAttempt();
        if (!retryable || closing) {
            if (hostIndex >= 0) {
                pool.hostCursor().failed(hostList, hostIndex);
            }
            giveUp(error);
            return;
        }
        state = State.CONNECTING;
        if (addressPos < addresses.size() || orderPos < order.size()) {
            log.info("S: {} {} failed ({}), trying the next {}", pool.key(), host, error.message(),
                    addressPos < addresses.size() ? "address" : "host");
        }
        nextAddress();
    }

    /** Closes the current attempt's socket and forgets what it read, before another attempt or giving up. */
    private void dropAttempt() {
        Channel old = channel;
        channel = null;
        login = null;
        scanner.release();
        scanner = new MessageScanner(MAX_SERVER_MESSAGE);
        parameters.clear();
        if (old != null) {
            old.close();
        }
    }

    private void giveUp(PgError error) {
        state = State.CLOSED;
        closeReason = error.message();
        pool.serverLoginFailed(this, error);
    }

    /** Login errors that say this server cannot take the connection now, where another host may. */
    private static boolean tryElsewhere(PgError error) {
        String code = error.sqlState();
        return code != null && (code.startsWith("08") || code.startsWith("53") || code.startsWith("57"));
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (state != State.CONNECTING) {
            ctx.close(); // an attempt given up on meanwhile
            return;
        }
        channel = ctx.channel();
        state = State.LOGIN;
        login = new ServerLogin(this, endpoint);
        armLoginTimer(channel);
        if (attemptTls) {
            awaitingSslAnswer = true;
            ctx.writeAndFlush(Messages.sslRequest());
            return;
        }
        ctx.writeAndFlush(login.startupMessage());
    }

    /**
     * server_connect_timeout bounds the whole attempt, the login (and connect_query) included, as PgBouncer's
     * janitor does for the servers of its new_server_list: a server that accepts the connection and then says
     * nothing (a hung postmaster, a stalled link) must not hold a pool slot, and clients logging in must not
     * wait, until the link comes back.
     */
    private void armLoginTimer(Channel ch) {
        long timeout = TimeUnit.MILLISECONDS.toNanos(pool.settings().connectTimeoutMillis());
        if (timeout <= 0) {
            return;
        }
        long left = Math.max(0, attemptStartNanos + timeout - System.nanoTime());
        cancelLoginTimer();
        loginTimer = loop.schedule(() -> loginTimedOut(ch, timeout), left, TimeUnit.NANOSECONDS);
    }

    private void cancelLoginTimer() {
        if (loginTimer != null) {
            loginTimer.cancel(false);
            loginTimer = null;
        }
    }

    private void loginTimedOut(Channel ch, long timeoutNanos) {
        if (ch != channel || loggedIn || closing) {
            return; // that attempt is over
        }
        PgError error = PgError.fatal(SqlState.CONNECTION_FAILURE, "pgbouncer cannot connect to server");
        if (state == State.LOGIN) {
            log.warn("S: {} {}: connect timeout: no login within server_connect_timeout ({} ms)", pool.key(), describe(),
                    TimeUnit.NANOSECONDS.toMillis(timeoutNanos));
            attemptFailed(error, true);
        } else if (state == State.INTERNAL) {
            log.warn("S: {} {}: connect timeout: connect_query not done within server_connect_timeout ({} ms)",
                    pool.key(), describe(), TimeUnit.NANOSECONDS.toMillis(timeoutNanos));
            loginFailed(error);
        }
    }

    /**
     * The server's one-byte answer to SSLRequest: 'S' starts the TLS handshake (the startup message
     * follows it), 'N' goes on in plain text unless the sslmode requires TLS. Returns false when the
     * attempt failed.
     */
    private void onSslAnswer(Channel ch, ByteBuf buf) {
        awaitingSslAnswer = false;
        byte answer = buf.readByte();
        if (buf.isReadable()) {
            // anything after the answer came before the handshake, so unencrypted, maybe injected
            buf.release();
            attemptFailed(PgError.fatal(SqlState.CONNECTION_FAILURE, "received unencrypted data after SSL response"), true);
            return;
        }
        buf.release();
        if (answer == 'S') {
            int port = remote instanceof InetSocketAddress ? ((InetSocketAddress) remote).getPort() : endpoint.port();
            io.netty.handler.ssl.SslHandler handler = tls.newHandler(ch.alloc(), host, port);
            ch.pipeline().addFirst("tls", handler);
            handler.handshakeFuture().addListener(f -> {
                if (ch != channel || state != State.LOGIN) {
                    return;
                }
                if (f.isSuccess()) {
                    tlsInfo = ServerTls.describe(handler.engine().getSession());
                    ch.writeAndFlush(login.startupMessage());
                } else {
                    String why = f.cause() == null ? "connection closed" : rootMessage(f.cause());
                    log.warn("S: {} {}: TLS handshake failed: {}", pool.key(), describe(), why);
                    attemptFailed(PgError.fatal(SqlState.CONNECTION_FAILURE, "server TLS handshake failed: " + why), true);
                }
            });
            return;
        }
        if (answer == 'N' && !tls.mode().atLeast(SslMode.REQUIRE)) {
            ch.writeAndFlush(login.startupMessage()); // prefer (or allow's retry): plain it is
            return;
        }
        if (answer == 'N') {
            log.warn("S: {} {}: server refused SSL (server_tls_sslmode = {})", pool.key(), describe(), tls.mode().configName());
            attemptFailed(PgError.fatal(SqlState.CONNECTION_FAILURE, "server refused SSL"), true);
            return;
        }
        attemptFailed(PgError.fatal(SqlState.CONNECTION_FAILURE, "bad sslreq answer"), true);
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.toString();
    }

    /**
     * The server answered the login with an error. Under sslmode allow, a plain attempt that is
     * refused is made again over TLS (libpq's rule); otherwise the login has failed.
     */
    void loginRefused(PgError error) {
        if (state == State.LOGIN && tls != null && tls.mode() == SslMode.ALLOW && !attemptTls
                && !(remote instanceof DomainSocketAddress) && !closing) {
            log.info("S: {} {}: plain login refused ({}), trying again with TLS (server_tls_sslmode = allow)",
                    pool.key(), describe(), error.message());
            dropAttempt();
            state = State.CONNECTING;
            allowRetry = true;
            connectTo(remote);
            return;
        }
        loginFailed(error);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (ctx.channel() != channel) {
            return; // the socket of an attempt given up on
        }
        State was = state;
        if (was == State.LOGIN || was == State.CONNECTING) {
            attemptFailed(PgError.fatal(SqlState.CONNECTION_FAILURE,
                    closeReason != null ? closeReason : "server closed the connection during login"), true);
            return;
        }
        state = State.CLOSED;
        scanner.release();
        io.usher.prepared.ServerStatements st = statements;
        if (st != null) {
            st.clear(); // the statements went with the connection
        }
        if (was == State.INTERNAL && internal != null) {
            Internal q = internal;
            internal = null;
            q.crashed(PgError.fatal(SqlState.CONNECTION_FAILURE, "server conn crashed?"));
        }
        pool.serverClosed(this);
        ServerOwner o = owner;
        if (o != null && was == State.ACTIVE) {
            runOn(o, () -> o.onServerClosed(this));
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf buf = (ByteBuf) msg;
        if (ctx.channel() != channel) {
            buf.release();
            return;
        }
        switch (state) {
            case ACTIVE: {
                ServerOwner o = owner;
                if (o != null) {
                    if (o.eventLoop().inEventLoop()) {
                        o.onServerData(this, buf, false);
                    } else {
                        o.eventLoop().execute(() -> o.onServerData(this, buf, true));
                    }
                    return;
                }
                break;
            }
            case LOGIN:
                if (awaitingSslAnswer) {
                    onSslAnswer(ctx.channel(), buf);
                    return;
                }
                scanOwn(buf, login);
                return;
            case INTERNAL:
                scanOwn(buf, internal);
                return;
            default:
                break;
        }
        buf.release();
        close("idle server got unexpected data");
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (ctx.channel() != channel) {
            return;
        }
        ServerOwner o = owner;
        if (state == State.ACTIVE && o != null && o.eventLoop().inEventLoop()) {
            o.onServerReadComplete(this);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel() != channel) {
            return;
        }
        ServerOwner o = owner;
        if (state == State.ACTIVE && o != null) {
            boolean writable = ctx.channel().isWritable();
            runOn(o, () -> o.onServerWritabilityChanged(this, writable));
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (ctx.channel() != channel) {
            ctx.close();
            return;
        }
        log.warn("S: {} {}: {}", pool.key(), describe(), cause.toString());
        if (state == State.LOGIN) {
            attemptFailed(PgError.fatal(SqlState.CONNECTION_FAILURE, "server connection error: " + rootMessage(cause)),
                    true);
            return;
        }
        close("server connection error: " + cause.getMessage());
    }

    private void scanOwn(ByteBuf buf, MessageScanner.Listener listener) {
        try {
            scanner.scan(buf, listener);
        } catch (ProtocolException e) {
            log.warn("S: {} {}: protocol error: {}", pool.key(), describe(), e.getMessage());
            if (state == State.LOGIN) {
                attemptFailed(PgError.fatal(SqlState.CONNECTION_FAILURE, e.getMessage()), true);
            } else {
                close(e.getMessage());
            }
        } finally {
            buf.release();
        }
    }

    // ---- called by ServerLogin (on this loop) ----

    void loginSucceeded(int pid, int key, ServerRole serverRole) {
        this.backendPid = pid;
        this.backendKey = key;
        login = null;
        if (serverRole != null) {
            role = serverRole;
            roleCheckedNanos = System.nanoTime();
            pool.hostRoles().observe(remote, serverRole);
        }
        TargetSessionAttrs target = endpoint.target();
        if (target != TargetSessionAttrs.ANY && !serverRole.satisfies(target, fallbackPass)) {
            wrongRole(serverRole, target);
            return;
        }
        pool.hostCursor().succeeded(hostList, hostIndex, endpoint.roundRobin());
        String connectQuery = pool.settings().connectQuery();
        if (!connectQuery.isEmpty()) {
            runInternal(connectQuery, err -> {
                if (err != null) {
                    log.warn("S: {} connect_query failed: {}", pool.key(), err.message());
                    loginFailed(err);
                } else {
                    loggedIn = true;
                    cancelLoginTimer();
                    pool.serverLoggedIn(this);
                }
            });
            return;
        }
        state = State.IDLE;
        loggedIn = true;
        cancelLoginTimer();
        pool.serverLoggedIn(this);
    }

    /**
     * The server logged us in but its role does not fit target_session_attrs: log out politely and
     * try the next host, as libpq does. prefer-standby remembers the host for its second pass.
     */
    private void wrongRole(ServerRole serverRole, TargetSessionAttrs target) {
        log.info("S: {} {} is a {}, not usable for target_session_attrs={}; trying the next host", pool.key(),
                describe(), serverRole.describe(), target.configName());
        if (target == TargetSessionAttrs.PREFER_STANDBY && !fallbackPass && !fallbackHosts.contains(hostIndex)) {
            List<Integer> more = new java.util.ArrayList<>(fallbackHosts);
            more.add(hostIndex);
            fallbackHosts = more;
        }
        roleMismatch = PgError.fatal(SqlState.CONNECTION_FAILURE, "no server of " + String.join(",", hostList)
                + " fits target_session_attrs=" + target.configName() + " (last: " + host + " is a "
                + serverRole.describe() + ")");
        Channel ch = channel;
        channel = null;
        if (ch != null) {
            ch.writeAndFlush(Messages.terminate()).addListener(ChannelFutureListener.CLOSE);
        }
        attemptFailed(roleMismatch, true);
    }

    /** The role query after the login failed: this host cannot be judged, try the next. */
    void roleUnknown(PgError error) {
        log.warn("S: {} {}: role query failed: {}", pool.key(), describe(), error.message());
        attemptFailed(PgError.fatal(SqlState.CONNECTION_FAILURE, "role query failed: " + error.message()), true);
    }

    void loginFailed(PgError error) {
        if (state == State.LOGIN) {
            log.warn("S: {} {}: login failed: {}", pool.key(), describe(), error.message());
            attemptFailed(error, tryElsewhere(error));
            return;
        }
        closeReason = error.message();
        State was = state;
        state = State.CLOSED;
        if (was == State.LOGIN || was == State.INTERNAL) {
            pool.serverLoginFailed(this, error);
        }
        if (channel != null) {
            channel.close();
        }
    }

    void parameterStatus(String name, String value) {
        parameters.put(name, value);
    }

    void write(ByteBuf message) {
        channel.writeAndFlush(message);
    }

    // ---- pool side (called under the pool's lock) ----

    public void assignTo(ServerOwner newOwner) {
        owner = newOwner;
        state = State.ACTIVE;
    }

    public void markIdle() {
        owner = null;
        state = State.IDLE;
        idleSinceNanos = System.nanoTime();
    }

    /** Idle again after a role recheck: the idle time goes on from before it. */
    public void markIdleAgain() {
        owner = null;
        state = State.IDLE;
    }

    public boolean isUsable() {
        State s = state;
        // closing: close() was asked for (KILL, a retirement) and its Terminate may not be out yet; the pool
        // must not hand it out meanwhile (an auth_query on it failed the login)
        return s != State.CLOSED && !closing && channel != null && channel.isActive();
    }

    public boolean mustRetire(PoolSettings s) {
        return s.serverLifetimeNanos() > 0
                && System.nanoTime() - createdNanos > s.serverLifetimeNanos() * lifetimeJitter;
    }

    /**
     * Whether the server sat idle longer than server_check_delay (0: always check). A server that
     * was never used has just proved itself by logging in.
     */
    public boolean needsCheck(PoolSettings s) {
        return s.checkQuery() != null && idleSinceNanos != createdNanos
                && idleNanos(System.nanoTime()) > s.checkDelayNanos();
    }

    public long idleNanos(long now) {
        return now - idleSinceNanos;
    }

    /** Whether this idle server's role is to be asked again (target_session_attrs, server_role_check_period). */
    public boolean roleCheckDue(long now, long periodNanos) {
        return periodNanos > 0 && endpoint.target() != TargetSessionAttrs.ANY && state == State.IDLE
                && now - roleCheckedNanos > periodNanos;
    }

    /**
     * Whether the role last seen at this server's address (by any connection of the pool) no longer
     * fits target_session_attrs: the server is closed when released instead of reused.
     */
    public boolean roleOutdated() {
        TargetSessionAttrs target = endpoint.target();
        if (target == TargetSessionAttrs.ANY) {
            return false;
        }
        ServerRole now = pool.hostRoles().current(remote);
        return now != null && !now.satisfies(target, fallbackPass);
    }

    /** The role the server had when last asked; null when never asked (target_session_attrs=any). */
    public ServerRole role() {
        return role;
    }

    /**
     * Asks an idle server for its role again and tells {@code onDone}, on this server's loop, whether
     * it still fits target_session_attrs (false also when the query failed; the caller closes it).
     * An idle connection is told nothing of a promotion until it runs a query, hence the query.
     */
    public void recheckRole(Consumer<Boolean> onDone) {
        if (!loop.inEventLoop()) {
            loop.execute(() -> recheckRole(onDone));
            return;
        }
        if (!isUsable()) {
            onDone.accept(false);
            return;
        }
        internal = new RoleRecheck(onDone);
        state = State.INTERNAL;
        channel.writeAndFlush(Messages.query(RoleProbe.SQL));
    }

    /** The answer to a periodic role recheck. */
    private final class RoleRecheck implements Internal {
        final RoleProbe probe = new RoleProbe();
        final Consumer<Boolean> onDone;

        RoleRecheck(Consumer<Boolean> onDone) {
            this.onDone = onDone;
        }

        @Override
        public boolean onMessage(byte type, ByteBuf payload, int start, int end) throws ProtocolException {
            if (probe.onMessage(type, payload, ServerConnection.this)) {
                return true;
            }
            transactionStatus = payload.getByte(payload.readerIndex());
            internal = null;
            state = State.IDLE;
            ServerRole seen = probe.role();
            if (seen == null || transactionStatus != 'I') {
                log.warn("S: {} {}: role recheck failed: {}", pool.key(), describe(),
                        seen == null ? probe.failure().message() : "transaction left open");
                onDone.accept(false);
                return false;
            }
            role = seen;
            roleCheckedNanos = System.nanoTime();
            pool.hostRoles().observe(remote, seen);
            boolean fits = seen.satisfies(endpoint.target(), fallbackPass);
            if (!fits) {
                log.info("S: {} {} is now a {}: retiring it (target_session_attrs={})", pool.key(), describe(),
                        seen.describe(), endpoint.target().configName());
            }
            onDone.accept(fits);
            return false;
        }

        @Override
        public void crashed(PgError error) {
            onDone.accept(false);
        }
    }

    // ---- owner side ----

    /** Unlinks from the owner; the server is no longer ACTIVE (the caller releases or closes it). */
    public void detach() {
        owner = null;
        idleSinceNanos = System.nanoTime();
        if (state == State.ACTIVE) {
            state = State.IDLE;
        }
    }

    /**
     * Runs a query of the pooler's own (reset, check, SET, connect_query) on this server's loop and
     * reports its first error, or null on success, to {@code onDone} on this server's loop. The
     * server must not be linked to a client meanwhile.
     */
    public void runInternal(String sql, Consumer<PgError> onDone) {
        if (!loop.inEventLoop()) {
            loop.execute(() -> runInternal(sql, onDone));
            return;
        }
        if (!isUsable()) {
            onDone.accept(PgError.fatal(SqlState.CONNECTION_FAILURE, "server conn crashed?"));
            return;
        }
        internal = new InternalQuery(onDone);
        state = State.INTERNAL;
        io.usher.prepared.ServerStatements st = statements;
        String upper = sql.toUpperCase(java.util.Locale.ROOT);
        if (st != null && (upper.contains("DISCARD ALL") || upper.contains("DEALLOCATE ALL"))) {
            st.clear(); // e.g. server_reset_query = DISCARD ALL: the server forgets every statement
        }
        channel.writeAndFlush(Messages.query(sql));
    }

    /** A query of the pooler's own in flight: reads the answers, and hears if the connection dies first. */
    private interface Internal extends MessageScanner.Listener {
        void crashed(PgError error);

        /** Most internal queries read every message of their answer. */
        @Override
        default boolean onHeader(byte type, int payloadLength, int start) {
            return true;
        }
    }

    /**
     * Runs auth_query ({@code sql}, with {@code user} as $1 in the extended protocol) on this server's
     * loop and reports the row it returned, or why it failed, to {@code onDone} on this server's loop.
     * After a failure the connection is closed (as PgBouncer does), with the failure as the reason;
     * after a success it is idle again and the caller releases it. The server must not be linked to a
     * client meanwhile.
     */
    public void runAuthQuery(String sql, String user, Consumer<AuthQueryResult> onDone) {
        if (!loop.inEventLoop()) {
            loop.execute(() -> runAuthQuery(sql, user, onDone));
            return;
        }
        if (!isUsable()) {
            onDone.accept(AuthQueryResult.failed("unable to send auth_query", null));
            return;
        }
        internal = new AuthQuery(onDone);
        state = State.INTERNAL;
        channel.writeAndFlush(Messages.extendedQuery(sql, user)).addListener(f -> {
            if (!f.isSuccess() && internal instanceof AuthQuery q && !q.done) {
                q.finish(AuthQueryResult.failed("unable to send auth_query", null));
            }
        });
    }

    /** Answers of auth_query, checked as PgBouncer's handle_auth_query_response does. */
    private final class AuthQuery implements Internal {
        final Consumer<AuthQueryResult> onDone;
        boolean found;
        String password;
        String failure;
        PgError serverError;
        boolean done;

        AuthQuery(Consumer<AuthQueryResult> onDone) {
            this.onDone = onDone;
        }

        @Override
        public boolean onMessage(byte type, ByteBuf payload, int start, int end) throws ProtocolException {
            switch (type) {
                case '1': // ParseComplete
                case '2': // BindComplete
                case MessageType.COMMAND_COMPLETE:
                case MessageType.NOTICE_RESPONSE:
                    return true;
                case MessageType.PARAMETER_STATUS:
                    parameterStatus(Messages.readCString(payload), Messages.readCString(payload));
                    appliedParameters = null;
                    return true;
                case 'T': { // RowDescription
                    int columns = columnCount(payload);
                    if (columns != 2) {
                        return fail("expected 2 columns from auth_query, not " + columns);
                    }
                    return true;
                }
                case 'D': { // DataRow
                    int columns = columnCount(payload);
                    if (columns != 2) {
                        return fail("expected 2 columns from auth_query, not " + columns);
                    }
                    String name = column(payload);
                    String secret = column(payload);
                    if (name != null) { // a NULL user name means "no such user" (PgBouncer's docs)
                        found = true;
                        password = secret;
                    }
                    return true;
                }
                case MessageType.ERROR_RESPONSE:
                    if (failure == null) {
                        failure = "error response from auth_query";
                        serverError = ErrorFields.parse(payload).toError();
                    }
                    return true; // the Sync still brings a ReadyForQuery
                case MessageType.READY_FOR_QUERY:
                    transactionStatus = payload.getByte(payload.readerIndex());
                    internal = null;
                    state = State.IDLE;
                    if (failure == null && transactionStatus != 'I') {
                        failure = "auth_query left a transaction open";
                    }
                    finish(failure != null ? AuthQueryResult.failed(failure, serverError)
                            : new AuthQueryResult(found, found ? password : null, null, null));
                    return false;
                default:
                    return fail("unexpected response from auth_query");
            }
        }

        private int columnCount(ByteBuf payload) throws ProtocolException {
            if (payload.readableBytes() < 2) {
                throw new ProtocolException("bad packet");
            }
            return payload.readUnsignedShort();
        }

        private String column(ByteBuf payload) throws ProtocolException {
            if (payload.readableBytes() < 4) {
                throw new ProtocolException("bad packet");
            }
            int length = payload.readInt();
            if (length == -1) {
                return null;
            }
            if (length < 0 || length > payload.readableBytes()) {
                throw new ProtocolException("bad packet");
            }
            return payload.readCharSequence(length, java.nio.charset.StandardCharsets.UTF_8).toString();
        }

        /** A malformed or unexpected answer: the connection cannot be trusted any more. */
        private boolean fail(String reason) {
            internal = null;
            finish(AuthQueryResult.failed(reason, null));
            return false;
        }

        void finish(AuthQueryResult result) {
            if (done) {
                return;
            }
            done = true;
            if (!result.ok()) {
                close(result.failure());
            }
            onDone.accept(result);
        }

        @Override
        public void crashed(PgError error) {
            finish(AuthQueryResult.failed("server conn crashed?", error));
        }
    }

    /** Answers of an internal query: only errors, parameter changes and the final ReadyForQuery matter. */
    private final class InternalQuery implements Internal {
        final Consumer<PgError> onDone;
        PgError error;

        InternalQuery(Consumer<PgError> onDone) {
            this.onDone = onDone;
        }

        @Override
        public void crashed(PgError e) {
            onDone.accept(e);
        }

        @Override
        public boolean onHeader(byte type, int payloadLength, int start) {
            return type == MessageType.READY_FOR_QUERY || type == MessageType.ERROR_RESPONSE
                    || type == MessageType.PARAMETER_STATUS;
        }

        @Override
        public boolean onMessage(byte type, ByteBuf payload, int start, int end) throws ProtocolException {
            switch (type) {
                case MessageType.ERROR_RESPONSE:
                    if (error == null) {
                        error = ErrorFields.parse(payload).toError();
                    }
                    return true;
                case MessageType.PARAMETER_STATUS:
                    parameterStatus(Messages.readCString(payload), Messages.readCString(payload));
                    appliedParameters = null; // a reset or SET changed something: compare values next time
                    return true;
                case MessageType.READY_FOR_QUERY:
                    transactionStatus = payload.getByte(payload.readerIndex());
                    internal = null;
                    state = State.IDLE;
                    if (error == null && transactionStatus != 'I') {
                        error = PgError.error(SqlState.ACTIVE_SQL_TRANSACTION, "internal query left a transaction open");
                    }
                    onDone.accept(error);
                    return false;
                default:
                    return true;
            }
        }
    }

    /** Closes the connection (politely, with Terminate) from any thread. */
    public void close(String reason) {
        closing = true;
        if (closeReason == null) {
            closeReason = reason;
        }
        Channel ch = channel;
        if (ch == null) {
            return;
        }
        if (log.isDebugEnabled()) {
            log.debug("S: {} {} closing: {}", pool.key(), describe(), reason);
        }
        if (ch.isActive()) {
            ch.writeAndFlush(Messages.terminate()).addListener(ChannelFutureListener.CLOSE);
        } else {
            ch.close();
        }
    }

    private static void runOn(ServerOwner o, Runnable r) {
        if (o.eventLoop().inEventLoop()) {
            r.run();
        } else {
            o.eventLoop().execute(r);
        }
    }

    /**
     * The tracked prepared statements on this server (transaction and statement pooling with
     * max_prepared_statements), made on first use by a client's tracker.
     */
    public io.usher.prepared.ServerStatements statements(io.usher.prepared.StatementRegistry registry) {
        io.usher.prepared.ServerStatements st = statements;
        if (st == null) {
            st = new io.usher.prepared.ServerStatements(registry);
            statements = st;
        }
        return st;
    }

    /** How many tracked statements this server has prepared (SHOW SERVERS prepared_statements). */
    public int preparedStatementCount() {
        io.usher.prepared.ServerStatements st = statements;
        return st == null ? 0 : st.size();
    }

    private volatile io.usher.prepared.ServerStatements statements;

    // ---- accessors ----

    public Pool pool() { return pool; }
    public EventLoop eventLoop() { return loop; }
    public Channel channel() { return channel; }
    public MessageScanner scanner() { return scanner; }
    public Map<String, String> parameters() { return parameters; }
    public int backendPid() { return backendPid; }
    public int backendKey() { return backendKey; }
    public State state() { return state; }
    public byte transactionStatus() { return transactionStatus; }
    public void transactionStatus(byte status) { this.transactionStatus = status; }
    public ServerOwner owner() { return owner; }
    public ParameterSet appliedParameters() { return appliedParameters; }
    /** Protocol and cipher when the connection uses TLS, else empty (SHOW SERVERS "tls"). */
    public String tlsInfo() { return tlsInfo; }
    public void appliedParameters(ParameterSet set) { this.appliedParameters = set; }

    public long createdMillis() {
        return createdMillis;
    }

    /** Idle since (nanoTime); the last time a client or the pooler let go of it. */
    public long idleSinceNanos() {
        return idleSinceNanos;
    }

    public String describe() {
        String where = host == null ? endpoint.describe() : host + ":" + endpoint.port() + "/" + endpoint.database();
        return "pid=" + backendPid + "@" + where;
    }

    /** The address this connection was made to (where its cancel requests go). */
    public SocketAddress remoteAddress() {
        return remote;
    }

    // Cancel requests Usher sent for this backend that PostgreSQL has not closed yet, and a release that
    // waits for them (guarded by this)
    private volatile int cancelsInFlight; // written under the lock; read without it on every release
    private Runnable afterCancels;

    /** A cancel request for this backend is on its way (Usher.sendCancel). */
    public synchronized void cancelSent() {
        cancelsInFlight++;
    }

    /** A cancel request is done (PostgreSQL closed its connection, or it failed): a waiting release goes on. */
    public void cancelDone() {
        Runnable release;
        synchronized (this) {
            if (--cancelsInFlight > 0 || afterCancels == null) {
                return;
            }
            release = afterCancels;
            afterCancels = null;
        }
        release.run();
    }

    /**
     * Holds {@code release} back while cancel requests for this backend are in flight: PostgreSQL signals
     * the backend more than once for one request (the process, then its group) and may do so late, after
     * the cancelled query has ended, so the next client's query on this server could be the one
     * cancelled. False if none is in flight (the caller releases now).
     */
    public boolean deferWhileCancelling(Runnable release) {
        if (cancelsInFlight == 0) {
            // the common case, without the lock: a cancel is sent on the client's own event loop, which is
            // the thread giving the server back, so one sent before this release is seen here
            return false;
        }
        synchronized (this) {
            if (cancelsInFlight == 0) {
                return false;
            }
            afterCancels = release;
            return true;
        }
    }

    /**
     * Whether the host name this connection was made to resolves to other addresses by now (as
     * PgBouncer, such a server is closed when released and new ones use the new addresses).
     */
    public boolean addressOutdated() {
        DnsCache.Entry was = dnsEntry;
        if (was == null || state == State.CONNECTING) {
            return false;
        }
        DnsCache.Entry now = endpoint.network().dns().peek(was.host());
        return now != null && now.error() == null && now.generation() != was.generation();
    }
}

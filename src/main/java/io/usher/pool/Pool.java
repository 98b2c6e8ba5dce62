package io.usher.pool;

import io.netty.channel.EventLoop;
import io.usher.protocol.PgError;
import io.usher.protocol.SqlState;
import io.usher.server.HostCursor;
import io.usher.server.HostRoles;
import io.usher.server.ServerConnection;
import io.usher.server.ServerEndpoint;
import io.usher.stats.DatabaseStats;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The server connections of one (database, user) pair and the clients waiting for them.
 * <p>Clients are served in FIFO order. A server is handed out by the pool (under its lock) and
 * comes back through {@link #release}; the pool never touches a server's channel itself. Callbacks
 * to clients run after the lock is dropped, on the client's own event loop.
 */
public final class Pool {
    private static final Logger log = LoggerFactory.getLogger(Pool.class);

    private final PoolKey key;
    private volatile ServerEndpoint endpoint;
    private volatile PoolSettings settings;
    private volatile boolean paused;
    private final Counter databaseCount;
    private final Counter userCount;
    private final Evictor evictor;
    private final DatabaseStats stats;
    private volatile Limit blockedBy;

    private final ReentrantLock lock = new ReentrantLock();
    /** Idle servers, most recently used last (handed out LIFO, so surplus ones age out). */
    private final ArrayDeque<ServerConnection> idle = new ArrayDeque<>();
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    private final List<ServerConnection> all = new ArrayList<>();
    private int opening;
    private long loginFailedAt;
    private PgError loginError;
    private volatile Map<String, String> serverParameters;
    private volatile boolean closed;
    private final ParameterSet.Interner parameterSets = new ParameterSet.Interner();
    private final java.util.concurrent.atomic.AtomicInteger clients = new java.util.concurrent.atomic.AtomicInteger();
    /** Which host of a host list the next server connection tries first. */
    private final HostCursor hostCursor = new HostCursor();
    /** The role each server address was last seen with (target_session_attrs). */
    private final HostRoles hostRoles = new HostRoles();

    private static final class Waiter {
        final ServerRequest request;
        final long since = System.nanoTime();

        Waiter(ServerRequest request) {
            this.request = request;
        }
    }

    public Pool(PoolKey key, ServerEndpoint endpoint, PoolSettings settings, Counter databaseCount, Counter userCount,
                Evictor evictor, DatabaseStats stats) {
        this.evictor = evictor;
        this.stats = stats;
        this.key = key;
        this.endpoint = endpoint;
        this.settings = settings;
        this.databaseCount = databaseCount;
        this.userCount = userCount;
    }

    /** RELOAD: new sizes, limits and timeouts apply from the next decision on. */
    public void updateSettings(PoolSettings next) {
        settings = next;
    }

    /** RELOAD changed where or how servers log in: servers of the old endpoint close when released. */
    public void updateEndpoint(ServerEndpoint next) {
        closeIdleAfter(() -> endpoint = next, "database configuration changed");
    }

    /** Runs {@code change} under the lock, takes the idle servers out with it, and closes them outside it. */
    private void closeIdleAfter(Runnable change, String reason) {
        List<ServerConnection> toClose;
        lock.lock();
        try {
            change.run();
            toClose = new ArrayList<>(idle);
            idle.clear();
        } finally {
            lock.unlock();
        }
        toClose.forEach(s -> s.close(reason));
    }

    /** RECONNECT: every current server is closed as soon as it is released; new ones connect as needed. */
    public void reconnect() {
        updateEndpoint(endpoint.copy());
    }

    /** WAIT_CLOSE: whether servers from before a RECONNECT or RELOAD are still open. */
    public boolean hasStaleServers() {
        return locked(() -> all.stream().anyMatch(s -> s.endpoint() != endpoint));
    }

    /** KILL: closes every server now, linked ones too. */
    public void killServers() {
        servers().forEach(s -> s.close("killed from the console"));
    }

    /** PAUSE: no server is handed out or opened; servers are closed as they are released. */
    public void pause() {
        closeIdleAfter(() -> paused = true, "pause");
    }

    public void resume() {
        paused = false;
    }

    /** Whether the last server login of this pool failed (cleared by the next one that succeeds). */
    public boolean isLoginFailing() {
        return locked(() -> loginError != null);
    }

    public boolean isPaused() {
        return paused;
    }

    /** Whether a PAUSE is complete here: no server connection left. */
    public boolean isDrained() {
        return locked(() -> all.isEmpty());
    }

    public PoolKey key() { return key; }
    public DatabaseStats stats() { return stats; }
    public ParameterSet.Interner parameterSets() { return parameterSets; }
    public PoolSettings settings() { return settings; }
    public ServerEndpoint endpoint() { return endpoint; }
    public HostCursor hostCursor() { return hostCursor; }
    public HostRoles hostRoles() { return hostRoles; }

    /** Parameters of the first server that logged in, sent to clients at login. Null until then. */
    public Map<String, String> serverParameters() {
        return serverParameters;
    }

    /**
     * Asks for a server. The request gets {@link ServerRequest#serverAssigned} (maybe right away, on
     * the caller's thread) or waits in line.
     */
    public void acquire(ServerRequest request) {
        ServerConnection server = null;
        List<Runnable> after = new ArrayList<>(0);
        lock.lock();
        try {
            if (closed) {
                after.add(() -> request.serverUnavailable(PgError.fatal(SqlState.ADMIN_SHUTDOWN, "database removed")));
            } else if (request.isLogin() && idle.isEmpty() && inLoginBackoff(System.nanoTime())) {
                // as PgBouncer: while server logins fail, new clients get the last error at once
                PgError cached = loginError;
                after.add(() -> request.serverUnavailable(new PgError(cached.severity(), cached.sqlState(),
                        "server login has been failing, cached error: " + cached.message() + " (server_login_retry)")));
            } else if (waiters.isEmpty() && !paused) {
                server = takeIdle(request.eventLoop());
            }
            if (server == null && !closed && after.isEmpty()) {
                waiters.add(new Waiter(request));
                openForWaiters(request.eventLoop(), after);
            }
            if (server != null) {
                server.assignTo(request);
            }
        } finally {
            lock.unlock();
        }
        run(after);
        evictIfBlocked();
        if (server != null) {
            request.serverAssigned(server);
        }
    }

    /** Takes a request out of line (its client went away). */
    public void cancel(ServerRequest request) {
        lock.lock();
        try {
            waiters.removeIf(w -> w.request == request);
        } finally {
            lock.unlock();
        }
    }

    /** A clean, logged-in server comes back: to the first waiter, or to the idle list. */
    public void release(ServerConnection server) {
        if (!server.deferWhileCancelling(() -> release(server, false))) {
            release(server, false);
        }
    }

    /**
     * A clean, logged-in server comes back. {@code afterCheck}: it was idle and only taken out for a
     * role recheck, so it keeps its idle time (server_idle_timeout) and goes back among the oldest.
     */
    private void release(ServerConnection server, boolean afterCheck) {
        Waiter next = null;
        String retired;
        lock.lock();
        try {
            retired = closed || paused ? "pool closed or paused" : retireReason(server);
            if (retired == null) {
                next = pollWaiterFor(server.eventLoop());
                if (next != null) {
                    server.assignTo(next.request);
                } else if (afterCheck) {
                    server.markIdleAgain();
                    idle.addFirst(server);
                    return;
                } else {
                    server.markIdle();
                    idle.addLast(server);
                    return;
                }
            }
        } finally {
            lock.unlock();
        }
        if (next == null) {
            server.close(retired);
            return;
        }
        handOver(next.request, server);
    }

    /** Why a server that comes back is closed instead of reused, or null if it may be reused. */
    private String retireReason(ServerConnection server) {
        if (!server.isUsable() || server.mustRetire(settings)) {
            return "server retired";
        }
        if (server.endpoint() != endpoint) {
            return "database configuration changed";
        }
        if (server.addressOutdated()) {
            return "host address changed";
        }
        if (server.roleOutdated()) {
            return "server role no longer matches target_session_attrs=" + endpoint.target().configName();
        }
        return null;
    }

    /**
     * target_session_attrs: the periodic recheck of an idle server's role is done. One that still
     * fits goes back to the idle list (or to a waiter); one that does not is closed.
     */
    public void roleChecked(ServerConnection server, boolean fits) {
        if (fits) {
            release(server, true);
        } else {
            server.close("server role no longer matches target_session_attrs=" + endpoint.target().configName());
        }
    }

    /** A newly logged-in server: remember its parameters, then treat it as released. */
    public void serverLoggedIn(ServerConnection server) {
        lock.lock();
        try {
            opening--;
            loginError = null;
            if (serverParameters == null) {
                serverParameters = Map.copyOf(server.parameters());
            }
        } finally {
            lock.unlock();
        }
        release(server);
    }

    /**
     * A server could not connect or log in. Clients still logging in get the error; clients with a
     * query keep waiting and new servers are tried again after server_login_retry.
     */
    public void serverLoginFailed(ServerConnection server, PgError error) {
        List<Waiter> failed = new ArrayList<>();
        lock.lock();
        try {
            opening--;
            removeServer(server);
            loginFailedAt = System.nanoTime();
            loginError = error;
            for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
                Waiter w = it.next();
                if (w.request.isLogin() || !w.request.isActive()) {
                    it.remove();
                    failed.add(w);
                }
            }
        } finally {
            lock.unlock();
        }
        for (Waiter w : failed) {
            if (w.request.isActive()) {
                w.request.eventLoop().execute(() -> w.request.serverUnavailable(error));
            }
        }
    }

    /** A server connection closed (from any state after login). */
    public void serverClosed(ServerConnection server) {
        List<Runnable> after = new ArrayList<>(0);
        lock.lock();
        try {
            idle.remove(server);
            if (removeServer(server)) {
                Waiter first = waiters.peekFirst();
                if (first != null) {
                    openForWaiters(first.request.eventLoop(), after);
                }
            }
        } finally {
            lock.unlock();
        }
        run(after);
    }

    /**
     * Periodic upkeep, from the janitor: wait timeouts, the reserve pool, retries after a login
     * failure, min_pool_size, idle timeouts and lifetimes of idle servers.
     */
    public void maintain(EventLoop loop) {
        List<Runnable> after = new ArrayList<>(0);
        List<ServerConnection> retire = new ArrayList<>(0);
        List<ServerConnection> recheck = new ArrayList<>(0);
        long now = System.nanoTime();
        lock.lock();
        try {
            for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
                Waiter w = it.next();
                PgError e = null;
                if (!w.request.isActive()) {
                    it.remove();
                } else if (settings.waitingQueryTimeoutNanos() > 0 && now - w.since > settings.waitingQueryTimeoutNanos()) {
                    // as PgBouncer: the global query_timeout also ends a wait for a server, before query_wait_timeout
                    e = PgError.fatal(SqlState.QUERY_CANCELED, "query_timeout");
                } else if (settings.queryWaitTimeoutNanos() > 0 && now - w.since > settings.queryWaitTimeoutNanos()) {
                    e = PgError.fatal(SqlState.CONNECTION_FAILURE, "query_wait_timeout");
                }
                if (e != null) {
                    it.remove();
                    ServerRequest r = w.request;
                    PgError error = e;
                    after.add(() -> r.eventLoop().execute(() -> r.serverUnavailable(error)));
                }
            }
            for (Iterator<ServerConnection> it = idle.iterator(); it.hasNext(); ) {
                ServerConnection s = it.next();
                boolean surplus = all.size() - retire.size() > settings.minPoolSize();
                if (!s.isUsable() || s.mustRetire(settings)
                        || (surplus && settings.serverIdleTimeoutNanos() > 0 && s.idleNanos(now) > settings.serverIdleTimeoutNanos())) {
                    it.remove();
                    retire.add(s);
                } else if (s.roleCheckDue(now, settings.roleCheckNanos())) {
                    it.remove(); // out of the idle list while its role query runs (SHOW POOLS: sv_tested)
                    recheck.add(s);
                }
            }
            if (settings.serverFastClose()) {
                // servers from before a RECONNECT or RELOAD that clients still hold (session mode): their
                // clients close them as soon as their transaction is over
                for (ServerConnection s : all) {
                    if (s.endpoint() != endpoint && s.state() == ServerConnection.State.ACTIVE && s.markStaleNotified()) {
                        io.usher.server.ServerOwner o = s.owner();
                        if (o != null) {
                            after.add(() -> o.eventLoop().execute(() -> o.onServerStale(s)));
                        }
                    }
                }
            }
            if (!waiters.isEmpty()) {
                openForWaiters(waiters.peekFirst().request.eventLoop(), after);
            }
            if (serverParameters != null || settings.minPoolSize() > 0) {
                while (!closed && !paused && all.size() < settings.minPoolSize() && !inLoginBackoff(now)
                        && reserveSlot(false)) {
                    after.add(openServer(loop));
                }
            }
        } finally {
            lock.unlock();
        }
        for (ServerConnection s : retire) {
            s.close("server idle timeout or lifetime");
        }
        for (ServerConnection s : recheck) {
            s.recheckRole(fits -> roleChecked(s, fits));
        }
        run(after);
        evictIfBlocked();
    }

    /** Stops handing out servers and closes all of them, linked ones too (Usher stops). */
    public void close() {
        List<ServerConnection> toClose;
        List<Waiter> waiting;
        lock.lock();
        try {
            closed = true;
            toClose = new ArrayList<>(all);
            idle.clear();
            waiting = new ArrayList<>(waiters);
            waiters.clear();
        } finally {
            lock.unlock();
        }
        toClose.forEach(s -> s.close("pool closed"));
        PgError e = PgError.fatal(SqlState.ADMIN_SHUTDOWN, "database shutting down");
        waiting.forEach(w -> w.request.eventLoop().execute(() -> w.request.serverUnavailable(e)));
    }

    private <T> T locked(java.util.function.Supplier<T> read) {
        lock.lock();
        try {
            return read.get();
        } finally {
            lock.unlock();
        }
    }

    /**
     * A logged-in client now belongs to this pool (for SHOW POOLS, and so that the pool is not
     * dropped under it). False if the pool was closed meanwhile: the client must take a new one.
     */
    public boolean clientAttached() {
        lock.lock();
        try {
            if (closed) {
                return false;
            }
            clients.incrementAndGet();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Whether no client belongs to the pool and it has no server connection (autodb_idle_timeout). */
    public boolean isUnused() {
        return clients.get() == 0 && locked(() -> all.isEmpty() && waiters.isEmpty());
    }

    /** Closes the pool if it is still unused (an unused pool made from the "*" entry is dropped). */
    public boolean closeIfUnused() {
        lock.lock();
        try {
            if (closed || clients.get() != 0 || !all.isEmpty() || !waiters.isEmpty()) {
                return false;
            }
            closed = true;
            return true;
        } finally {
            lock.unlock();
        }
    }

    public void clientDetached() {
        clients.decrementAndGet();
    }

    /** The counts SHOW POOLS reports, taken under the lock. */
    public record Snapshot(int clientsActive, int clientsWaiting, int serversActive, int serversIdle,
                           int serversUsed, int serversTested, int serversLogin, long maxWaitNanos) {}

    public Snapshot snapshot() {
        long now = System.nanoTime();
        return locked(() -> {
            int used = 0;
            for (ServerConnection s : idle) {
                if (s.needsCheck(settings)) {
                    used++;
                }
            }
            int tested = 0;
            for (ServerConnection s : all) {
                if (s.state() == ServerConnection.State.INTERNAL) {
                    tested++;
                }
            }
            int waiting = waiters.size();
            long maxWait = waiters.isEmpty() ? 0 : now - waiters.peekFirst().since;
            int active = Math.max(0, all.size() - idle.size() - opening - tested);
            return new Snapshot(Math.max(0, clients.get() - waiting), waiting, active, idle.size() - used, used,
                    tested, opening, maxWait);
        });
    }

    /** A copy of this pool's server connections (SHOW SERVERS). */
    public List<ServerConnection> servers() {
        return locked(() -> new ArrayList<>(all));
    }

    public int serverCount() {
        return locked(() -> all.size());
    }

    public int idleCount() {
        return locked(() -> idle.size());
    }

    public int waitingCount() {
        return locked(() -> waiters.size());
    }

    // ---- under the lock ----

    private ServerConnection takeIdle(EventLoop preferred) {
        // prefer a server on the client's own event loop: no thread hop while they are linked
        ServerConnection fallback = null;
        for (Iterator<ServerConnection> it = idle.descendingIterator(); it.hasNext(); ) {
            ServerConnection s = it.next();
            if (!s.isUsable()) {
                continue;
            }
            if (s.eventLoop() == preferred) {
                it.remove();
                return s;
            }
            if (fallback == null) {
                fallback = s;
            }
        }
        if (fallback != null) {
            idle.remove(fallback);
        }
        return fallback;
    }

    /**
     * The waiter to hand a released server to: the first in line, unless a client on the server's own
     * event loop arrived within {@link #AFFINITY_WINDOW_NANOS} of it. Taking that one instead keeps
     * the pair on one thread (no hand-off between threads for every message), and bends FIFO order
     * by at most that window.
     */
    private Waiter pollWaiterFor(EventLoop serverLoop) {
        Waiter head = pollLiveWaiter();
        if (head == null || head.request.eventLoop() == serverLoop) {
            return head;
        }
        int looked = 0;
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext() && looked < AFFINITY_SCAN; looked++) {
            Waiter w = it.next();
            if (w.since - head.since > AFFINITY_WINDOW_NANOS) {
                break;
            }
            if (w.request.eventLoop() == serverLoop && w.request.isActive()) {
                it.remove();
                waiters.addFirst(head);
                return w;
            }
        }
        return head;
    }

    private static final long AFFINITY_WINDOW_NANOS = 2_000_000L;
    private static final int AFFINITY_SCAN = 64;

    private Waiter pollLiveWaiter() {
        Waiter w;
        while ((w = waiters.pollFirst()) != null) {
            if (w.request.isActive()) {
                return w;
            }
        }
        return null;
    }

    /** Opens servers while waiters outnumber the connections being opened and limits allow. */
    private void openForWaiters(EventLoop loop, List<Runnable> after) {
        long now = System.nanoTime();
        while (!paused && opening < waiters.size() && !inLoginBackoff(now)) {
            Waiter first = waiters.peekFirst();
            boolean reserve = first != null && settings.reservePoolSize() > 0
                    && now - first.since >= settings.reserveTimeoutNanos();
            if (!reserveSlot(reserve)) {
                break;
            }
            if (reserve && all.size() > settings.poolSize()) {
                log.info("{}: taking connection from reserve_pool", key);
            }
            after.add(openServer(loop));
        }
    }

    private boolean inLoginBackoff(long now) {
        return loginError != null && now - loginFailedAt < settings.loginRetryNanos();
    }

    /** Counts a new server against the pool, database and user limits; false if one is reached. */
    private boolean reserveSlot(boolean useReserve) {
        int limit = settings.poolSize() + (useReserve ? settings.reservePoolSize() : 0);
        if (all.size() >= limit) {
            return false;
        }
        if (!databaseCount.tryAcquire(settings.maxDbConnections())) {
            blockedBy = Limit.DATABASE;
            return false;
        }
        if (!userCount.tryAcquire(settings.maxUserConnections())) {
            databaseCount.release();
            blockedBy = Limit.USER;
            return false;
        }
        return true;
    }

    /** Which shared limit stopped this pool from opening a server for its waiters (see {@link Evictor}). */
    public enum Limit { DATABASE, USER }

    /**
     * Frees a slot under max_db_connections or max_user_connections by closing an idle server of
     * another pool of the same database or user, as PgBouncer does; otherwise waiters of a new pool
     * would starve until server_idle_timeout.
     */
    public interface Evictor {
        void evictFor(Pool starving, Limit limit);
    }

    /** Takes this pool's longest-idle server out, for eviction; null if it has none. */
    public ServerConnection takeIdleForEviction() {
        lock.lock();
        try {
            return idle.pollFirst();
        } finally {
            lock.unlock();
        }
    }

    /** Runs after the lock is dropped: asks for an eviction if a shared limit blocked the waiters. */
    private void evictIfBlocked() {
        Limit limit = blockedBy;
        if (limit != null) {
            blockedBy = null;
            evictor.evictFor(this, limit);
        }
    }

    private Runnable openServer(EventLoop loop) {
        ServerConnection s = new ServerConnection(this, loop);
        all.add(s);
        opening++;
        return s::connect;
    }

    private boolean removeServer(ServerConnection server) {
        if (all.remove(server)) {
            databaseCount.release();
            userCount.release();
            return true;
        }
        return false;
    }

    private static void handOver(ServerRequest request, ServerConnection server) {
        EventLoop loop = request.eventLoop();
        if (loop.inEventLoop()) {
            request.serverAssigned(server);
        } else {
            loop.execute(() -> request.serverAssigned(server));
        }
    }

    private static void run(List<Runnable> actions) {
        for (Runnable r : actions) {
            r.run();
        }
    }

    public boolean isClosed() {
        return closed;
    }
}

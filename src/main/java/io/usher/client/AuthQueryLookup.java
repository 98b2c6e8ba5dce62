package io.usher.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.usher.pool.Pool;
import io.usher.pool.ServerRequest;
import io.usher.protocol.PgError;
import io.usher.server.AuthQueryResult;
import io.usher.server.ServerConnection;

import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * One run of auth_query for a client that is logging in: takes a server of the auth_user's pool on
 * the auth database (waiting in line like any client), runs the query with the user name as $1, gives
 * the server back and reports the answer on the client's event loop. A server whose query failed is
 * closed (PgBouncer's "closing because: error response from auth_query").
 */
final class AuthQueryLookup implements ServerRequest {

    /** The answer: the query's result, or the pool's error when no server could be had. */
    record Answer(AuthQueryResult result, PgError unavailable) {}

    private final Pool pool;
    private final String sql;
    private final String user;
    private final EventLoop loop;
    private final BooleanSupplier clientActive;
    private final Consumer<Answer> onDone;
    private boolean finished;
    private boolean retried;
    private static final String CRASHED = "server conn crashed?";

    AuthQueryLookup(Pool pool, String sql, String user, EventLoop loop, BooleanSupplier clientActive,
                    Consumer<Answer> onDone) {
        this.pool = pool;
        this.sql = sql;
        this.user = user;
        this.loop = loop;
        this.clientActive = clientActive;
        this.onDone = onDone;
    }

    void start() {
        pool.acquire(this);
    }

    /** The client went away: out of line (a query in flight finishes and its server goes back). */
    void cancel() {
        pool.cancel(this);
    }

    @Override
    public EventLoop eventLoop() {
        return loop;
    }

    @Override
    public boolean isLogin() {
        // while the auth pool's server logins fail, the client gets the cached error at once
        return true;
    }

    @Override
    public boolean isActive() {
        return !finished && clientActive.getAsBoolean();
    }

    @Override
    public void serverAssigned(ServerConnection s) {
        s.detach();
        if (!isActive()) {
            pool.release(s);
            return;
        }
        s.runAuthQuery(sql, user, result -> {
            if (result.ok()) {
                pool.release(s);
            }
            loop.execute(() -> {
                if (!result.ok() && result.failure().equals(CRASHED) && !retried && isActive()) {
                    // an idle server that had died meanwhile: once more, on another one
                    retried = true;
                    pool.acquire(this);
                    return;
                }
                done(new Answer(result, null));
            });
        });
    }

    @Override
    public void serverUnavailable(PgError error) {
        done(new Answer(null, error));
    }

    private void done(Answer answer) {
        if (finished) {
            return;
        }
        finished = true;
        if (clientActive.getAsBoolean()) {
            onDone.accept(answer);
        }
    }

    // A lookup is never linked to a server the way a client is: it detaches at once.

    @Override
    public void onServerData(ServerConnection server, ByteBuf data, boolean flush) {
        data.release();
    }

    @Override
    public void onServerReadComplete(ServerConnection server) {
    }

    @Override
    public void onServerClosed(ServerConnection server) {
    }

    @Override
    public void onServerWritabilityChanged(ServerConnection server, boolean writable) {
    }

    @Override
    public void onServerStale(ServerConnection server) {
    }
}

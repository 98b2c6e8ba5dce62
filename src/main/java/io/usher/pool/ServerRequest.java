package io.usher.pool;

import io.netty.channel.EventLoop;
import io.usher.protocol.PgError;
import io.usher.server.ServerConnection;

/**
 * Something waiting for a server connection: a client that has a query to run, or that needs the
 * pool's server parameters to finish its login. Callbacks run on {@link #eventLoop()}.
 */
public interface ServerRequest extends io.usher.server.ServerOwner {
    EventLoop eventLoop();

    /** The pool assigned this server (already marked active for this request). */
    void serverAssigned(ServerConnection server);

    /** The pool cannot serve this request; the client should be disconnected with this error. */
    void serverUnavailable(PgError error);

    /** Whether the request only needs a logged-in server's parameters (a client still logging in). */
    boolean isLogin();

    /** Whether the requester is still there (a closed client is skipped). */
    boolean isActive();
}

package io.usher.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;

/**
 * The client a server connection is linked to, as the server sees it. The server hands its reads
 * over on the owner's event loop, so everything about the pair happens on one thread.
 */
public interface ServerOwner {
    EventLoop eventLoop();

    /** Bytes from the server; the owner takes over the buffer. {@code flush}: no read-complete follows. */
    void onServerData(ServerConnection server, ByteBuf data, boolean flush);

    /** The end of a read batch on the same event loop: time to flush. */
    void onServerReadComplete(ServerConnection server);

    /** The server connection closed while linked. */
    void onServerClosed(ServerConnection server);

    /** The server's socket became writable or not (backpressure for the client's reads). */
    void onServerWritabilityChanged(ServerConnection server, boolean writable);

    /**
     * server_fast_close: the pool's database entry changed under this linked server (RECONNECT, or
     * a RELOAD that changed the connection settings); it is to be closed as soon as its transaction
     * ends, with its client, instead of at the end of the session. Called on the owner's loop.
     */
    void onServerStale(ServerConnection server);
}

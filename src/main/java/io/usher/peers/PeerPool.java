package io.usher.peers;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.unix.DomainSocketAddress;
import io.usher.net.Transport;
import io.usher.protocol.Messages;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.IntUnaryOperator;

/**
 * Cancel requests on their way to one peer: at most {@code pool_size} connections to it at a time
 * (PgBouncer's peer pool), the rest wait in arrival order. Each forwarded request gets a connection
 * of its own, as the protocol wants; the peer closes it once it has acted on the request, and only
 * then is the requesting client's connection closed, so a client that waits for that close (libpq,
 * pgjdbc) knows its cancel has reached the instance running the query.
 *
 * <p>Requests arrive on many event loops, so the counts are guarded by this object's lock; nothing
 * slow runs under it.
 */
public final class PeerPool {
    private static final Logger log = LoggerFactory.getLogger(PeerPool.class);

    /** One CancelRequest to pass on, and the connection it came on (closed when done). */
    record Request(int pid, int secret, Channel requester) {
    }

    private final int peerId;
    /** Where the peer is now (its [peers] entry may change on RELOAD; a host name may need a lookup). */
    private final Function<Integer, CompletableFuture<SocketAddress>> address;
    /** The peer's pool_size now. */
    private final IntUnaryOperator poolSize;
    private final ArrayDeque<Request> waiting = new ArrayDeque<>();
    /** Connections being opened (sv_login); their requests still count as waiting. */
    private int connecting;
    /** Connections whose request is sent, until the peer closes them (sv_active_cancel). */
    private int active;
    /** Requests sent to the peer since start (no SHOW column in PgBouncer; for tests and logs). */
    private long forwarded;

    PeerPool(int peerId, Function<Integer, CompletableFuture<SocketAddress>> address, IntUnaryOperator poolSize) {
        this.peerId = peerId;
        this.address = address;
        this.poolSize = poolSize;
    }

    public int peerId() {
        return peerId;
    }

    /** Figures for SHOW PEER_POOLS, read together. */
    public record Counts(int activeRequests, int waitingRequests, int activeConnections, int loginConnections) {
    }

    public synchronized long forwarded() {
        return forwarded;
    }

    public synchronized Counts counts() {
        return new Counts(active, waiting.size() + connecting, active, connecting);
    }

    /** Queues {@code r} and starts as many requests as the peer's pool_size allows. */
    void submit(Request r) {
        synchronized (this) {
            waiting.add(r);
        }
        // a requester that gives up (or times out) while queued leaves the queue
        r.requester().closeFuture().addListener(f -> {
            synchronized (this) {
                waiting.remove(r);
            }
        });
        drain();
    }

    private void drain() {
        while (true) {
            Request next;
            synchronized (this) {
                if (connecting + active >= Math.max(1, poolSize.applyAsInt(peerId)) || waiting.isEmpty()) {
                    return;
                }
                next = waiting.poll();
                connecting++;
            }
            address.apply(peerId).whenComplete((to, error) -> {
                if (to == null) {
                    log.warn("C: cancel request for peer {} not forwarded: {}", peerId,
                            error == null ? "no address" : error.getMessage());
                    finished(next, false);
                } else {
                    connect(next, to);
                }
            });
        }
    }

    private void connect(Request r, SocketAddress to) {
        if (!r.requester().isActive()) {
            finished(r, false);
            return;
        }
        Bootstrap b = new Bootstrap().group(r.requester().eventLoop())
                .channel(to instanceof DomainSocketAddress ? Transport.domainSocketChannel() : Transport.socketChannel())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        // nothing to read: the peer closes the connection once it has the request
                    }
                });
        ChannelFuture connect = b.connect(to);
        // the requester's deadline (cancel_wait_timeout) also ends a connection still being opened
        r.requester().closeFuture().addListener(f -> connect.channel().close());
        connect.addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                log.warn("C: cancel request for peer {} not forwarded to {}: {}", peerId, to, f.cause().toString());
                finished(r, false);
                return;
            }
            synchronized (this) {
                connecting--;
                active++;
                forwarded++;
            }
            log.debug("C: forwarding cancel request to peer {} at {}", peerId, to);
            f.channel().writeAndFlush(Messages.cancelRequest(r.pid(), r.secret()));
            f.channel().closeFuture().addListener(c -> finished(r, true));
        });
    }

    /** The request is done (sent and closed by the peer, or failed): free its slot, start the next. */
    private void finished(Request r, boolean wasActive) {
        synchronized (this) {
            if (wasActive) {
                active--;
            } else {
                connecting--;
            }
        }
        r.requester().close();
        drain();
    }
}

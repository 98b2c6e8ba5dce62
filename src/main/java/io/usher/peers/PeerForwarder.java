package io.usher.peers;

import io.netty.channel.Channel;
import io.netty.channel.unix.DomainSocketAddress;
import io.usher.config.PeerConfig;
import io.usher.config.UsherConfig;
import io.usher.server.DnsCache;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Passes on CancelRequests whose key was issued by another instance of the fleet ({@code [peers]}),
 * as PgBouncer's accept_cancel_request_for_peer does: the key's TTL is lowered by one, the request
 * goes to the peer over a new connection, and the requester's connection stays open until the peer
 * closes that one. Peer pools are made on first use (SHOW PEER_POOLS lists those), as PgBouncer's are.
 */
public final class PeerForwarder {
    private static final Logger log = LoggerFactory.getLogger(PeerForwarder.class);

    private final Supplier<UsherConfig> config;
    private final DnsCache dns;
    private final Map<Integer, PeerPool> pools = new ConcurrentHashMap<>();

    public PeerForwarder(Supplier<UsherConfig> config, DnsCache dns) {
        this.config = config;
        this.dns = dns;
    }

    /**
     * Forwards a CancelRequest for {@code peerId}'s key, or closes {@code requester} when it cannot
     * be (no TTL left, no such peer). The requester is closed in every case once the work is done,
     * and at the latest after cancel_wait_timeout.
     */
    public void forward(int peerId, int pid, int secret, Channel requester) {
        if (CancelKeys.ttl(secret) == 0) {
            log.info("C: closing because: failed to forward cancel request because its TTL was exhausted");
            requester.close();
            return;
        }
        if (!config.get().peers().containsKey(peerId)) {
            log.info("C: closing because: could not find peer {} to forward request to", peerId);
            requester.close();
            return;
        }
        long limitMillis = config.get().settings().getDuration("cancel_wait_timeout").toMillis();
        if (limitMillis > 0) {
            var timer = requester.eventLoop().schedule(() -> {
                if (requester.isActive()) {
                    log.warn("C: cancel request for peer {} closing because: cancel_wait_timeout", peerId);
                    requester.close();
                }
            }, limitMillis, TimeUnit.MILLISECONDS);
            requester.closeFuture().addListener(f -> timer.cancel(false));
        }
        pools.computeIfAbsent(peerId, id -> new PeerPool(id, this::address, this::poolSize))
                .submit(new PeerPool.Request(pid, CancelKeys.forwarded(secret), requester));
    }

    /** The peer pools made so far, by peer id. */
    public List<PeerPool> pools() {
        List<PeerPool> out = new ArrayList<>(pools.values());
        out.sort(Comparator.comparingInt(PeerPool::peerId));
        return out;
    }

    /** A [peers] entry's pool_size, else default_pool_size (PgBouncer's rule). */
    public int poolSize(int peerId) {
        UsherConfig c = config.get();
        PeerConfig p = c.peers().get(peerId);
        return p != null && p.poolSize() != null ? p.poolSize() : c.settings().getInt("default_pool_size");
    }

    /**
     * Where a peer listens: its Unix socket when the host is a directory (the way to reach one
     * instance among several sharing a TCP port through so_reuseport), else host:port, looked up
     * through Usher's DNS cache (never on an event loop). The first host of a list is used.
     */
    private CompletableFuture<SocketAddress> address(int peerId) {
        PeerConfig p = config.get().peers().get(peerId);
        if (p == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("peer " + peerId + " is no longer configured"));
        }
        String host = p.hosts().get(0);
        if (host.startsWith("/")) {
            return CompletableFuture.completedFuture(new DomainSocketAddress(host + "/.s.PGSQL." + p.port()));
        }
        InetAddress literal;
        try {
            literal = DnsCache.literal(host);
        } catch (UnknownHostException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (literal != null) {
            return CompletableFuture.completedFuture(new InetSocketAddress(literal, p.port()));
        }
        return dns.resolve(host).thenCompose(e -> e.addresses().isEmpty()
                ? CompletableFuture.failedFuture(new UnknownHostException(host + ": " + e.error()))
                : CompletableFuture.completedFuture(new InetSocketAddress(e.addresses().get(0), p.port())));
    }
}

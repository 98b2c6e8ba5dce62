package io.usher.server;

import io.usher.config.Settings;
import io.usher.net.SocketOptions;

/**
 * What every server connection of one Usher shares to reach PostgreSQL: the DNS cache and the
 * current socket options. One per running Usher; RELOAD and SET update it in place, so endpoints
 * that hold it stay the same.
 */
public final class ServerNetwork implements AutoCloseable {
    private final DnsCache dns;
    private volatile SocketOptions socketOptions;

    public ServerNetwork(Settings settings) {
        this.dns = new DnsCache(ttl(settings, "dns_max_ttl"), ttl(settings, "dns_nxdomain_ttl"));
        this.socketOptions = SocketOptions.from(settings);
    }

    /** New settings: TTLs apply to answers from now on, socket options to sockets opened from now on. */
    public void configure(Settings settings) {
        dns.configure(ttl(settings, "dns_max_ttl"), ttl(settings, "dns_nxdomain_ttl"));
        socketOptions = SocketOptions.from(settings);
    }

    public DnsCache dns() {
        return dns;
    }

    public SocketOptions socketOptions() {
        return socketOptions;
    }

    private static long ttl(Settings s, String key) {
        return s.getDuration(key).toNanos();
    }

    @Override
    public void close() {
        dns.close();
    }
}

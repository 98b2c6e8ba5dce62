package io.usher.server;

import io.usher.config.Settings;
import io.usher.net.SocketOptions;
import io.usher.tls.ServerTls;
import io.usher.tls.TlsConfigException;

/**
 * What every server connection of one Usher shares to reach PostgreSQL: the DNS cache and the
 * current socket options. One per running Usher; RELOAD and SET update it in place, so endpoints
 * that hold it stay the same.
 */
public final class ServerNetwork implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ServerNetwork.class);
    private final DnsCache dns;
    private volatile SocketOptions socketOptions;
    private volatile ServerTls tls;

    /** @throws IllegalArgumentException when the server_tls_* settings cannot be used */
    public ServerNetwork(Settings settings) {
        try {
            this.tls = ServerTls.build(settings);
        } catch (TlsConfigException e) {
            throw new IllegalArgumentException("TLS setup failed: " + e.getMessage(), e);
        }
        this.dns = new DnsCache(ttl(settings, "dns_max_ttl"), ttl(settings, "dns_nxdomain_ttl"));
        this.socketOptions = SocketOptions.from(settings);
    }

    /**
     * New settings: TTLs apply to answers from now on, socket options and TLS to sockets opened from
     * now on. TLS files are read again; if they cannot be used the previous TLS context stays.
     * @return whether a server_tls_* setting changed (PgBouncer then reconnects every pool)
     */
    public boolean configure(Settings settings) {
        dns.configure(ttl(settings, "dns_max_ttl"), ttl(settings, "dns_nxdomain_ttl"));
        socketOptions = SocketOptions.from(settings);
        ServerTls previous = tls;
        try {
            tls = ServerTls.build(settings);
        } catch (TlsConfigException e) {
            log.error("TLS configuration could not be reloaded, keeping old configuration: {}", e.getMessage());
            return false;
        }
        return !tls.settingsUsed().equals(previous.settingsUsed());
    }

    /** TLS towards PostgreSQL as of now. */
    public ServerTls tls() {
        return tls;
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

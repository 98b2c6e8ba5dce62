package io.usher.server;

import io.netty.channel.unix.DomainSocketAddress;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import java.util.Map;

/** Where and as whom the server connections of a pool log in. */
public record ServerEndpoint(List<String> hosts, int port, String database, ServerCredentials credentials,
                             Map<String, String> startupParameters, String defaultSocketDir) {

    /** The address to connect to: a host name or IP, or a Unix-socket directory (leading '/'). */
    public SocketAddress address() {
        String host = hosts.isEmpty() ? defaultSocketDir : hosts.get(0);
        if (host.startsWith("/")) {
            return new DomainSocketAddress(host + "/.s.PGSQL." + port);
        }
        return InetSocketAddress.createUnresolved(host, port);
    }

    /** Same place and same login (credentials compared by user and secret, not identity). */
    public boolean sameTarget(ServerEndpoint o) {
        return hosts.equals(o.hosts) && port == o.port && database.equals(o.database)
                && startupParameters.equals(o.startupParameters) && defaultSocketDir.equals(o.defaultSocketDir)
                && credentials.user().equals(o.credentials.user())
                && java.util.Objects.equals(credentials.secret(), o.credentials.secret());
    }

    public String user() {
        return credentials.user();
    }

    public String describe() {
        return (hosts.isEmpty() ? defaultSocketDir : String.join(",", hosts)) + ":" + port + "/" + database;
    }
}

package io.usher.server;

import io.netty.channel.unix.DomainSocketAddress;
import io.usher.config.TargetSessionAttrs;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Where and as whom the server connections of a pool log in.
 *
 * @param hosts       {@code host=}: names, IP addresses or Unix-socket directories (leading '/'); empty
 *                    for the Unix socket in {@code defaultSocketDir}
 * @param port        {@code port=}, the same for every host (PgBouncer has no per-host ports)
 * @param roundRobin  {@code load_balance_hosts}: true for round-robin (the default), false for disable
 * @param target      {@code target_session_attrs}: which servers of the list connections may stay on
 * @param network     the DNS cache and socket options shared by all endpoints (not part of the target)
 */
public record ServerEndpoint(List<String> hosts, int port, String database, ServerCredentials credentials,
                             Map<String, String> startupParameters, String defaultSocketDir, boolean roundRobin,
                             TargetSessionAttrs target, ServerNetwork network) {

    /** The host entries to choose from: the configured list, or the default socket directory. */
    public List<String> targets() {
        return hosts.isEmpty() ? List.of(defaultSocketDir) : hosts;
    }

    /** Whether a host entry is a Unix-socket directory. */
    public static boolean isSocketDir(String host) {
        return host.startsWith("/");
    }

    /** The socket of PostgreSQL in directory {@code dir}. */
    public DomainSocketAddress socketIn(String dir) {
        return new DomainSocketAddress(dir + "/.s.PGSQL." + port);
    }

    /** The same endpoint with a new identity: its servers count as stale (RECONNECT). */
    public ServerEndpoint copy() {
        return new ServerEndpoint(hosts, port, database, credentials, startupParameters, defaultSocketDir, roundRobin,
                target, network);
    }

    /** Same place and same login (credentials compared by user and secret, not identity). */
    public boolean sameTarget(ServerEndpoint o) {
        return hosts.equals(o.hosts) && port == o.port && database.equals(o.database)
                && startupParameters.equals(o.startupParameters) && defaultSocketDir.equals(o.defaultSocketDir)
                && roundRobin == o.roundRobin && target == o.target
                && credentials.user().equals(o.credentials.user())
                && Objects.equals(credentials.secret(), o.credentials.secret());
    }

    public String user() {
        return credentials.user();
    }

    public String describe() {
        return String.join(",", targets()) + ":" + port + "/" + database;
    }
}

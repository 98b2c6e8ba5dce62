package io.usher.config;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One entry of {@code [databases]}. The entry named {@code "*"} is the fallback for databases that
 * have no entry of their own. Nullable fields mean "not set here" (the global setting applies).
 *
 * @param name                   the database name clients connect to (the key; case-sensitive)
 * @param hosts                  from {@code host=} (a comma list). Empty when not set: PgBouncer then
 *                               connects over the Unix socket in {@code unix_socket_dir}. A host
 *                               beginning with {@code /} is a Unix socket directory, with {@code @}
 *                               an abstract-namespace Unix socket.
 * @param port                   {@code port=}, default 5432
 * @param dbname                 {@code dbname=}, default {@link #name}; for the {@code "*"} entry null
 *                               means "the database name the client asked for"
 * @param user                   {@code user=}: all server connections log in as this user
 * @param password               {@code password=} for {@code user}
 * @param authUser               {@code auth_user=}
 * @param authQuery              {@code auth_query=}
 * @param authDbname             {@code auth_dbname=}
 * @param poolSize               {@code pool_size=}
 * @param minPoolSize            {@code min_pool_size=}
 * @param reservePoolSize        {@code reserve_pool_size=} or its older alias {@code reserve_pool=}
 * @param poolMode               {@code pool_mode=}
 * @param maxDbConnections       {@code max_db_connections=}
 * @param maxDbClientConnections {@code max_db_client_connections=}
 * @param connectQuery           {@code connect_query=}
 * @param clientEncoding         {@code client_encoding=}
 * @param datestyle              {@code datestyle=}
 * @param timezone               {@code timezone=}
 * @param applicationName        {@code application_name=}
 * @param serverLifetime         {@code server_lifetime=}, whole seconds (PgBouncer reads it with atoi,
 *                               so a fraction is dropped); PgBouncer treats 0 like "not set"
 * @param loadBalanceHosts       {@code load_balance_hosts=}, lower-cased: {@code "round-robin"}
 *                               (PgBouncer's default) or {@code "disable"}
 * @param targetSessionAttrs     {@code target_session_attrs=} (an Usher extension, after libpq): which
 *                               role a server must have to be used; null means {@code any}
 * @param raw                    every pair of the connection string as written, in order
 */
public record DatabaseConfig(String name, List<String> hosts, int port, String dbname,
        String user, String password, String authUser, String authQuery, String authDbname,
        Integer poolSize, Integer minPoolSize, Integer reservePoolSize, PoolMode poolMode,
        Integer maxDbConnections, Integer maxDbClientConnections, String connectQuery,
        String clientEncoding, String datestyle, String timezone, String applicationName,
        Duration serverLifetime, String loadBalanceHosts, TargetSessionAttrs targetSessionAttrs,
        Map<String, String> raw) {

    /** The name of the fallback entry. */
    public static final String FALLBACK = "*";

    public static final int DEFAULT_PORT = 5432;

    public DatabaseConfig {
        Objects.requireNonNull(name, "name");
        hosts = hosts == null ? List.of() : List.copyOf(hosts);
        raw = raw == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(raw));
    }

    /** Whether this is the {@code "*"} fallback entry. */
    public boolean isFallback() {
        return FALLBACK.equals(name);
    }

    /**
     * This entry used for the database {@code clientDbName}, as PgBouncer does when it creates a
     * database from the {@code "*"} entry: the name becomes the client's database name, and so
     * does dbname unless the entry sets one.
     */
    DatabaseConfig boundTo(String clientDbName) {
        return new DatabaseConfig(clientDbName, hosts, port, dbname != null ? dbname : clientDbName,
                user, password, authUser, authQuery, authDbname, poolSize, minPoolSize, reservePoolSize,
                poolMode, maxDbConnections, maxDbClientConnections, connectQuery, clientEncoding,
                datestyle, timezone, applicationName, serverLifetime, loadBalanceHosts, targetSessionAttrs, raw);
    }

    /** Without the password (also in {@code raw}), so that an entry can be logged safely. */
    @Override
    public String toString() {
        Map<String, String> shown = new LinkedHashMap<>(raw);
        shown.replaceAll((k, v) -> k.equalsIgnoreCase("password") ? "***" : v);
        return "DatabaseConfig[" + name + ": " + shown + (password != null ? ", password=***" : "") + "]";
    }
}

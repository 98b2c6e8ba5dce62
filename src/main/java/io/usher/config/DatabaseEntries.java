package io.usher.config;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns a {@code [databases]} line into a {@link DatabaseConfig}, accepting exactly the connection
 * parameters of PgBouncer 1.25 (matched case-sensitively, as PgBouncer does), plus Usher's own
 * {@code target_session_attrs}. Any other key is an error, as in PgBouncer.
 */
final class DatabaseEntries {
    /** The admin console's name; PgBouncer refuses it as a [databases] key (case-sensitively). */
    static final String RESERVED_NAME = "pgbouncer";

    private DatabaseEntries() {
    }

    /**
     * Unlike PgBouncer, which stores the {@code "*"} entry unparsed and only complains when a
     * client uses it, the fallback entry is checked here like any other.
     */
    static DatabaseConfig parse(String name, String connstr, String file, int line) throws ConfigException {
        if (RESERVED_NAME.equals(name)) {
            throw new ConfigException(file, line, "database name \"" + name + "\" is reserved");
        }
        Map<String, String> pairs = ConnectionString.parse(connstr, file, line);
        EntryValues v = new EntryValues(file, line);

        List<String> hosts = List.of();
        int port = DatabaseConfig.DEFAULT_PORT;
        String dbname = DatabaseConfig.FALLBACK.equals(name) ? null : name;
        String user = null;
        String password = null;
        String authUser = null;
        String authQuery = null;
        String authDbname = null;
        Integer poolSize = null;
        Integer minPoolSize = null;
        Integer reservePoolSize = null;
        PoolMode poolMode = null;
        Integer maxDbConnections = null;
        Integer maxDbClientConnections = null;
        String connectQuery = null;
        String clientEncoding = null;
        String datestyle = null;
        String timezone = null;
        String applicationName = null;
        Duration serverLifetime = null;
        String loadBalanceHosts = null;
        TargetSessionAttrs targetSessionAttrs = null;

        for (Map.Entry<String, String> pair : pairs.entrySet()) {
            String value = pair.getValue();
            switch (pair.getKey()) {
                case "dbname" -> dbname = value;
                case "host" -> hosts = EntryValues.hosts(value);
                case "port" -> port = v.port(value);
                case "user" -> user = value;
                case "password" -> password = value;
                case "auth_user" -> authUser = value;
                case "auth_query" -> authQuery = value;
                case "auth_dbname" -> authDbname = value;
                case "pool_size" -> poolSize = v.integer("pool_size", value);
                case "min_pool_size" -> minPoolSize = v.integer("min_pool_size", value);
                // reserve_pool is the pre-1.24 name; both set the same thing, the later one wins.
                case "reserve_pool", "reserve_pool_size" -> reservePoolSize = v.integer(pair.getKey(), value);
                case "pool_mode" -> poolMode = v.poolMode(value);
                case "max_db_connections" -> maxDbConnections = v.integer("max_db_connections", value);
                case "max_db_client_connections" ->
                        maxDbClientConnections = v.integer("max_db_client_connections", value);
                case "connect_query" -> connectQuery = value;
                case "client_encoding" -> clientEncoding = value;
                case "datestyle" -> datestyle = value;
                case "timezone" -> timezone = value;
                case "application_name" -> applicationName = value;
                case "server_lifetime" -> serverLifetime = v.wholeSeconds("server_lifetime", value);
                case "load_balance_hosts" -> loadBalanceHosts = loadBalanceHosts(v, value);
                // Usher's own key (PgBouncer refuses it as unrecognized): a PgBouncer config never has it
                case "target_session_attrs" -> targetSessionAttrs = targetSessionAttrs(v, value);
                default -> throw v.error("unrecognized connection parameter: " + pair.getKey());
            }
        }
        return new DatabaseConfig(name, hosts, port, dbname, user, password, authUser, authQuery, authDbname,
                poolSize, minPoolSize, reservePoolSize, poolMode, maxDbConnections, maxDbClientConnections,
                connectQuery, clientEncoding, datestyle, timezone, applicationName, serverLifetime,
                loadBalanceHosts, targetSessionAttrs, pairs);
    }

    private static String loadBalanceHosts(EntryValues v, String value) throws ConfigException {
        String lower = value.toLowerCase(Locale.ROOT);
        if (lower.equals("round-robin") || lower.equals("disable")) {
            return lower;
        }
        throw v.error("invalid load_balance_hosts: " + value);
    }

    private static TargetSessionAttrs targetSessionAttrs(EntryValues v, String value) throws ConfigException {
        try {
            return TargetSessionAttrs.parse(value);
        } catch (IllegalArgumentException e) {
            throw v.error("invalid target_session_attrs: " + value + " (expected one of "
                    + TargetSessionAttrs.names() + ")");
        }
    }
}

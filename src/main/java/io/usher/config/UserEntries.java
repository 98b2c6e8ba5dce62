package io.usher.config;

import java.time.Duration;
import java.util.Map;

/** Turns a {@code [users]} line into a {@link UserConfig}, accepting exactly PgBouncer 1.25's user parameters. */
final class UserEntries {
    private UserEntries() {
    }

    static UserConfig parse(String name, String settings, String file, int line) throws ConfigException {
        Map<String, String> pairs = ConnectionString.parse(settings, file, line);
        EntryValues v = new EntryValues(file, line);

        PoolMode poolMode = null;
        Integer maxUserConnections = null;
        Integer maxUserClientConnections = null;
        Integer poolSize = null;
        Integer reservePoolSize = null;
        Duration queryTimeout = null;
        Duration idleTransactionTimeout = null;
        Duration transactionTimeout = null;
        Duration clientIdleTimeout = null;

        for (Map.Entry<String, String> pair : pairs.entrySet()) {
            String key = pair.getKey();
            String value = pair.getValue();
            switch (key) {
                case "pool_mode" -> poolMode = v.poolMode(value);
                case "max_user_connections" -> maxUserConnections = v.integer(key, value);
                case "max_user_client_connections" -> maxUserClientConnections = v.integer(key, value);
                case "pool_size" -> poolSize = v.integer(key, value);
                case "reserve_pool_size" -> reservePoolSize = v.integer(key, value);
                case "query_timeout" -> queryTimeout = v.wholeSeconds(key, value);
                case "idle_transaction_timeout" -> idleTransactionTimeout = v.wholeSeconds(key, value);
                case "client_idle_timeout" -> clientIdleTimeout = v.wholeSeconds(key, value);
                case "transaction_timeout" -> transactionTimeout = v.wholeSeconds(key, value);
                default -> throw v.error("unrecognized user parameter: " + key);
            }
        }
        return new UserConfig(name, poolMode, maxUserConnections, maxUserClientConnections, poolSize,
                reservePoolSize, queryTimeout, idleTransactionTimeout, transactionTimeout, clientIdleTimeout, pairs);
    }
}

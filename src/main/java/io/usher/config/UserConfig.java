package io.usher.config;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One entry of {@code [users]}. Nullable fields mean "not set here". The timeouts are whole
 * seconds (PgBouncer reads them with atoi) and PgBouncer treats 0 like "not set".
 *
 * @param name                     the user name (the key; case-sensitive)
 * @param poolMode                 {@code pool_mode=}
 * @param maxUserConnections       {@code max_user_connections=}
 * @param maxUserClientConnections {@code max_user_client_connections=}
 * @param poolSize                 {@code pool_size=}
 * @param reservePoolSize          {@code reserve_pool_size=}
 * @param queryTimeout             {@code query_timeout=}
 * @param idleTransactionTimeout   {@code idle_transaction_timeout=}
 * @param transactionTimeout       {@code transaction_timeout=}
 * @param clientIdleTimeout        {@code client_idle_timeout=}
 * @param raw                      every pair as written, in order
 */
public record UserConfig(String name, PoolMode poolMode, Integer maxUserConnections,
        Integer maxUserClientConnections, Integer poolSize, Integer reservePoolSize,
        Duration queryTimeout, Duration idleTransactionTimeout, Duration transactionTimeout,
        Duration clientIdleTimeout, Map<String, String> raw) {

    public UserConfig {
        Objects.requireNonNull(name, "name");
        raw = raw == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(raw));
    }
}

package io.usher.pool;

import io.usher.config.DatabaseConfig;
import io.usher.config.PoolMode;
import io.usher.config.Settings;
import io.usher.config.UserConfig;

import java.time.Duration;

/**
 * The settings one pool runs with, resolved from [pgbouncer], its [databases] entry and its
 * [users] entry with PgBouncer's precedence (user over database over global).
 *
 * <p>The timeouts of linked servers ({@code queryTimeoutNanos}, {@code idleTransactionTimeoutNanos},
 * {@code transactionTimeoutNanos}) are those of the pool's user, the user its servers log in as, as in
 * PgBouncer (a [users] value above 0 wins over the global one). {@code waitingQueryTimeoutNanos} is
 * the global query_timeout alone: PgBouncer applies only that one to clients still waiting for a server.
 */
public record PoolSettings(PoolMode mode, int poolSize, int minPoolSize, int reservePoolSize,
                           long reserveTimeoutNanos, int maxDbConnections, int maxUserConnections,
                           String resetQuery, boolean resetQueryAlways, String checkQuery, long checkDelayNanos,
                           long serverLifetimeNanos, long serverIdleTimeoutNanos, long loginRetryNanos,
                           int connectTimeoutMillis, long queryWaitTimeoutNanos, String connectQuery,
                           long queryTimeoutNanos, long idleTransactionTimeoutNanos, long transactionTimeoutNanos,
                           long waitingQueryTimeoutNanos, boolean serverFastClose, long roleCheckNanos) {

    public static PoolSettings resolve(Settings g, DatabaseConfig db, UserConfig user) {
        PoolMode mode = user != null && user.poolMode() != null ? user.poolMode()
                : db.poolMode() != null ? db.poolMode() : g.poolMode();
        int poolSize = firstNonNull(user == null ? null : user.poolSize(), db.poolSize(), g.getInt("default_pool_size"));
        int minPool = firstNonNull(db.minPoolSize(), g.getInt("min_pool_size"));
        int reserve = firstNonNull(user == null ? null : user.reservePoolSize(), db.reservePoolSize(),
                g.getInt("reserve_pool_size"));
        int maxDb = firstNonNull(db.maxDbConnections(), g.getInt("max_db_connections"));
        int maxUser = firstNonNull(user == null ? null : user.maxUserConnections(), g.getInt("max_user_connections"));
        Duration lifetime = db.serverLifetime() != null ? db.serverLifetime() : g.getDuration("server_lifetime");
        return new PoolSettings(mode, poolSize, minPool, reserve,
                g.getDuration("reserve_pool_timeout").toNanos(), maxDb, maxUser,
                g.getString("server_reset_query").trim(), g.getBool("server_reset_query_always"),
                checkQuery(g.getString("server_check_query")), g.getDuration("server_check_delay").toNanos(),
                lifetime.toNanos(), g.getDuration("server_idle_timeout").toNanos(),
                g.getDuration("server_login_retry").toNanos(),
                (int) Math.min(Integer.MAX_VALUE, g.getDuration("server_connect_timeout").toMillis()),
                g.getDuration("query_wait_timeout").toNanos(),
                db.connectQuery() == null ? "" : db.connectQuery(),
                userOrGlobal(user == null ? null : user.queryTimeout(), g.getDuration("query_timeout")),
                userOrGlobal(user == null ? null : user.idleTransactionTimeout(), g.getDuration("idle_transaction_timeout")),
                userOrGlobal(user == null ? null : user.transactionTimeout(), g.getDuration("transaction_timeout")),
                g.getDuration("query_timeout").toNanos(), g.getBool("server_fast_close"),
                g.getDuration("server_role_check_period").toNanos());
    }

    /** A [users] timeout overrides the global one only when above 0 (PgBouncer treats 0 as not set). */
    private static long userOrGlobal(Duration user, Duration global) {
        return user != null && !user.isZero() && !user.isNegative() ? user.toNanos() : global.toNanos();
    }

    /** Whether any timeout applies to this pool's linked servers (query, idle transaction, transaction). */
    public boolean hasServerTimeouts() {
        return queryTimeoutNanos > 0 || idleTransactionTimeoutNanos > 0 || transactionTimeoutNanos > 0;
    }

    /** PgBouncer 1.25: "&lt;empty&gt;" (the default) sends an empty query; an empty value turns checks off (null). */
    private static String checkQuery(String configured) {
        String q = configured.trim();
        if (q.equals("<empty>")) {
            return "";
        }
        return q.isEmpty() ? null : q;
    }

    private static int firstNonNull(Integer a, int b) {
        return a != null ? a : b;
    }

    private static int firstNonNull(Integer a, Integer b, int c) {
        return a != null ? a : b != null ? b : c;
    }
}

package io.usher.metrics;

import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.usher.Usher;
import io.usher.config.DatabaseConfig;
import io.usher.pool.Pool;
import io.usher.pool.PoolSettings;
import io.usher.stats.DatabaseStats;

import java.util.function.ToDoubleFunction;

/**
 * The Prometheus metrics of one Usher, read at scrape time from the pools and statistics. Names
 * and labels follow what prometheus-community's pgbouncer_exporter publishes from SHOW POOLS and
 * SHOW STATS, so existing dashboards and alerts carry over.
 */
public final class UsherMetrics {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Usher usher;

    public UsherMetrics(Usher usher) {
        this.usher = usher;
        GaugeWithCallback.builder().name("pgbouncer_up").help("The pooler is up and serving")
                .callback(cb -> cb.call(1)).register(registry);
        poolGauge("pgbouncer_pools_client_active_connections", "Client connections linked or idle", s -> s.clientsActive());
        poolGauge("pgbouncer_pools_client_waiting_connections", "Client connections waiting for a server", s -> s.clientsWaiting());
        poolGauge("pgbouncer_pools_server_active_connections", "Server connections linked to a client", s -> s.serversActive());
        poolGauge("pgbouncer_pools_server_idle_connections", "Server connections idle and ready", s -> s.serversIdle());
        poolGauge("pgbouncer_pools_server_used_connections", "Server connections idle past server_check_delay", s -> s.serversUsed());
        poolGauge("pgbouncer_pools_server_testing_connections", "Server connections running a reset or check query", s -> s.serversTested());
        poolGauge("pgbouncer_pools_server_login_connections", "Server connections logging in", s -> s.serversLogin());
        poolGauge("pgbouncer_pools_client_maxwait_seconds", "Wait of the oldest waiting client, seconds", s -> s.maxWaitNanos() / 1e9);
        statsCounter("pgbouncer_stats_queries_pooled", "Queries pooled", t -> t.queries());
        statsCounter("pgbouncer_stats_sql_transactions_pooled", "Transactions pooled", t -> t.transactions());
        statsCounter("pgbouncer_stats_server_assignments", "Times a server was assigned to a client", t -> t.serverAssignments());
        statsCounter("pgbouncer_stats_received_bytes", "Bytes received from clients", t -> t.received());
        statsCounter("pgbouncer_stats_sent_bytes", "Bytes sent to clients", t -> t.sent());
        statsCounter("pgbouncer_stats_queries_duration_seconds", "Time spent in queries, seconds", t -> t.queryMicros() / 1e6);
        statsCounter("pgbouncer_stats_server_in_transaction_seconds", "Time spent in transactions, seconds", t -> t.transactionMicros() / 1e6);
        statsCounter("pgbouncer_stats_client_wait_seconds", "Time clients waited for a server, seconds", t -> t.waitMicros() / 1e6);
        statsCounter("pgbouncer_stats_client_parses", "Named prepared statements clients created", t -> t.clientParses());
        statsCounter("pgbouncer_stats_server_parses", "Prepared statements Usher created on servers", t -> t.serverParses());
        statsCounter("pgbouncer_stats_binds", "Binds of named prepared statements", t -> t.binds());
        databaseGauge("pgbouncer_databases_current_connections", "Server connections open to the database",
                db -> usher.pools().databaseConnections(db.name()));
        databaseGauge("pgbouncer_databases_pool_size", "Pool size for the database",
                db -> PoolSettings.resolve(usher.config().settings(), db, null).poolSize());
        databaseGauge("pgbouncer_databases_reserve_pool_size", "Reserve pool size for the database",
                db -> PoolSettings.resolve(usher.config().settings(), db, null).reservePoolSize());
        databaseGauge("pgbouncer_databases_max_connections", "Server connection limit for the database (0: none)",
                db -> PoolSettings.resolve(usher.config().settings(), db, null).maxDbConnections());
        databaseGauge("pgbouncer_databases_current_client_connections", "Client connections logged in to the database",
                db -> usher.clientsOfDatabase(db.name()));
        databaseGauge("pgbouncer_databases_paused", "1 while the database is paused",
                db -> usher.pools().isPaused(db.name()) ? 1 : 0);
        databaseGauge("pgbouncer_databases_disabled", "1 while the database is disabled",
                db -> usher.pools().isDisabled(db.name()) ? 1 : 0);
        GaugeWithCallback.builder().name("pgbouncer_config_max_client_connections").help("max_client_conn")
                .callback(cb -> cb.call(usher.config().settings().getInt("max_client_conn"))).register(registry);
        GaugeWithCallback.builder().name("pgbouncer_config_max_user_connections").help("max_user_connections")
                .callback(cb -> cb.call(usher.config().settings().getInt("max_user_connections"))).register(registry);
        GaugeWithCallback.builder().name("pgbouncer_clients").help("Client connections open")
                .callback(cb -> cb.call(usher.clientCount())).register(registry);
        Runtime rt = Runtime.getRuntime();
        GaugeWithCallback.builder().name("usher_jvm_heap_used_bytes").help("JVM heap in use")
                .callback(cb -> cb.call(rt.totalMemory() - rt.freeMemory())).register(registry);
        GaugeWithCallback.builder().name("usher_jvm_heap_max_bytes").help("JVM heap limit")
                .callback(cb -> cb.call(rt.maxMemory())).register(registry);
        GaugeWithCallback.builder().name("usher_jvm_threads").help("JVM threads")
                .callback(cb -> cb.call(Thread.activeCount())).register(registry);
    }

    private void poolGauge(String name, String help, ToDoubleFunction<Pool.Snapshot> value) {
        GaugeWithCallback.builder().name(name).help(help).labelNames("database", "user")
                .callback(cb -> {
                    for (Pool p : usher.pools().pools()) {
                        cb.call(value.applyAsDouble(p.snapshot()), p.key().database(), p.key().user());
                    }
                }).register(registry);
    }

    /** One series per SHOW DATABASES row but the console's, labelled as pgbouncer_exporter labels them. */
    private void databaseGauge(String name, String help, ToDoubleFunction<DatabaseConfig> value) {
        GaugeWithCallback.builder().name(name).help(help)
                .labelNames("name", "host", "port", "database", "force_user", "pool_mode")
                .callback(cb -> {
                    for (DatabaseConfig db : usher.listedDatabases()) {
                        cb.call(value.applyAsDouble(db), db.name(), String.join(",", db.hosts()),
                                String.valueOf(db.port()), db.dbname() != null ? db.dbname() : db.name(),
                                db.user() == null ? "" : db.user(),
                                db.poolMode() == null ? "" : db.poolMode().configName());
                    }
                }).register(registry);
    }

    private void statsCounter(String name, String help, ToDoubleFunction<DatabaseStats.Totals> value) {
        CounterWithCallback.builder().name(name).help(help).labelNames("database")
                .callback(cb -> {
                    for (DatabaseStats s : usher.stats().all()) {
                        cb.call(value.applyAsDouble(s.totals()), s.database());
                    }
                }).register(registry);
    }

    public PrometheusRegistry registry() {
        return registry;
    }
}

package io.usher.config;

import static io.usher.config.SettingType.BOOL;
import static io.usher.config.SettingType.ENUM;
import static io.usher.config.SettingType.INT;
import static io.usher.config.SettingType.LIST;
import static io.usher.config.SettingType.STRING;
import static io.usher.config.SettingType.TIME;
import static io.usher.config.SettingType.UINT;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every key of PgBouncer 1.25's {@code [pgbouncer]} section, in PgBouncer's own (alphabetical,
 * SHOW CONFIG) order, with PgBouncer's types, defaults and reload flags (src/main.c,
 * {@code bouncer_params}).
 *
 * <p>PgBouncer 1.18 knows no key that 1.25 lacks, so 1.18 configs need no extra entries. Two keys
 * are accepted beyond what a Linux PgBouncer 1.25 build knows, because its documentation lists them:
 * {@code service_name} (Windows-only in PgBouncer, an alias of {@code job_name}) and
 * {@code login_notify_message}. One key is Usher's own, {@code server_role_check_period} (rechecks of
 * the {@code [databases]} key {@code target_session_attrs}); PgBouncer configs never set it.
 */
public final class SettingDefs {
    /** Accepted values of the ENUM keys other than auth_type and pool_mode. */
    private static final List<String> SSL_MODES =
            List.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full");

    /** Keys that write to the same setting as another key (PgBouncer points both at one variable). */
    private static final Map<String, String> ALIASES = Map.of("service_name", "job_name");

    /** The keys the Usher core acts on; every other key is accepted but has no effect yet. */
    private static final Set<String> IMPLEMENTED = Set.of(
            "listen_addr", "listen_port", "unix_socket_dir", "auth_type", "auth_file", "pool_mode",
            "max_client_conn", "default_pool_size", "min_pool_size", "reserve_pool_size",
            "reserve_pool_timeout", "max_db_connections", "max_user_connections",
            "max_db_client_connections", "max_user_client_connections", "server_reset_query",
            "server_reset_query_always", "server_check_query", "server_check_delay",
            "ignore_startup_parameters", "application_name_add_host", "logfile", "pidfile",
            "log_connections", "log_disconnections", "log_pooler_errors", "verbose",
            "max_packet_size", "track_extra_parameters", "server_login_retry",
            "query_wait_timeout", "client_login_timeout", "server_connect_timeout", "server_lifetime",
            "server_idle_timeout", "listen_backlog", "tcp_keepalive", "so_reuseport",
            "scram_iterations", "unix_socket_mode", "unix_socket_group", "tcp_keepcnt", "tcp_keepidle",
            "tcp_keepintvl", "tcp_user_timeout", "tcp_socket_buffer", "dns_max_ttl", "dns_nxdomain_ttl",
            "admin_users", "stats_users", "stats_period", "log_stats",
            // logging (io.usher.logging.LogSetup; syslog through /dev/log or UDP 127.0.0.1:514)
            "syslog", "syslog_ident", "syslog_facility",
            // timeouts (suspend_timeout: SUSPEND is refused, so there is never anything for it to time out)
            "query_timeout", "idle_transaction_timeout", "transaction_timeout", "client_idle_timeout",
            "cancel_wait_timeout", "server_fast_close", "autodb_idle_timeout", "suspend_timeout",
            "max_prepared_statements",
            // TLS towards clients
            "client_tls_sslmode", "client_tls_key_file", "client_tls_cert_file", "client_tls_ca_file",
            "client_tls_protocols", "client_tls_ciphers", "client_tls13_ciphers", "client_tls_ecdhcurve",
            "client_tls_dheparams",
            // TLS towards PostgreSQL
            "server_tls_sslmode", "server_tls_ca_file", "server_tls_key_file", "server_tls_cert_file",
            "server_tls_protocols", "server_tls_ciphers", "server_tls13_ciphers",
            // auth_type = hba
            "auth_hba_file",
            // users not in auth_file: looked up with auth_query as auth_user
            "auth_user", "auth_query", "auth_dbname",
            // cancel keys carry it; cancel requests for other peers' keys go to [peers] (io.usher.peers)
            "peer_id",
            // Usher's own: rechecks of target_session_attrs ([databases]); PgBouncer has neither
            "server_role_check_period");

    private static final String DEFAULT_AUTH_QUERY = "SELECT rolname, CASE WHEN rolvaliduntil < now() "
            + "THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin";

    /** Usher's own keys, which PgBouncer does not know (a PgBouncer config never sets them). */
    private static final Set<String> USHER_OWN = Set.of("server_role_check_period");

    private static final Map<String, SettingDef> ALL = build();

    /** The keys PgBouncer does not have; see {@link #USHER_OWN}. */
    public static Set<String> usherOwnKeys() {
        return USHER_OWN;
    }

    private SettingDefs() {
    }

    /** All keys, in PgBouncer's order. Unmodifiable. */
    public static Map<String, SettingDef> all() {
        return ALL;
    }

    /** The accepted names of an ENUM key, lowercase; empty for other keys. */
    public static List<String> enumValues(String key) {
        switch (key) {
            case "auth_type":
                return Arrays.stream(AuthType.values()).map(AuthType::configName).toList();
            case "pool_mode":
                return Arrays.stream(PoolMode.values()).map(PoolMode::configName).toList();
            case "client_tls_sslmode":
            case "server_tls_sslmode":
                return SSL_MODES;
            default:
                return List.of();
        }
    }

    /** The key whose value {@code key} also sets, if {@code key} is an alias; else null. */
    static String aliasTarget(String key) {
        return ALIASES.get(key);
    }

    private static Map<String, SettingDef> build() {
        Map<String, SettingDef> m = new LinkedHashMap<>();
        // Defaults are PgBouncer 1.25's; "" stands for PgBouncer's NULL ("not set").
        add(m, "admin_users", LIST, "", true);
        add(m, "application_name_add_host", BOOL, "0", true);
        add(m, "auth_dbname", STRING, "", true);
        add(m, "auth_file", STRING, "", true);
        add(m, "auth_hba_file", STRING, "", true);
        add(m, "auth_ident_file", STRING, "", true);
        add(m, "auth_ldap_options", STRING, "", true);
        add(m, "auth_query", STRING, DEFAULT_AUTH_QUERY, true);
        add(m, "auth_type", ENUM, "md5", true);
        add(m, "auth_user", STRING, "", true);
        add(m, "autodb_idle_timeout", TIME, "3600", true);
        add(m, "cancel_wait_timeout", TIME, "10", true);
        add(m, "client_idle_timeout", TIME, "0", true);
        add(m, "client_login_timeout", TIME, "60", true);
        add(m, "client_tls13_ciphers", STRING, "", true);
        add(m, "client_tls_ca_file", STRING, "", true);
        add(m, "client_tls_cert_file", STRING, "", true);
        add(m, "client_tls_ciphers", STRING, "default", true);
        add(m, "client_tls_dheparams", STRING, "auto", true);
        add(m, "client_tls_ecdhcurve", STRING, "auto", true);
        add(m, "client_tls_key_file", STRING, "", true);
        add(m, "client_tls_protocols", STRING, "secure", true);
        add(m, "client_tls_sslmode", ENUM, "disable", true);
        // conffile defaults to the file PgBouncer was started with; UsherConfig fills that in.
        add(m, "conffile", STRING, "", true);
        add(m, "default_pool_size", INT, "20", true);
        add(m, "disable_pqexec", BOOL, "0", false);
        add(m, "dns_max_ttl", TIME, "15", true);
        add(m, "dns_nxdomain_ttl", TIME, "15", true);
        add(m, "dns_zone_check_period", TIME, "0", true);
        add(m, "idle_transaction_timeout", TIME, "0", true);
        add(m, "ignore_startup_parameters", LIST, "", true);
        add(m, "job_name", STRING, "pgbouncer", false);
        add(m, "listen_addr", LIST, "", false);
        add(m, "listen_backlog", INT, "128", false);
        add(m, "listen_port", INT, "6432", false);
        add(m, "log_connections", BOOL, "1", true);
        add(m, "log_disconnections", BOOL, "1", true);
        add(m, "log_pooler_errors", BOOL, "1", true);
        add(m, "log_stats", BOOL, "1", true);
        add(m, "logfile", STRING, "", true);
        // Listed in the current doc/config.md and sample config; not found in 1.25's main.c. Accepted to be safe.
        add(m, "login_notify_message", STRING, "", true);
        add(m, "max_client_conn", INT, "100", true);
        add(m, "max_db_client_connections", INT, "0", true);
        add(m, "max_db_connections", INT, "0", true);
        add(m, "max_packet_size", UINT, "2147483647", true);
        add(m, "max_prepared_statements", INT, "200", true);
        add(m, "max_user_client_connections", INT, "0", true);
        add(m, "max_user_connections", INT, "0", true);
        add(m, "min_pool_size", INT, "0", true);
        add(m, "peer_id", INT, "0", true);
        add(m, "pidfile", STRING, "", false);
        add(m, "pkt_buf", INT, "4096", false);
        add(m, "pool_mode", ENUM, "session", true);
        add(m, "query_timeout", TIME, "0", true);
        // An integer in PgBouncer (CF_INT), although the docs call it seconds: "2.5" is rejected.
        add(m, "query_wait_notify", INT, "5", true);
        add(m, "query_wait_timeout", TIME, "120", true);
        add(m, "reserve_pool_size", INT, "0", true);
        add(m, "reserve_pool_timeout", TIME, "5", true);
        add(m, "resolv_conf", STRING, "", false);
        add(m, "sbuf_loopcnt", INT, "5", true);
        add(m, "scram_iterations", INT, "4096", true);
        add(m, "server_check_delay", TIME, "30", true);
        // 1.25 default: "<empty>" = send an empty query as the check; "" disables the check.
        add(m, "server_check_query", STRING, "<empty>", true);
        add(m, "server_connect_timeout", TIME, "15", true);
        add(m, "server_fast_close", BOOL, "0", true);
        add(m, "server_idle_timeout", TIME, "600", true);
        add(m, "server_lifetime", TIME, "3600", true);
        add(m, "server_login_retry", TIME, "15", true);
        add(m, "server_reset_query", STRING, "DISCARD ALL", true);
        add(m, "server_reset_query_always", BOOL, "0", true);
        // Usher's own (target_session_attrs rechecks); a PgBouncer config never sets it.
        add(m, "server_role_check_period", TIME, "5", true);
        add(m, "server_round_robin", BOOL, "0", true);
        add(m, "server_tls13_ciphers", STRING, "", true);
        add(m, "server_tls_ca_file", STRING, "", true);
        add(m, "server_tls_cert_file", STRING, "", true);
        add(m, "server_tls_ciphers", STRING, "default", true);
        add(m, "server_tls_key_file", STRING, "", true);
        add(m, "server_tls_protocols", STRING, "secure", true);
        add(m, "server_tls_sslmode", ENUM, "prefer", true);
        add(m, "service_name", STRING, "pgbouncer", false);
        add(m, "so_reuseport", BOOL, "0", false);
        // An integer number of seconds (CF_INT).
        add(m, "stats_period", INT, "60", true);
        add(m, "stats_users", LIST, "", true);
        add(m, "suspend_timeout", TIME, "10", true);
        add(m, "syslog", BOOL, "0", true);
        add(m, "syslog_facility", STRING, "daemon", true);
        add(m, "syslog_ident", STRING, "pgbouncer", true);
        // PgBouncer's default is 1 where the OS has TCP_DEFER_ACCEPT (Linux), else 0.
        add(m, "tcp_defer_accept", BOOL, "1", true);
        add(m, "tcp_keepalive", BOOL, "1", true);
        add(m, "tcp_keepcnt", INT, "0", true);
        add(m, "tcp_keepidle", INT, "0", true);
        add(m, "tcp_keepintvl", INT, "0", true);
        add(m, "tcp_socket_buffer", INT, "0", true);
        add(m, "tcp_user_timeout", INT, "0", true);
        add(m, "track_extra_parameters", LIST, "IntervalStyle", false);
        add(m, "transaction_timeout", TIME, "0", true);
        add(m, "unix_socket_dir", STRING, "/tmp", false);
        add(m, "unix_socket_group", STRING, "", false);
        // Parsed with strtol base 0, so the leading 0 makes it octal: 0777 = 511.
        add(m, "unix_socket_mode", INT, "0777", false);
        add(m, "user", STRING, "", false);
        add(m, "verbose", INT, "0", true);
        return Collections.unmodifiableMap(m);
    }

    private static void add(Map<String, SettingDef> m, String name, SettingType type, String def, boolean reloadable) {
        m.put(name, new SettingDef(name, type, def, reloadable, IMPLEMENTED.contains(name)));
    }
}

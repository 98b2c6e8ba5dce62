package io.usher.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class SettingDefsTest {

    /** bouncer_params of PgBouncer 1.25's src/main.c (Linux build), plus the two documented extras. */
    private static final Set<String> PGBOUNCER_1_25_KEYS = Set.of(
            "admin_users", "application_name_add_host", "auth_dbname", "auth_file", "auth_hba_file",
            "auth_ident_file", "auth_ldap_options", "auth_query", "auth_type", "auth_user",
            "autodb_idle_timeout", "cancel_wait_timeout", "client_idle_timeout", "client_login_timeout",
            "client_tls13_ciphers", "client_tls_ca_file", "client_tls_cert_file", "client_tls_ciphers",
            "client_tls_dheparams", "client_tls_ecdhcurve", "client_tls_key_file", "client_tls_protocols",
            "client_tls_sslmode", "conffile", "default_pool_size", "disable_pqexec", "dns_max_ttl",
            "dns_nxdomain_ttl", "dns_zone_check_period", "idle_transaction_timeout",
            "ignore_startup_parameters", "job_name", "listen_addr", "listen_backlog", "listen_port",
            "log_connections", "log_disconnections", "log_pooler_errors", "log_stats", "logfile",
            "max_client_conn", "max_db_client_connections", "max_db_connections", "max_packet_size",
            "max_prepared_statements", "max_user_client_connections", "max_user_connections",
            "min_pool_size", "peer_id", "pidfile", "pkt_buf", "pool_mode", "query_timeout",
            "query_wait_notify", "query_wait_timeout", "reserve_pool_size", "reserve_pool_timeout",
            "resolv_conf", "sbuf_loopcnt", "scram_iterations", "server_check_delay", "server_check_query",
            "server_connect_timeout", "server_fast_close", "server_idle_timeout", "server_lifetime",
            "server_login_retry", "server_reset_query", "server_reset_query_always", "server_round_robin",
            "server_tls13_ciphers", "server_tls_ca_file", "server_tls_cert_file", "server_tls_ciphers",
            "server_tls_key_file", "server_tls_protocols", "server_tls_sslmode", "so_reuseport",
            "stats_period", "stats_users", "suspend_timeout", "syslog", "syslog_facility", "syslog_ident",
            "tcp_defer_accept", "tcp_keepalive", "tcp_keepcnt", "tcp_keepidle", "tcp_keepintvl",
            "tcp_socket_buffer", "tcp_user_timeout", "track_extra_parameters", "transaction_timeout",
            "unix_socket_dir", "unix_socket_group", "unix_socket_mode", "user", "verbose",
            // documented, but Windows-only (service_name) or not in 1.25's main.c (login_notify_message)
            "service_name", "login_notify_message");

    /** Usher's own [pgbouncer] keys: a PgBouncer config never sets them, so it loads unchanged. */
    private static final Set<String> USHER_KEYS = Set.of("server_role_check_period");

    /** The [pgbouncer] keys of the PgBouncer 1.18 man page; a 1.18 config uses only these. */
    private static final Set<String> PGBOUNCER_1_18_KEYS = Set.of(
            "logfile", "pidfile", "listen_addr", "listen_port", "unix_socket_dir", "unix_socket_mode",
            "unix_socket_group", "user", "pool_mode", "max_client_conn", "default_pool_size", "min_pool_size",
            "reserve_pool_size", "reserve_pool_timeout", "max_db_connections", "max_user_connections",
            "server_round_robin", "ignore_startup_parameters", "disable_pqexec", "application_name_add_host",
            "conffile", "service_name", "job_name", "stats_period", "auth_type", "auth_hba_file", "auth_file",
            "auth_user", "auth_query", "syslog", "syslog_ident", "syslog_facility", "log_connections",
            "log_disconnections", "log_pooler_errors", "log_stats", "verbose", "admin_users", "stats_users",
            "server_reset_query", "server_reset_query_always", "server_check_delay", "server_check_query",
            "server_fast_close", "server_lifetime", "server_idle_timeout", "server_connect_timeout",
            "server_login_retry", "client_login_timeout", "autodb_idle_timeout", "dns_max_ttl",
            "dns_nxdomain_ttl", "dns_zone_check_period", "resolv_conf", "client_tls_sslmode",
            "client_tls_key_file", "client_tls_cert_file", "client_tls_ca_file", "client_tls_protocols",
            "client_tls_ciphers", "client_tls_ecdhcurve", "client_tls_dheparams", "server_tls_sslmode",
            "server_tls_ca_file", "server_tls_key_file", "server_tls_cert_file", "server_tls_protocols",
            "server_tls_ciphers", "query_timeout", "query_wait_timeout", "client_idle_timeout",
            "idle_transaction_timeout", "suspend_timeout", "pkt_buf", "max_packet_size", "listen_backlog",
            "sbuf_loopcnt", "so_reuseport", "tcp_defer_accept", "tcp_socket_buffer", "tcp_keepalive",
            "tcp_keepcnt", "tcp_keepidle", "tcp_keepintvl", "tcp_user_timeout");

    private static final Set<String> IMPLEMENTED = Set.of(
            "listen_addr", "listen_port", "unix_socket_dir", "auth_type", "auth_file", "pool_mode",
            "max_client_conn", "default_pool_size", "min_pool_size", "reserve_pool_size", "reserve_pool_timeout",
            "max_db_connections", "max_user_connections", "max_db_client_connections",
            "max_user_client_connections", "server_reset_query", "server_reset_query_always",
            "server_check_query", "server_check_delay", "ignore_startup_parameters", "application_name_add_host",
            "logfile", "pidfile", "log_connections", "log_disconnections", "log_pooler_errors", "verbose",
            "max_packet_size", "track_extra_parameters", "server_login_retry",
            "query_wait_timeout", "client_login_timeout", "server_connect_timeout", "server_lifetime",
            "server_idle_timeout", "listen_backlog", "tcp_keepalive", "so_reuseport",
            "scram_iterations", "unix_socket_mode", "unix_socket_group", "tcp_keepcnt", "tcp_keepidle",
            "tcp_keepintvl", "tcp_user_timeout", "tcp_socket_buffer", "dns_max_ttl", "dns_nxdomain_ttl",
            "admin_users", "stats_users", "stats_period", "log_stats",
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
            // cancel keys and forwarding to [peers]
            "peer_id",
            "server_role_check_period");

    /** Keys PgBouncer flags CF_NO_RELOAD (read at startup only). */
    private static final Set<String> NOT_RELOADABLE = Set.of(
            "disable_pqexec", "job_name", "listen_addr", "listen_backlog", "listen_port", "pidfile", "pkt_buf",
            "resolv_conf", "service_name", "so_reuseport", "track_extra_parameters", "unix_socket_dir",
            "unix_socket_group", "unix_socket_mode", "user");

    @Test
    void knowsExactlyThePgBouncer125KeysAndUshersOwn() {
        Set<String> expected = new java.util.HashSet<>(PGBOUNCER_1_25_KEYS);
        expected.addAll(USHER_KEYS);
        assertThat(SettingDefs.all().keySet()).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(PGBOUNCER_1_25_KEYS).doesNotContainAnyElementsOf(USHER_KEYS);
        assertThat(SettingDefs.usherOwnKeys()).containsExactlyInAnyOrderElementsOf(USHER_KEYS);
    }

    @Test
    void knowsEveryPgBouncer118Key() {
        assertThat(SettingDefs.all().keySet()).containsAll(PGBOUNCER_1_18_KEYS);
    }

    @Test
    void keysAreInPgBouncerOrderWhichIsAlphabetical() {
        List<String> keys = new ArrayList<>(SettingDefs.all().keySet());
        assertThat(keys).isSorted();
    }

    @Test
    void eachDefKnowsItsName() {
        SettingDefs.all().forEach((key, def) -> assertThat(def.name()).isEqualTo(key));
    }

    @Test
    void implementedFlagsMatchWhatTheCoreImplements() {
        Set<String> implemented = SettingDefs.all().values().stream()
                .filter(SettingDef::implemented).map(SettingDef::name).collect(Collectors.toSet());
        assertThat(implemented).containsExactlyInAnyOrderElementsOf(IMPLEMENTED);
    }

    @Test
    void reloadFlagsMatchPgBouncer() {
        Set<String> notReloadable = SettingDefs.all().values().stream()
                .filter(d -> !d.reloadable()).map(SettingDef::name).collect(Collectors.toSet());
        assertThat(notReloadable).containsExactlyInAnyOrderElementsOf(NOT_RELOADABLE);
    }

    @Test
    void typesFollowPgBouncersDeclarations() {
        Map<String, SettingDef> all = SettingDefs.all();
        assertThat(all.get("listen_port").type()).isEqualTo(SettingType.INT);
        assertThat(all.get("unix_socket_mode").type()).isEqualTo(SettingType.INT);
        assertThat(all.get("max_packet_size").type()).isEqualTo(SettingType.UINT);
        assertThat(all.get("log_connections").type()).isEqualTo(SettingType.BOOL);
        assertThat(all.get("tcp_keepalive").type()).isEqualTo(SettingType.BOOL);
        assertThat(all.get("server_lifetime").type()).isEqualTo(SettingType.TIME);
        assertThat(all.get("reserve_pool_timeout").type()).isEqualTo(SettingType.TIME);
        assertThat(all.get("query_wait_notify").type()).isEqualTo(SettingType.INT);
        assertThat(all.get("stats_period").type()).isEqualTo(SettingType.INT);
        assertThat(all.get("pool_mode").type()).isEqualTo(SettingType.ENUM);
        assertThat(all.get("auth_type").type()).isEqualTo(SettingType.ENUM);
        assertThat(all.get("server_tls_sslmode").type()).isEqualTo(SettingType.ENUM);
        assertThat(all.get("listen_addr").type()).isEqualTo(SettingType.LIST);
        assertThat(all.get("admin_users").type()).isEqualTo(SettingType.LIST);
        assertThat(all.get("logfile").type()).isEqualTo(SettingType.STRING);
    }

    @Test
    void everyDefaultIsAValidValueOfItsType() {
        for (SettingDef def : SettingDefs.all().values()) {
            assertThat(SettingValues.validate(def, def.defaultValue())).as(def.name()).isNull();
        }
    }

    @Test
    void enumValues() {
        assertThat(SettingDefs.enumValues("client_tls_sslmode"))
                .containsExactly("disable", "allow", "prefer", "require", "verify-ca", "verify-full");
        assertThat(SettingDefs.enumValues("pool_mode")).containsExactly("session", "transaction", "statement");
        assertThat(SettingDefs.enumValues("auth_type")).contains("scram-sha-256", "md5", "hba", "ldap");
        assertThat(SettingDefs.enumValues("listen_port")).isEmpty();
    }

    @Test
    void isUnmodifiable() {
        assertThatThrownBy(() -> SettingDefs.all().remove("listen_port"))
                .isInstanceOf(UnsupportedOperationException.class);
    }
}

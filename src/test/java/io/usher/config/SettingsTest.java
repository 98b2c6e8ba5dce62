package io.usher.config;

import static io.usher.config.TestConfigs.settings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SettingsTest {
    private final Settings defaults = Settings.defaults();

    @ParameterizedTest(name = "{0} defaults to \"{1}\"")
    @CsvSource(delimiter = '|', textBlock = """
            listen_addr                 |
            listen_port                 | 6432
            unix_socket_dir             | /tmp
            unix_socket_mode            | 0777
            unix_socket_group           |
            user                        |
            auth_type                   | md5
            auth_file                   |
            auth_hba_file               |
            auth_user                   |
            auth_query                  | SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin
            pool_mode                   | session
            max_client_conn             | 100
            default_pool_size           | 20
            min_pool_size               | 0
            reserve_pool_size           | 0
            reserve_pool_timeout        | 5
            max_db_connections          | 0
            max_db_client_connections   | 0
            max_user_connections        | 0
            max_user_client_connections | 0
            server_round_robin          | 0
            track_extra_parameters      | IntervalStyle
            ignore_startup_parameters   |
            peer_id                     | 0
            disable_pqexec              | 0
            application_name_add_host   | 0
            job_name                    | pgbouncer
            service_name                | pgbouncer
            stats_period                | 60
            max_prepared_statements     | 200
            scram_iterations            | 4096
            syslog                      | 0
            syslog_ident                | pgbouncer
            syslog_facility             | daemon
            log_connections             | 1
            log_disconnections          | 1
            log_pooler_errors           | 1
            log_stats                   | 1
            verbose                     | 0
            admin_users                 |
            stats_users                 |
            server_reset_query          | DISCARD ALL
            server_reset_query_always   | 0
            server_check_delay          | 30
            server_check_query          | <empty>
            server_fast_close           | 0
            server_lifetime             | 3600
            server_idle_timeout         | 600
            server_connect_timeout      | 15
            server_login_retry          | 15
            client_login_timeout        | 60
            autodb_idle_timeout         | 3600
            dns_max_ttl                 | 15
            dns_nxdomain_ttl            | 15
            dns_zone_check_period       | 0
            resolv_conf                 |
            query_wait_notify           | 5
            client_tls_sslmode          | disable
            client_tls_protocols        | secure
            client_tls_ciphers          | default
            client_tls_ecdhcurve        | auto
            client_tls_dheparams        | auto
            server_tls_sslmode          | prefer
            server_tls_protocols        | secure
            server_tls_ciphers          | default
            query_timeout               | 0
            query_wait_timeout          | 120
            cancel_wait_timeout         | 10
            client_idle_timeout         | 0
            idle_transaction_timeout    | 0
            transaction_timeout         | 0
            suspend_timeout             | 10
            pkt_buf                     | 4096
            max_packet_size             | 2147483647
            listen_backlog              | 128
            sbuf_loopcnt                | 5
            so_reuseport                | 0
            tcp_defer_accept            | 1
            tcp_socket_buffer           | 0
            tcp_keepalive               | 1
            tcp_keepcnt                 | 0
            tcp_keepidle                | 0
            tcp_keepintvl               | 0
            tcp_user_timeout            | 0
            logfile                     |
            pidfile                     |
            conffile                    |
            """)
    void defaultsArePgBouncer125s(String key, String expected) {
        // an empty CSV cell arrives as null: PgBouncer's "not set", which reads as ""
        assertThat(defaults.getString(key)).isEqualTo(expected == null ? "" : expected);
        assertThat(defaults.isSet(key)).isFalse();
    }

    @Test
    void parsedValuesAreRememberedPerSettingsAndAChangeMakesNewOnes() throws ConfigException {
        Settings s = Settings.defaults().with("query_timeout", "2.5", "SET").with("max_client_conn", "7", "SET");
        for (int i = 0; i < 3; i++) { // the first read parses, the others use what it remembered
            assertThat(s.getDuration("query_timeout")).isEqualTo(Duration.ofMillis(2500));
            assertThat(s.getInt("max_client_conn")).isEqualTo(7);
            assertThat(s.getBool("tcp_keepalive")).isTrue();
            assertThat(s.getList("track_extra_parameters")).containsExactly("IntervalStyle");
        }
        Settings changed = s.with("query_timeout", "0", "SET").with("max_client_conn", "9", "SET")
                .with("tcp_keepalive", "0", "SET").with("track_extra_parameters", "a, b", "SET");
        assertThat(changed.getDuration("query_timeout")).isEqualTo(Duration.ZERO);
        assertThat(changed.getInt("max_client_conn")).isEqualTo(9);
        assertThat(changed.getBool("tcp_keepalive")).isFalse();
        assertThat(changed.getList("track_extra_parameters")).containsExactly("a", "b");
        assertThat(s.getInt("max_client_conn")).as("the old settings keep their value").isEqualTo(7);
        // a remembered value does not let a getter of another type through
        assertThatIllegalArgumentException().isThrownBy(() -> s.getDuration("max_client_conn"));
        assertThatIllegalArgumentException().isThrownBy(() -> s.getLong("query_timeout"));
    }

    @Test
    void typedDefaults() {
        assertThat(defaults.getInt("listen_port")).isEqualTo(6432);
        assertThat(defaults.getInt("max_client_conn")).isEqualTo(100);
        assertThat(defaults.getInt("default_pool_size")).isEqualTo(20);
        assertThat(defaults.getInt("pkt_buf")).isEqualTo(4096);
        assertThat(defaults.getInt("listen_backlog")).isEqualTo(128);
        assertThat(defaults.getInt("sbuf_loopcnt")).isEqualTo(5);
        assertThat(defaults.getLong("max_packet_size")).isEqualTo(2147483647L);
        assertThat(defaults.getInt("max_prepared_statements")).isEqualTo(200);
        assertThat(defaults.getInt("unix_socket_mode")).isEqualTo(0777);
        assertThat(defaults.getBool("tcp_keepalive")).isTrue();
        assertThat(defaults.getBool("log_stats")).isTrue();
        assertThat(defaults.getBool("so_reuseport")).isFalse();
        assertThat(defaults.getBool("server_reset_query_always")).isFalse();
        assertThat(defaults.getDuration("reserve_pool_timeout")).isEqualTo(Duration.ofSeconds(5));
        assertThat(defaults.getDuration("server_check_delay")).isEqualTo(Duration.ofSeconds(30));
        assertThat(defaults.getDuration("server_lifetime")).isEqualTo(Duration.ofHours(1));
        assertThat(defaults.getDuration("server_idle_timeout")).isEqualTo(Duration.ofMinutes(10));
        assertThat(defaults.getDuration("server_connect_timeout")).isEqualTo(Duration.ofSeconds(15));
        assertThat(defaults.getDuration("server_login_retry")).isEqualTo(Duration.ofSeconds(15));
        assertThat(defaults.getDuration("query_wait_timeout")).isEqualTo(Duration.ofMinutes(2));
        assertThat(defaults.getDuration("client_login_timeout")).isEqualTo(Duration.ofMinutes(1));
        assertThat(defaults.getDuration("autodb_idle_timeout")).isEqualTo(Duration.ofHours(1));
        assertThat(defaults.getDuration("dns_max_ttl")).isEqualTo(Duration.ofSeconds(15));
        assertThat(defaults.getDuration("dns_nxdomain_ttl")).isEqualTo(Duration.ofSeconds(15));
        assertThat(defaults.getDuration("query_timeout")).isEqualTo(Duration.ZERO);
        assertThat(defaults.getDuration("client_idle_timeout")).isSameAs(Duration.ZERO);
        assertThat(defaults.authType()).isEqualTo(AuthType.MD5);
        assertThat(defaults.poolMode()).isEqualTo(PoolMode.SESSION);
        assertThat(defaults.getList("track_extra_parameters")).containsExactly("IntervalStyle");
        assertThat(defaults.getList("listen_addr")).isEmpty();
        assertThat(defaults.getList("admin_users")).isEmpty();
    }

    @Test
    void valuesAreKeptAsWrittenAndInterpretedOnAccess() throws ConfigException {
        Settings s = settings("unix_socket_mode = 0660", "max_client_conn = 0x10", "default_pool_size = 010",
                "pool_mode = Transaction", "reserve_pool_timeout = 2.5");
        assertThat(s.getString("unix_socket_mode")).isEqualTo("0660");
        assertThat(s.getInt("unix_socket_mode")).isEqualTo(0660);
        assertThat(s.getInt("max_client_conn")).isEqualTo(16);
        // strtol base 0: a leading 0 means octal, in every integer setting (as in PgBouncer)
        assertThat(s.getInt("default_pool_size")).isEqualTo(8);
        assertThat(s.getString("pool_mode")).isEqualTo("Transaction");
        assertThat(s.poolMode()).isEqualTo(PoolMode.TRANSACTION);
        assertThat(s.getDuration("reserve_pool_timeout")).isEqualTo(Duration.ofMillis(2500));
    }

    @ParameterizedTest
    @CsvSource({"1.5,1500000", "0,0", "0.000001,1", "0.0000019,1", "1e2,100000000", ".5,500000", "+3,3000000",
            "600.,600000000"})
    void timesAreSecondsWithFractionsTruncatedToMicroseconds(String value, long micros) throws ConfigException {
        assertThat(settings("server_idle_timeout = " + value).getDuration("server_idle_timeout"))
                .isEqualTo(Duration.of(micros, ChronoUnit.MICROS));
    }

    @ParameterizedTest
    @CsvSource({"0,false", "1,true", "2,true", "-1,true", "0x0,false"})
    void switchesAreIntegers(String value, boolean expected) throws ConfigException {
        assertThat(settings("log_connections = " + value).getBool("log_connections")).isEqualTo(expected);
    }

    @Test
    void listsSplitAtCommasAndWhitespace() throws ConfigException {
        assertThat(settings("listen_addr = *").getList("listen_addr")).containsExactly("*");
        assertThat(settings("listen_addr = 127.0.0.1, ::1").getList("listen_addr")).containsExactly("127.0.0.1", "::1");
        assertThat(settings("admin_users = ,alice,, bob  carol ,").getList("admin_users"))
                .containsExactly("alice", "bob", "carol");
        assertThat(settings("ignore_startup_parameters = extra_float_digits,options")
                .getList("ignore_startup_parameters")).containsExactly("extra_float_digits", "options");
        assertThat(settings("track_extra_parameters =").getList("track_extra_parameters")).isEmpty();
    }

    @Test
    void uintHoldsValuesBeyondInt() throws ConfigException {
        Settings s = settings("max_packet_size = 4294967295");
        assertThat(s.getLong("max_packet_size")).isEqualTo(4294967295L);
        assertThatIllegalArgumentException().isThrownBy(() -> s.getInt("max_packet_size"));
    }

    @Test
    void unknownKeysAreRejectedByEveryGetter() {
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getString("no_such_key"))
                .withMessageContaining("no_such_key");
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getInt("no_such_key"));
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getLong("no_such_key"));
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getBool("no_such_key"));
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getDuration("no_such_key"));
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getList("no_such_key"));
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.isSet("no_such_key"));
        // keys are case-sensitive, as in PgBouncer
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getString("Listen_Port"));
    }

    @Test
    void gettersRefuseKeysOfOtherTypes() {
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getInt("logfile"));
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getInt("server_lifetime"));
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getDuration("listen_port"));
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getBool("listen_port"));
        assertThatIllegalArgumentException().isThrownBy(() -> defaults.getList("listen_port"));
    }

    @Test
    void isSetTellsExplicitKeys() throws ConfigException {
        Settings s = settings("listen_port = 6432", "logfile =");
        assertThat(s.isSet("listen_port")).isTrue();
        assertThat(s.isSet("logfile")).isTrue();
        assertThat(s.getString("logfile")).isEmpty();
        assertThat(s.isSet("pidfile")).isFalse();
    }

    @Test
    void serviceNameIsAnAliasOfJobName() throws ConfigException {
        Settings s = settings("service_name = svc");
        assertThat(s.getString("job_name")).isEqualTo("svc");
        assertThat(s.isSet("job_name")).isTrue();
        Settings later = settings("service_name = svc", "job_name = job");
        assertThat(later.getString("service_name")).isEqualTo("job");
        assertThat(later.getString("job_name")).isEqualTo("job");
        Settings other = settings("job_name = job", "service_name = svc");
        assertThat(other.getString("job_name")).isEqualTo("svc");
    }

    @Test
    void effectiveListsEveryKeySortedWithItsValue() throws ConfigException {
        Map<String, String> effective = settings("max_client_conn = 500").effective();
        assertThat(effective.keySet()).containsExactlyInAnyOrderElementsOf(SettingDefs.all().keySet());
        assertThat(new ArrayList<>(effective.keySet())).isSorted();
        assertThat(effective).containsEntry("max_client_conn", "500").containsEntry("listen_port", "6432")
                .containsEntry("conffile", TestConfigs.FILE_NAME);
        assertThatThrownBy(() -> effective.put("x", "y")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void defaultsHaveNoConffileButLoadedConfigsNameTheirFile() throws ConfigException {
        assertThat(defaults.getString("conffile")).isEmpty();
        assertThat(settings().getString("conffile")).isEqualTo(TestConfigs.FILE_NAME);
        assertThat(settings("conffile = /etc/other.ini").getString("conffile")).isEqualTo("/etc/other.ini");
    }
}

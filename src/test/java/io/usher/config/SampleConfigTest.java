package io.usher.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whole configurations written for PgBouncer 1.25 and 1.18 load, with PgBouncer's meaning. */
class SampleConfigTest {
    /** ";key = ..." lines: a commented-out setting (";;" comments and ";%include" stay comments). */
    private static final Pattern COMMENTED_SETTING = Pattern.compile("(?m)^;(?=[A-Za-z0-9_*'])");

    @TempDir
    Path dir;
    private Path userlist;

    @BeforeEach
    void writeUserlist() throws Exception {
        userlist = Files.writeString(dir.resolve("userlist.txt"), "\"someuser\" \"md5abc\"\n");
    }

    /** The samples name /etc/pgbouncer/userlist.txt, which a test machine does not have. */
    private String withTestUserlist(String text) {
        return text.replace("auth_file = /etc/pgbouncer/userlist.txt", "auth_file = " + userlist);
    }

    private UsherConfig load(String text, String name) throws Exception {
        Path file = Files.writeString(dir.resolve(name), withTestUserlist(text));
        return UsherConfig.load(file);
    }

    @Test
    void thePgBouncer125SampleLoadsAsShipped() throws Exception {
        UsherConfig config = load(TestConfigs.resource("pgbouncer-1.25-sample.ini"), "pgbouncer.ini");
        Settings s = config.settings();
        assertThat(s.getString("logfile")).isEqualTo("/var/log/pgbouncer/pgbouncer.log");
        assertThat(s.getString("pidfile")).isEqualTo("/var/run/pgbouncer/pgbouncer.pid");
        assertThat(s.getList("listen_addr")).containsExactly("localhost");
        assertThat(s.getInt("listen_port")).isEqualTo(6432);
        assertThat(s.authType()).isEqualTo(AuthType.MD5);
        assertThat(s.getString("unix_socket_dir")).isEqualTo("/tmp");
        assertThat(config.databases()).isEmpty();
        assertThat(config.users()).isEmpty();
        assertThat(config.peers()).isEmpty();
        assertThat(config.userList().secret("someuser")).contains("md5abc");
        assertThat(config.notImplementedKeys()).isEmpty();
    }

    @Test
    void thePgBouncer125SampleLoadsWithEverySettingUncommented() throws Exception {
        String text = COMMENTED_SETTING.matcher(TestConfigs.resource("pgbouncer-1.25-sample.ini")).replaceAll("");
        UsherConfig config = load(text, "pgbouncer.ini");
        Settings s = config.settings();

        // the sample mentions every key of PgBouncer's, so every such key is now set
        List<String> unset = new ArrayList<>();
        for (String key : SettingDefs.all().keySet()) {
            if (!s.isSet(key) && !SettingDefs.usherOwnKeys().contains(key)) {
                unset.add(key);
            }
        }
        assertThat(unset).isEmpty();

        assertThat(s.getInt("unix_socket_mode")).isEqualTo(0777);
        assertThat(s.getString("server_check_query")).isEqualTo("<empty>");
        assertThat(s.getString("auth_ldap_options")).isEqualTo("ldapurl=\"ldap://127.0.0.1:12345/dc=example,dc=net?uid?sub\"");
        assertThat(s.getList("admin_users")).containsExactly("user2", "someadmin", "otheradmin");
        assertThat(config.databases().keySet())
                .containsExactly("foodb", "bardb", "forcedb", "nondefaultdb", "authdb", "multihost", "*");
        assertThat(config.databases().get("forcedb").connectQuery()).isEqualTo("SELECT 1");
        assertThat(config.databases().get("multihost").hosts()).containsExactly("db1", "db2", "db3");
        assertThat(config.users().keySet()).containsExactly("user1", "user2");
        assertThat(config.peers().keySet()).containsExactly(1, 2);
        assertThat(config.notImplementedKeys()).contains("sbuf_loopcnt")
                .doesNotContain("peer_id", "syslog", "listen_port", "auth_file", "pool_mode", "query_timeout", "client_tls_sslmode");
    }

    @Test
    void everyKeySetToAValidValueLoads() throws Exception {
        Map<String, String> values = new java.util.LinkedHashMap<>();
        StringBuilder text = new StringBuilder("[pgbouncer]\n");
        for (SettingDef def : SettingDefs.all().values()) {
            String value = sampleValue(def);
            values.put(def.name(), value);
            text.append(def.name()).append(" = ").append(value).append('\n');
        }
        UsherConfig config = load(text.toString(), "every-key.ini");
        Settings s = config.settings();

        for (SettingDef def : SettingDefs.all().values()) {
            String key = def.name();
            assertThat(s.isSet(key)).as(key).isTrue();
            // job_name and service_name are one setting; service_name comes later in the file
            String expected = key.equals("job_name") ? values.get("service_name") : values.get(key);
            assertThat(s.getString(key)).as(key).isEqualTo(expected);
            switch (def.type()) {
                case INT, UINT -> assertThat(s.getLong(key)).as(key).isNotNull();
                case BOOL -> assertThat(s.getBool(key)).as(key).isEqualTo(!def.defaultValue().equals("1"));
                case TIME -> assertThat(s.getDuration(key)).as(key).isEqualTo(Duration.ofMillis(1500));
                case ENUM -> assertThat(SettingDefs.enumValues(key)).as(key).contains(s.getString(key));
                case STRING, LIST -> assertThat(s.getList(key)).as(key).isNotEmpty();
            }
        }
        assertThat(s.authType()).isEqualTo(AuthType.CERT);
        assertThat(s.poolMode()).isEqualTo(PoolMode.TRANSACTION);
        assertThat(config.userList().size()).isEqualTo(1);

        List<String> expectedNotImplemented = SettingDefs.all().values().stream()
                .filter(d -> !d.implemented()).map(SettingDef::name).toList();
        assertThat(config.notImplementedKeys()).containsExactlyElementsOf(expectedNotImplemented);
    }

    /** A valid value other than the default, of the key's type. */
    private String sampleValue(SettingDef def) {
        return switch (def.type()) {
            case INT -> def.name().equals("unix_socket_mode") ? "0600" : "7";
            case UINT -> "4294967295";
            case BOOL -> def.defaultValue().equals("1") ? "0" : "1";
            case TIME -> "1.5";
            case ENUM -> SettingDefs.enumValues(def.name()).stream()
                    .filter(v -> !v.equalsIgnoreCase(def.defaultValue())).findFirst().orElseThrow();
            case STRING, LIST -> def.name().equals("auth_file") ? userlist.toString() : "value-of-" + def.name();
        };
    }

    @Test
    void thePgBouncer118SampleLoads() throws Exception {
        UsherConfig config = load(TestConfigs.resource("pgbouncer-1.18-debian.ini"), "pgbouncer.ini");
        Settings s = config.settings();
        assertThat(s.getString("logfile")).isEqualTo("/var/log/postgresql/pgbouncer.log");
        assertThat(s.getString("pidfile")).isEqualTo("/var/run/postgresql/pgbouncer.pid");
        assertThat(s.getList("listen_addr")).containsExactly("localhost");
        assertThat(s.getString("unix_socket_dir")).isEqualTo("/var/run/postgresql");
        assertThat(s.authType()).isEqualTo(AuthType.MD5);
        assertThat(config.databases()).isEmpty();
        assertThat(config.userList().size()).isEqualTo(1);
    }

    @Test
    void aPgBouncer118StyleConfigLoadsWithItsMeaning() throws Exception {
        // This file was checked to load in PgBouncer 1.18.0.
        UsherConfig config = load(TestConfigs.resource("pgbouncer-1.18-style.ini"), "pgbouncer.ini");
        Settings s = config.settings();
        assertThat(s.getList("listen_addr")).containsExactly("127.0.0.1", "::1");
        assertThat(s.authType()).isEqualTo(AuthType.SCRAM_SHA_256);
        assertThat(s.poolMode()).isEqualTo(PoolMode.TRANSACTION);
        assertThat(s.getString("server_check_query")).isEqualTo("select 1");
        assertThat(s.getString("client_tls_ciphers")).isEqualTo("fast");
        assertThat(s.getDuration("reserve_pool_timeout")).isEqualTo(Duration.ofMillis(3500));
        assertThat(s.getBool("tcp_defer_accept")).isTrue();
        assertThat(s.getInt("tcp_defer_accept")).isEqualTo(45);
        assertThat(s.getString("resolv_conf")).isEmpty();
        assertThat(s.getList("ignore_startup_parameters")).containsExactly("extra_float_digits", "options");

        DatabaseConfig app = config.databases().get("app");
        assertThat(app.reservePoolSize()).isEqualTo(3);
        assertThat(app.port()).isEqualTo(5433);
        assertThat(app.dbname()).isEqualTo("appdb");
        DatabaseConfig reports = config.databases().get("reports");
        assertThat(reports.hosts()).containsExactly("10.0.0.5", "10.0.0.6");
        assertThat(reports.password()).isEqualTo("s3cret pass");
        assertThat(reports.connectQuery()).isEqualTo("SET search_path TO 'reports'");
        assertThat(reports.poolMode()).isEqualTo(PoolMode.STATEMENT);
        assertThat(config.databases().get("local").hosts()).containsExactly("/var/run/postgresql");
        assertThat(config.database("unlisted").orElseThrow().hosts()).containsExactly("fallback.example.com");
        assertThat(config.users().get("batch").maxUserConnections()).isEqualTo(10);

        assertThat(config.notImplementedKeys())
                .contains("server_round_robin", "tcp_defer_accept")
                .doesNotContain("listen_addr", "pool_mode", "server_check_query", "auth_hba_file", "auth_user",
                        "auth_query");
    }
}

package io.usher.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import io.usher.auth.Md5Password;
import io.usher.auth.StoredSecret;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Configuration from environment variables: USHER_ settings, the edoburu image's names, DATABASE_URL, layering. */
class EnvConfigTest {
    @TempDir
    Path dir;

    private static Map<String, String> env(String... pairs) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put(pairs[i], pairs[i + 1]);
        }
        return m;
    }

    private static UsherConfig fromEnv(String... pairs) throws ConfigException {
        return UsherConfig.fromEnvironment(EnvConfig.from(env(pairs), null));
    }

    private static ConfigException envError(Map<String, String> env) {
        return assertThatExceptionOfType(ConfigException.class)
                .isThrownBy(() -> UsherConfig.fromEnvironment(EnvConfig.from(env, null))).actual();
    }

    // ---- DATABASE_URL ----

    @Test
    void databaseUrlMakesTheDatabaseEntryAndAHashedUser() throws Exception {
        UsherConfig c = fromEnv("DATABASE_URL", "postgres://app:s3cret@db.example.com:6543/appdb");
        DatabaseConfig db = c.databases().get("appdb");
        assertThat(db.hosts()).containsExactly("db.example.com");
        assertThat(db.port()).isEqualTo(6543);
        assertThat(db.dbname()).isEqualTo("appdb");
        assertThat(db.user()).as("no forced user: servers log in as the client, as in the image").isNull();
        assertThat(db.password()).isNull();
        assertThat(c.databaseOrigin("appdb")).isEqualTo("env DATABASE_URL");
        // auth_type md5 (the image's default): an md5 hash, as the image writes it
        assertThat(c.userList().secret("app")).contains(Md5Password.encrypt("app", "s3cret"));
        assertThat(c.userList().origin("app")).contains("env DATABASE_URL");
        assertThat(c.serverPassword("app")).contains("s3cret");
        assertThat(c.userList().toString()).doesNotContain("s3cret");
    }

    @Test
    void scramAuthStoresAVerifierNotThePassword() throws Exception {
        UsherConfig c = fromEnv("DATABASE_URL", "postgresql://app:s3cret@db/appdb", "AUTH_TYPE", "scram-sha-256");
        String secret = c.userList().secret("app").orElseThrow();
        assertThat(StoredSecret.parse(secret)).isInstanceOf(StoredSecret.Scram.class);
        assertThat(secret).doesNotContain("s3cret");
        // stable across a reload, so pools keep their credentials
        assertThat(c.reload().userList().secret("app")).contains(secret);
    }

    @Test
    void urlPartsArePercentDecodedAndParametersMapped() throws Exception {
        UsherConfig c = fromEnv("DATABASE_URL",
                "postgres://us%40er:p%40ss%3Aw%2Fd@[::1]:5433/my%20db?sslmode=require&application_name=web&pgbouncer=true");
        DatabaseConfig db = c.databases().get("my db");
        assertThat(db.hosts()).containsExactly("::1");
        assertThat(db.port()).isEqualTo(5433);
        assertThat(db.applicationName()).isEqualTo("web");
        assertThat(c.serverPassword("us@er")).contains("p@ss:w/d");
        assertThat(c.settings().getString("server_tls_sslmode")).isEqualTo("require");
        assertThat(c.settings().origin("server_tls_sslmode")).isEqualTo("env DATABASE_URL (sslmode)");
        assertThat(c.env().notes()).anyMatch(n -> n.contains("pgbouncer") && n.contains("ignored"));
    }

    @Test
    void urlWithoutDatabaseServesEveryDatabaseAndDefaultsPort() throws Exception {
        UsherConfig c = fromEnv("DATABASE_URL", "postgres://app:pw@db.internal");
        assertThat(c.databases()).containsOnlyKeys("*");
        assertThat(c.databases().get("*").port()).isEqualTo(5432);
        assertThat(c.database("anything")).get().extracting(DatabaseConfig::dbname).isEqualTo("anything");
    }

    @Test
    void hostListsShareOnePort() throws Exception {
        UsherConfig c = fromEnv("DATABASE_URL", "postgres://app:pw@a:5433,b:5433/db");
        assertThat(c.databases().get("db").hosts()).containsExactly("a", "b");
        ConfigException e = envError(env("DATABASE_URL", "postgres://app:pw@a:5433,b:5434/db"));
        assertThat(e.getMessage()).startsWith("env DATABASE_URL: ").contains("different ports");
    }

    @Test
    void badUrlsNameTheVariableButNeverThePassword() {
        ConfigException e = envError(env("DATABASE_URL", "mysql://app:topsecret@db/x"));
        assertThat(e.getMessage()).contains("env DATABASE_URL").contains("postgres://").doesNotContain("topsecret");
        e = envError(env("DATABASE_URL", "postgres://app:topsecret@db:99999/x"));
        assertThat(e.getMessage()).contains("invalid port").doesNotContain("topsecret");
    }

    @Test
    void databaseUrlsListsSeveral() throws Exception {
        UsherConfig c = fromEnv("DATABASE_URLS", "postgres://a:pa@h1:5432/base,postgres://b:pb@h2/free");
        assertThat(c.databases()).containsOnlyKeys("base", "free");
        // no carry-over of the port from one URL to the next (the image has that bug)
        assertThat(c.databases().get("free").port()).isEqualTo(5432);
        assertThat(c.userList().entries()).containsOnlyKeys("a", "b");
    }

    // ---- the edoburu image's variables ----

    @Test
    void dbVariablesAsTheImageReadsThem() throws Exception {
        UsherConfig c = fromEnv("DB_HOST", "postgres", "DB_USER", "app", "DB_PASSWORD", "pw", "DB_NAME", "shop",
                "POOL_MODE", "transaction", "MAX_CLIENT_CONN", "10000", "DEFAULT_POOL_SIZE", "100",
                "MIN_POOL_SIZE", "10", "RESERVE_POOL_SIZE", "10", "RESERVE_POOL_TIMEOUT", "5",
                "MAX_DB_CONNECTIONS", "100", "MAX_USER_CONNECTIONS", "10000", "POOL_SIZE", "30",
                "CLIENT_ENCODING", "UTF8");
        Settings s = c.settings();
        assertThat(s.poolMode()).isEqualTo(PoolMode.TRANSACTION);
        assertThat(s.getInt("max_client_conn")).isEqualTo(10000);
        assertThat(s.getInt("default_pool_size")).isEqualTo(100);
        assertThat(s.getInt("max_db_connections")).isEqualTo(100);
        assertThat(s.origin("pool_mode")).isEqualTo("env POOL_MODE");
        DatabaseConfig db = c.databases().get("shop");
        assertThat(db.hosts()).containsExactly("postgres");
        assertThat(db.port()).isEqualTo(5432);
        assertThat(db.poolSize()).isEqualTo(30);
        assertThat(db.clientEncoding()).isEqualTo("UTF8");
        assertThat(c.userList().secret("app")).isPresent();
        assertThat(c.databaseOrigin("shop")).isEqualTo("env DB_HOST");
    }

    @Test
    void withoutAFileTheImageDefaultsApply() throws Exception {
        Settings s = fromEnv("DB_HOST", "db").settings();
        assertThat(s.getString("listen_addr")).isEqualTo("0.0.0.0");
        assertThat(s.getInt("listen_port")).isEqualTo(5432);
        assertThat(s.getString("unix_socket_dir")).isEmpty();
        assertThat(s.getString("ignore_startup_parameters")).isEqualTo("extra_float_digits");
        assertThat(s.getString("admin_users")).isEqualTo("postgres");
        assertThat(s.origin("listen_port")).isEqualTo(EnvConfig.FILELESS_DEFAULT_ORIGIN);
        assertThat(s.origin("pool_mode")).isEqualTo("default");
    }

    @Test
    void adminAndStatsUsersWithPasswords() throws Exception {
        UsherConfig c = fromEnv("DB_HOST", "db", "ADMIN_USERS", "boss,ops", "ADMIN_PASSWORDS", "b1,o2",
                "STATS_USERS", "stats", "STATS_PASSWORDS", "s3");
        assertThat(c.userList().entries()).containsOnlyKeys("boss", "ops", "stats");
        assertThat(c.settings().getList("admin_users")).containsExactly("boss", "ops");
        assertThat(c.settings().getList("stats_users")).containsExactly("stats");
        ConfigException e = envError(env("DB_HOST", "db", "ADMIN_USERS", "a,b", "ADMIN_PASSWORDS", "x"));
        assertThat(e.getMessage()).contains("ADMIN_PASSWORDS");
    }

    @Test
    void badImageVariableNamesTheVariable() {
        ConfigException e = envError(env("DB_HOST", "db", "POOL_MODE", "sometimes"));
        assertThat(e.getMessage()).startsWith("env POOL_MODE: invalid value \"sometimes\" for parameter pool_mode");
    }

    @Test
    void noDatabaseInTheEnvironmentIsAnError() {
        ConfigException e = envError(env("POOL_MODE", "transaction"));
        assertThat(e.getMessage()).contains("DATABASE_URL").contains("DB_HOST");
    }

    // ---- USHER_ variables ----

    @Test
    void usherVariablesSetAnySettingAndWinOverImageVariables() throws Exception {
        UsherConfig c = fromEnv("DB_HOST", "db", "POOL_MODE", "session", "USHER_POOL_MODE", "transaction",
                "USHER_LISTEN_PORT", "6432", "USHER_SERVER_RESET_QUERY", "DISCARD ALL", "USHER_SERVICE_NAME", "svc");
        assertThat(c.settings().poolMode()).isEqualTo(PoolMode.TRANSACTION);
        assertThat(c.settings().origin("pool_mode")).isEqualTo("env USHER_POOL_MODE");
        assertThat(c.settings().getInt("listen_port")).isEqualTo(6432);
        assertThat(c.settings().getString("job_name")).isEqualTo("svc");
    }

    @Test
    void everySettingHasAVariable() throws Exception {
        for (String key : SettingDefs.all().keySet()) {
            String value = SettingDefs.all().get(key).defaultValue();
            if (value.isEmpty() && SettingDefs.all().get(key).type() != SettingType.STRING
                    && SettingDefs.all().get(key).type() != SettingType.LIST) {
                continue;
            }
            UsherConfig c = fromEnv("DB_HOST", "db", "USHER_" + key.toUpperCase(), value);
            assertThat(c.settings().origin(key)).isEqualTo("env USHER_" + key.toUpperCase());
        }
    }

    @Test
    void unknownUsherVariableIsAnErrorNamingIt() {
        ConfigException e = envError(env("DB_HOST", "db", "USHER_POOL_MOD", "transaction"));
        assertThat(e.getMessage()).contains("USHER_POOL_MOD").contains("did you mean USHER_POOL_MODE?");
        e = envError(env("DB_HOST", "db", "USHER_pool_mode", "transaction"));
        assertThat(e.getMessage()).contains("USHER_pool_mode");
    }

    @Test
    void reservedUsherVariablesAreNotSettings() throws Exception {
        fromEnv("DB_HOST", "db", "USHER_HTTP_LISTEN", "127.0.0.1:9127", "USHER_MAX_HEAP", "256m", "USHER_JAR", "x.jar");
    }

    @Test
    void badUsherValueNamesTheVariable() {
        ConfigException e = envError(env("DB_HOST", "db", "USHER_DEFAULT_POOL_SIZE", "lots"));
        assertThat(e.getMessage()).startsWith("env USHER_DEFAULT_POOL_SIZE: invalid value \"lots\"");
    }

    // ---- a file plus variables ----

    private Path file(String text) throws IOException {
        Path f = dir.resolve("pgbouncer.ini");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void precedenceCommandLineOverUsherOverFileOverImageOverDefaults() throws Exception {
        Path ini = file(String.join("\n",
                "[databases]",
                "appdb = host=filehost dbname=appdb",
                "[pgbouncer]",
                "pool_mode = session",
                "default_pool_size = 7",
                "max_client_conn = 50",
                ""));
        EnvConfig env = EnvConfig.from(env(
                "USHER_POOL_MODE", "transaction",
                "DEFAULT_POOL_SIZE", "99",
                "MIN_POOL_SIZE", "3",
                "DATABASE_URL", "postgres://app:pw@envhost/appdb?connect_timeout=3"),
                "postgres://cli:pw@clihost/other?connect_timeout=9");
        UsherConfig c = UsherConfig.load(ini, env);
        Settings s = c.settings();
        assertThat(s.poolMode()).isEqualTo(PoolMode.TRANSACTION);            // USHER_ over the file
        assertThat(s.origin("pool_mode")).isEqualTo("env USHER_POOL_MODE");
        assertThat(s.getInt("default_pool_size")).isEqualTo(7);              // the file over the image's variable
        assertThat(s.origin("default_pool_size")).isEqualTo(ini + ":5");
        assertThat(s.getInt("min_pool_size")).isEqualTo(3);                  // the image's variable over the default
        assertThat(s.origin("min_pool_size")).isEqualTo("env MIN_POOL_SIZE");
        assertThat(s.origin("max_client_conn")).isEqualTo(ini + ":6");
        assertThat(s.getString("server_connect_timeout")).isEqualTo("9");     // the command line over all
        assertThat(s.origin("server_connect_timeout")).isEqualTo("command line --database-url (connect_timeout)");
        assertThat(s.getInt("listen_port")).as("with a file, PgBouncer's defaults").isEqualTo(6432);
        assertThat(s.origin("unix_socket_dir")).isEqualTo("default");
        // the file's entry wins; --database-url replaces DATABASE_URL and adds its database
        assertThat(c.databases().get("appdb").hosts()).containsExactly("filehost");
        assertThat(c.databases().get("other").hosts()).containsExactly("clihost");
        assertThat(c.databaseOrigin("appdb")).isEqualTo(ini + ":2");
        assertThat(c.userList().entries()).containsOnlyKeys("cli");
    }

    @Test
    void authFileEntriesWinOverGeneratedOnes() throws Exception {
        Path userlist = dir.resolve("userlist.txt");
        Files.writeString(userlist, "\"app\" \"md5" + "0".repeat(32) + "\"\n");
        Path ini = file("[pgbouncer]\nauth_file = " + userlist + "\n");
        UsherConfig c = UsherConfig.load(ini, EnvConfig.from(env(
                "DATABASE_URL", "postgres://app:pw@h/db", "ADMIN_USERS", "boss", "ADMIN_PASSWORDS", "b"), null));
        assertThat(c.userList().secret("app")).contains("md5" + "0".repeat(32));
        assertThat(c.userList().origin("app")).contains(userlist + ":1");
        assertThat(c.serverPassword("app")).as("the file's entry is the one in use").isEmpty();
        assertThat(c.userList().origin("boss")).contains("env ADMIN_PASSWORDS");
        assertThat(c.serverPassword("boss")).contains("b");
    }

    @Test
    void reloadRereadsTheFileAndKeepsTheEnvironment() throws Exception {
        Path ini = file("[pgbouncer]\ndefault_pool_size = 7\n");
        UsherConfig c = UsherConfig.load(ini, EnvConfig.from(env("USHER_POOL_MODE", "statement",
                "DATABASE_URL", "postgres://app:pw@h/db"), null));
        Files.writeString(ini, "[pgbouncer]\ndefault_pool_size = 8\n");
        UsherConfig next = c.reload();
        assertThat(next.settings().getInt("default_pool_size")).isEqualTo(8);
        assertThat(next.settings().poolMode()).isEqualTo(PoolMode.STATEMENT);
        assertThat(next.databases()).containsKey("db");
        assertThat(next.withSetting("default_pool_size", "9").settings().origin("default_pool_size")).isEqualTo("SET");
    }

    @Test
    void aFileAloneHasNoEnvironmentLayer() throws Exception {
        UsherConfig c = UsherConfig.load(file("[pgbouncer]\npool_mode = transaction\n"));
        assertThat(c.env()).isSameAs(EnvConfig.none());
        assertThat(c.settings().origin("pool_mode")).endsWith("pgbouncer.ini:2");
    }
}

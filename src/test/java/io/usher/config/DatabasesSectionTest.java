package io.usher.config;

import static io.usher.config.TestConfigs.parse;
import static io.usher.config.TestConfigs.parseError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DatabasesSectionTest {

    private static UsherConfig databases(String... lines) throws ConfigException {
        return parse(TestConfigs.main() + "[databases]\n" + String.join("\n", lines) + "\n");
    }

    private static DatabaseConfig database(String line) throws ConfigException {
        return databases(line).databases().values().iterator().next();
    }

    @Test
    void anEmptyEntryUsesTheDefaults() throws ConfigException {
        DatabaseConfig db = database("foodb =");
        assertThat(db.name()).isEqualTo("foodb");
        assertThat(db.hosts()).isEmpty();
        assertThat(db.port()).isEqualTo(5432);
        assertThat(db.dbname()).isEqualTo("foodb");
        assertThat(db.user()).isNull();
        assertThat(db.password()).isNull();
        assertThat(db.poolSize()).isNull();
        assertThat(db.poolMode()).isNull();
        assertThat(db.serverLifetime()).isNull();
        assertThat(db.loadBalanceHosts()).isNull();
        assertThat(db.targetSessionAttrs()).isNull();
        assertThat(db.raw()).isEmpty();
        assertThat(db.isFallback()).isFalse();
    }

    @Test
    void readsEveryPgBouncer125Parameter() throws ConfigException {
        DatabaseConfig db = database("app = host=db1.example.com port=5433 dbname=appdb user=svc password='p w' "
                + "auth_user=authu auth_query='SELECT u, p FROM f($1)' auth_dbname=authdb pool_size=30 "
                + "min_pool_size=2 reserve_pool_size=4 pool_mode=transaction max_db_connections=50 "
                + "max_db_client_connections=200 connect_query='SET x = 1' client_encoding=UTF8 datestyle=ISO "
                + "timezone=UTC application_name=myapp server_lifetime=900 load_balance_hosts=disable");
        assertThat(db.hosts()).containsExactly("db1.example.com");
        assertThat(db.port()).isEqualTo(5433);
        assertThat(db.dbname()).isEqualTo("appdb");
        assertThat(db.user()).isEqualTo("svc");
        assertThat(db.password()).isEqualTo("p w");
        assertThat(db.authUser()).isEqualTo("authu");
        assertThat(db.authQuery()).isEqualTo("SELECT u, p FROM f($1)");
        assertThat(db.authDbname()).isEqualTo("authdb");
        assertThat(db.poolSize()).isEqualTo(30);
        assertThat(db.minPoolSize()).isEqualTo(2);
        assertThat(db.reservePoolSize()).isEqualTo(4);
        assertThat(db.poolMode()).isEqualTo(PoolMode.TRANSACTION);
        assertThat(db.maxDbConnections()).isEqualTo(50);
        assertThat(db.maxDbClientConnections()).isEqualTo(200);
        assertThat(db.connectQuery()).isEqualTo("SET x = 1");
        assertThat(db.clientEncoding()).isEqualTo("UTF8");
        assertThat(db.datestyle()).isEqualTo("ISO");
        assertThat(db.timezone()).isEqualTo("UTC");
        assertThat(db.applicationName()).isEqualTo("myapp");
        assertThat(db.serverLifetime()).isEqualTo(Duration.ofMinutes(15));
        assertThat(db.loadBalanceHosts()).isEqualTo("disable");
        assertThat(db.raw()).hasSize(21).containsEntry("password", "p w").containsEntry("pool_size", "30");
    }

    @Test
    void hostIsACommaListAndMayBeAUnixSocketDirectory() throws ConfigException {
        assertThat(database("a = host=h1,h2,,h3").hosts()).containsExactly("h1", "h2", "h3");
        assertThat(database("a = host=' h1, h2 '").hosts()).containsExactly("h1", "h2");
        assertThat(database("a = host=/var/run/postgresql").hosts()).containsExactly("/var/run/postgresql");
        assertThat(database("a = host=2001:db8::1").hosts()).containsExactly("2001:db8::1");
    }

    @Test
    void reservePoolIsTheOldNameOfReservePoolSize() throws ConfigException {
        assertThat(database("a = reserve_pool=7").reservePoolSize()).isEqualTo(7);
        assertThat(database("a = reserve_pool=7 reserve_pool_size=8").reservePoolSize()).isEqualTo(8);
    }

    @Test
    void enumValuesAreCaseInsensitive() throws ConfigException {
        DatabaseConfig db = database("a = pool_mode=Statement load_balance_hosts=Round-Robin");
        assertThat(db.poolMode()).isEqualTo(PoolMode.STATEMENT);
        assertThat(db.loadBalanceHosts()).isEqualTo("round-robin");
    }

    @Test
    void serverLifetimeCountsWholeSecondsLikePgBouncersAtoi() throws ConfigException {
        assertThat(database("a = server_lifetime=1.9").serverLifetime()).isEqualTo(Duration.ofSeconds(1));
        assertThat(database("a = server_lifetime=0").serverLifetime()).isEqualTo(Duration.ZERO);
    }

    @Test
    void namesAreCaseSensitiveAndOnlyLowercasePgbouncerIsReserved() throws ConfigException {
        UsherConfig c = databases("App = host=a", "app = host=b", "PgBouncer = host=c");
        assertThat(c.databases().keySet()).containsExactly("App", "app", "PgBouncer");
        assertThat(c.databases().get("App").hosts()).containsExactly("a");
    }

    @Test
    void aRepeatedNameKeepsItsPlaceAndTakesTheLaterDefinition() throws ConfigException {
        UsherConfig c = databases("a = host=first", "b =", "a = host=second");
        assertThat(c.databases().keySet()).containsExactly("a", "b");
        assertThat(c.databases().get("a").hosts()).containsExactly("second");
    }

    @ParameterizedTest
    @ValueSource(strings = {"port=abc", "port=0", "port=70000", "port=-1", "port=5432x"})
    void badPortsAreErrors(String pair) {
        ConfigException e = parseError(TestConfigs.main() + "[databases]\n\ndb = " + pair + "\n");
        assertThat(e.line()).isEqualTo(4);
        assertThat(e.detail()).startsWith("invalid port: ");
    }

    @ParameterizedTest
    @ValueSource(strings = {"pool_size=abc", "min_pool_size=1.5", "max_db_connections=", "reserve_pool=x",
            "max_db_client_connections=99999999999"})
    void nonNumericCountsAreErrors(String pair) {
        ConfigException e = parseError(TestConfigs.main() + "[databases]\ndb = " + pair + "\n");
        assertThat(e.line()).isEqualTo(3);
        assertThat(e.detail()).matches("(invalid \\w+: .* \\(expected an integer\\)|syntax error in connection string: .*)");
    }

    @Test
    void badLoadBalanceHostsAndServerLifetimeAreErrors() {
        assertThat(parseError(TestConfigs.main() + "[databases]\ndb = load_balance_hosts=random\n").detail())
                .isEqualTo("invalid load_balance_hosts: random");
        assertThat(parseError(TestConfigs.main() + "[databases]\ndb = server_lifetime=10s\n").detail())
                .isEqualTo("invalid server_lifetime: 10s (expected a number of seconds)");
    }

    @Test
    void rawIsUnmodifiable() throws ConfigException {
        DatabaseConfig db = database("a = host=h");
        assertThat(db.raw()).containsExactly(entry("host", "h"));
        assertThatThrownBy(() -> db.raw().put("x", "y")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> db.hosts().add("x")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void theFallbackEntryHasNoDbname() throws ConfigException {
        DatabaseConfig star = database("* = host=fallback port=6000");
        assertThat(star.isFallback()).isTrue();
        assertThat(star.dbname()).isNull();
        assertThat(star.hosts()).containsExactly("fallback");
    }

    @Test
    void databaseLookupUsesTheExactEntryFirst() throws ConfigException {
        UsherConfig c = databases("app = host=apphost dbname=real", "* = host=fallback");
        assertThat(c.database("app")).get().isSameAs(c.databases().get("app"));
        assertThat(c.database("app").get().dbname()).isEqualTo("real");
    }

    @Test
    void databaseLookupBindsTheFallbackToTheRequestedName() throws ConfigException {
        UsherConfig c = databases("app = host=apphost", "* = host=fallback port=6000 pool_size=3");
        DatabaseConfig other = c.database("other").orElseThrow();
        assertThat(other.name()).isEqualTo("other");
        assertThat(other.dbname()).isEqualTo("other");
        assertThat(other.hosts()).containsExactly("fallback");
        assertThat(other.port()).isEqualTo(6000);
        assertThat(other.poolSize()).isEqualTo(3);
        assertThat(other.isFallback()).isFalse();
        // names are case-sensitive: "APP" is not "app"
        assertThat(c.database("APP").orElseThrow().hosts()).containsExactly("fallback");
        assertThat(c.database("*")).get().isSameAs(c.databases().get("*"));
    }

    @Test
    void aFallbackThatSetsDbnameKeepsIt() throws ConfigException {
        UsherConfig c = databases("* = host=fallback dbname=shared");
        assertThat(c.database("anything").orElseThrow().dbname()).isEqualTo("shared");
    }

    @Test
    void withoutFallbackUnknownDatabasesHaveNoEntry() throws ConfigException {
        UsherConfig c = databases("app = host=apphost");
        assertThat(c.database("other")).isEmpty();
    }

    @Test
    void theAdminConsoleNeverHasAnEntry() throws ConfigException {
        assertThat(databases("* = host=fallback").database("pgbouncer")).isEmpty();
    }

    // Usher's own key, with libpq's values (any case, as libpq); anything else is an error naming them
    @Test
    void readsTargetSessionAttrs() throws ConfigException {
        assertThat(database("app = host=a,b target_session_attrs=read-write").targetSessionAttrs())
                .isEqualTo(TargetSessionAttrs.READ_WRITE);
        assertThat(database("app = host=a,b target_session_attrs=Prefer-Standby").targetSessionAttrs())
                .isEqualTo(TargetSessionAttrs.PREFER_STANDBY);
        for (TargetSessionAttrs t : TargetSessionAttrs.values()) {
            assertThat(database("app = host=a target_session_attrs=" + t.configName()).targetSessionAttrs()).isEqualTo(t);
        }
        assertThatThrownBy(() -> database("app = host=a target_session_attrs=master"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("invalid target_session_attrs: master")
                .hasMessageContaining("read-write, read-only, primary, standby, prefer-standby");
        // the key is matched case-sensitively like every other, so PgBouncer's rule for unknown keys holds
        assertThatThrownBy(() -> database("app = host=a Target_Session_Attrs=any"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("unrecognized connection parameter");
    }
}

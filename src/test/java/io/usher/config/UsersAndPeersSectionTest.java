package io.usher.config;

import static io.usher.config.TestConfigs.parse;
import static io.usher.config.TestConfigs.parseError;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class UsersAndPeersSectionTest {

    private static UsherConfig section(String name, String... lines) throws ConfigException {
        return parse(TestConfigs.main() + "[" + name + "]\n" + String.join("\n", lines) + "\n");
    }

    @Test
    void readsEveryPgBouncer125UserParameter() throws ConfigException {
        UserConfig u = section("users", "alice = pool_mode=transaction max_user_connections=10 "
                + "max_user_client_connections=20 pool_size=5 reserve_pool_size=2 query_timeout=30 "
                + "idle_transaction_timeout=60 transaction_timeout=120 client_idle_timeout=3600")
                .users().get("alice");
        assertThat(u.name()).isEqualTo("alice");
        assertThat(u.poolMode()).isEqualTo(PoolMode.TRANSACTION);
        assertThat(u.maxUserConnections()).isEqualTo(10);
        assertThat(u.maxUserClientConnections()).isEqualTo(20);
        assertThat(u.poolSize()).isEqualTo(5);
        assertThat(u.reservePoolSize()).isEqualTo(2);
        assertThat(u.queryTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(u.idleTransactionTimeout()).isEqualTo(Duration.ofMinutes(1));
        assertThat(u.transactionTimeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(u.clientIdleTimeout()).isEqualTo(Duration.ofHours(1));
        assertThat(u.raw()).containsEntry("transaction_timeout", "120").hasSize(9);
    }

    @Test
    void unsetUserParametersAreNull() throws ConfigException {
        UserConfig u = section("users", "bob = pool_mode=session").users().get("bob");
        assertThat(u.poolMode()).isEqualTo(PoolMode.SESSION);
        assertThat(u.maxUserConnections()).isNull();
        assertThat(u.poolSize()).isNull();
        assertThat(u.queryTimeout()).isNull();
        assertThat(u.transactionTimeout()).isNull();
        assertThat(u.clientIdleTimeout()).isNull();
    }

    @Test
    void userNamesAreCaseSensitiveAndKeepFileOrder() throws ConfigException {
        UsherConfig c = section("users", "Bob = pool_size=1", "bob = pool_size=2", "'jane doe' = pool_size=3");
        assertThat(c.users().keySet()).containsExactly("Bob", "bob", "jane doe");
        assertThat(c.users().get("Bob").poolSize()).isEqualTo(1);
    }

    @Test
    void badUserValuesAreErrors() {
        assertThat(parseError(TestConfigs.main() + "[users]\nu = pool_size=many\n").detail())
                .isEqualTo("invalid pool_size: many (expected an integer)");
        assertThat(parseError(TestConfigs.main() + "[users]\nu = query_timeout=-5\n").detail())
                .isEqualTo("invalid query_timeout: -5 (expected a number of seconds)");
        assertThat(parseError(TestConfigs.main() + "[users]\nu = transaction_timeout=x\n").detail())
                .isEqualTo("invalid transaction_timeout: x (expected a number of seconds)");
        assertThat(parseError(TestConfigs.main() + "[users]\nu = max_db_connections=1\n").detail())
                .isEqualTo("unrecognized user parameter: max_db_connections");
    }

    @Test
    void readsPeers() throws ConfigException {
        UsherConfig c = section("peers", "1 = host=/tmp/pgbouncer1", "2 = host=10.0.0.2 port=6433 pool_size=5");
        assertThat(c.peers().keySet()).containsExactly(1, 2);
        PeerConfig one = c.peers().get(1);
        assertThat(one.peerId()).isEqualTo(1);
        assertThat(one.hosts()).containsExactly("/tmp/pgbouncer1");
        assertThat(one.port()).isEqualTo(6432);
        assertThat(one.poolSize()).isNull();
        PeerConfig two = c.peers().get(2);
        assertThat(two.hosts()).containsExactly("10.0.0.2");
        assertThat(two.port()).isEqualTo(6433);
        assertThat(two.poolSize()).isEqualTo(5);
        assertThat(two.raw()).containsEntry("pool_size", "5");
    }

    @Test
    void peerIdsRunFrom1To65535() throws ConfigException {
        assertThat(section("peers", "65535 = host=h").peers()).containsKey(65535);
        assertThat(parseError(TestConfigs.main() + "[peers]\n0 = host=h\n").detail()).startsWith("invalid peer id \"0\"");
        assertThat(parseError(TestConfigs.main() + "[peers]\n65536 = host=h\n").detail())
                .startsWith("invalid peer id \"65536\"");
    }

    @Test
    void badPeerValuesAreErrors() {
        assertThat(parseError(TestConfigs.main() + "[peers]\n1 = host=h port=x\n").detail()).isEqualTo("invalid port: x");
        assertThat(parseError(TestConfigs.main() + "[peers]\n1 =\n").detail()).isEqualTo("host was not provided for peer 1");
    }
}

package io.usher.it;

import io.usher.pool.Pool;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static io.usher.it.ProtocolMessages.FLUSH;
import static io.usher.it.ProtocolMessages.SYNC;
import static io.usher.it.ProtocolMessages.bind;
import static io.usher.it.ProtocolMessages.cat;
import static io.usher.it.ProtocolMessages.close;
import static io.usher.it.ProtocolMessages.describe;
import static io.usher.it.ProtocolMessages.execute;
import static io.usher.it.ProtocolMessages.parse;
import static io.usher.testing.TestRoles.TRUST;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Message-exact checks of named prepared statements in transaction pooling: each script runs with two
 * clients against PostgreSQL directly and through Usher (one server shared by both, which Usher may also
 * replace mid-script), and every message the clients receive must be the same, synthesized ParseComplete
 * and CloseComplete included. With max_prepared_statements = 2 the same scripts also run through eviction.
 */
class PreparedProtocolTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    // ---- scripts ----

    /** One step: client 0 or 1 sends bytes and reads until {@code readyCount} ReadyForQuery (or {@code messages}). */
    private record Step(int client, byte[] bytes, int readyCount, int messages, boolean reconnect) {
        static Step send(int client, int readyCount, byte[]... bytes) {
            return new Step(client, cat(bytes), readyCount, 0, false);
        }

        static Step sendRead(int client, int messages, byte[]... bytes) {
            return new Step(client, cat(bytes), 0, messages, false);
        }

        /** Through Usher: the servers are replaced, so statements must be prepared again. Directly: nothing. */
        static Step reconnectServers() {
            return new Step(-1, null, 0, 0, true);
        }
    }

    private static List<Step> script(String name) {
        List<Step> s = new ArrayList<>();
        switch (name) {
            case "two clients share a name and a server" -> {
                s.add(Step.send(0, 1, parse("s1", "SELECT $1::int + 1"), SYNC));
                s.add(Step.send(0, 1, bind("", "s1", "41"), execute("", 0), SYNC));
                s.add(Step.send(1, 1, parse("s1", "SELECT 'b'::text"), SYNC));
                s.add(Step.send(1, 1, bind("", "s1"), execute("", 0), SYNC));
                s.add(Step.send(0, 1, bind("", "s1", "1"), describe('P', ""), execute("", 0), SYNC));
                s.add(Step.send(1, 1, parse("s2", "SELECT $1::int + 1"), bind("", "s2", "9"), execute("", 0), SYNC));
                s.add(Step.reconnectServers());
                s.add(Step.send(0, 1, bind("", "s1", "5"), execute("", 0), SYNC));
                s.add(Step.send(1, 1, describe('S', "s1"), describe('S', "s2"), SYNC));
                s.add(Step.send(1, 1, bind("", "s2", "6"), execute("", 0), SYNC));
            }
            case "an error in the middle of a pipeline" -> {
                s.add(Step.send(0, 1, parse("s1", "SELECT 1"), bind("", "s1"), execute("", 0),
                        parse("s2", "SELEC bad"), bind("", "s2"), execute("", 0), parse("s3", "SELECT 3"), SYNC));
                s.add(Step.send(0, 1, bind("", "s3"), execute("", 0), SYNC));
                s.add(Step.send(0, 1, bind("", "s1"), execute("", 0), SYNC));
                s.add(Step.send(0, 1, parse("s2", "SELECT 2"), bind("", "s2"), execute("", 0), SYNC));
                s.add(Step.send(1, 1, parse("s1", "SELECT 1"), bind("", "nosuch"), parse("s9", "SELECT 9"), SYNC));
                s.add(Step.send(1, 1, bind("", "s1"), execute("", 0), SYNC));
                s.add(Step.send(1, 1, bind("", "s9"), execute("", 0), SYNC));
            }
            case "close, and a close that an error skips" -> {
                s.add(Step.send(0, 1, parse("s1", "SELECT 1"), SYNC));
                s.add(Step.send(0, 1, close('S', "s1"), SYNC));
                s.add(Step.send(0, 1, bind("", "s1"), execute("", 0), SYNC));
                s.add(Step.send(0, 1, close('S', "nosuch"), SYNC));
                s.add(Step.send(0, 1, parse("s1", "SELECT 5"), SYNC));
                s.add(Step.send(0, 1, bind("", "nosuch"), close('S', "s1"), SYNC));
                s.add(Step.send(0, 1, bind("", "s1"), execute("", 0), SYNC));
                s.add(Step.send(1, 1, parse("s1", "SELECT 1"), close('S', "s1"), parse("s1", "SELECT 6"), bind("", "s1"),
                        execute("", 0), SYNC));
            }
            case "flush without sync" -> {
                s.add(Step.sendRead(0, 1, parse("s1", "SELECT 11"), FLUSH));
                s.add(Step.sendRead(0, 3, bind("", "s1"), execute("", 0), FLUSH));
                s.add(Step.send(0, 1, SYNC));
                s.add(Step.sendRead(1, 1, parse("t1", "SELECT 11"), FLUSH));
                s.add(Step.sendRead(1, 1, close('S', "t1"), FLUSH));
                s.add(Step.send(1, 1, SYNC));
            }
            case "deallocate all" -> {
                s.add(Step.send(0, 1, parse("s1", "SELECT 1"), SYNC));
                s.add(Step.send(0, 1, WireClient.query("DEALLOCATE ALL")));
                s.add(Step.send(0, 1, bind("", "s1"), execute("", 0), SYNC));
                s.add(Step.send(0, 1, parse("s1", "SELECT 7"), SYNC));
                s.add(Step.send(0, 1, parse("", "DEALLOCATE ALL"), bind("", ""), execute("", 0), parse("s9", "SELECT 9"), SYNC));
                s.add(Step.send(0, 1, bind("", "s9"), execute("", 0), SYNC));
                s.add(Step.send(0, 1, bind("", "s1"), execute("", 0), SYNC));
                s.add(Step.send(1, 1, parse("s1", "SELECT 1"), bind("", "s1"), execute("", 0), SYNC));
                s.add(Step.send(1, 1, WireClient.query("DISCARD ALL")));
                s.add(Step.send(1, 1, bind("", "s1"), execute("", 0), SYNC));
                s.add(Step.send(1, 1, parse("s1", "SELECT 1"), bind("", "s1"), execute("", 0), SYNC));
            }
            case "named portal in a transaction" -> {
                s.add(Step.send(0, 1, WireClient.query("BEGIN")));
                s.add(Step.send(0, 1, parse("g", "SELECT generate_series(1, 5)"), bind("p1", "g"), execute("p1", 2), SYNC));
                s.add(Step.send(0, 1, execute("p1", 0), SYNC));
                s.add(Step.send(0, 1, close('P', "p1"), WireClient.message('S', new byte[0])));
                s.add(Step.send(0, 1, WireClient.query("COMMIT")));
                s.add(Step.send(1, 1, parse("", "SELECT 1"), bind("", ""), describe('P', ""), execute("", 0), SYNC));
                s.add(Step.send(1, 1, parse("g", "SELECT generate_series(1, 5)"), bind("", "g"), execute("", 3), SYNC));
            }
            case "pipelines that depend on an earlier one's outcome" -> {
                // sent at once: a Parse, Bind or Close whose effect hangs on an earlier pipeline that fails
                s.add(Step.send(0, 2, parse("f1", "SELEC bad"), SYNC,
                        parse("f2", "SELEC bad"), bind("", "f2"), execute("", 0), SYNC));
                s.add(Step.send(0, 2, bind("", "nosuch"), parse("k1", "SELECT 3"), SYNC,
                        parse("k2", "SELECT 3"), bind("", "k2"), execute("", 0), SYNC));
                s.add(Step.send(0, 1, parse("s5", "SELECT 5"), SYNC));
                s.add(Step.send(0, 3, bind("", "nosuch"), parse("s6", "SELECT 5"), close('S', "s5"), SYNC,
                        bind("", "s5"), execute("", 0), SYNC, bind("", "s6"), execute("", 0), SYNC));
                s.add(Step.send(1, 2, parse("s1", "SELECT 5"), SYNC, parse("s2", "SELECT 5"), bind("", "s1"),
                        execute("", 0), bind("", "s2"), execute("", 0), SYNC));
            }
            default -> throw new IllegalArgumentException(name);
        }
        return s;
    }

    private static final String[] SCRIPTS = {"two clients share a name and a server", "an error in the middle of a pipeline",
        "close, and a close that an error skips", "flush without sync", "deallocate all", "named portal in a transaction",
        "pipelines that depend on an earlier one's outcome"};

    /** What a client received, one line per message (ParameterStatus and notices left out). */
    private static List<String> run(List<Step> steps, int port, Runnable reconnect) throws IOException {
        List<List<String>> seen = List.of(new ArrayList<>(), new ArrayList<>());
        try (WireClient a = new WireClient(port); WireClient b = new WireClient(port)) {
            a.loginTrust(TRUST, "appdb");
            b.loginTrust(TRUST, "appdb");
            WireClient[] clients = {a, b};
            for (Step step : steps) {
                if (step.reconnect()) {
                    if (reconnect != null) {
                        reconnect.run();
                    }
                    continue;
                }
                WireClient c = clients[step.client()];
                List<String> out = seen.get(step.client());
                c.send(step.bytes());
                int readies = 0;
                int messages = 0;
                while (step.messages() > 0 ? messages < step.messages() : readies < step.readyCount()) {
                    WireClient.Message m = c.read();
                    if (m.type() == 'S' || m.type() == 'N') {
                        continue;
                    }
                    messages++;
                    if (m.type() == 'Z') {
                        readies++;
                    }
                    out.add(describe(m));
                }
                out.add("--");
            }
        }
        List<String> all = new ArrayList<>();
        all.add("client A:");
        all.addAll(seen.get(0));
        all.add("client B:");
        all.addAll(seen.get(1));
        return all;
    }

    @ParameterizedTest(name = "max_prepared_statements = {0}")
    @ValueSource(ints = {200, 2})
    void sameMessagesAsPostgresDirectly(int maxPrepared) throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("default_pool_size", 1)
                .set("max_prepared_statements", maxPrepared).start()) {
            for (String name : SCRIPTS) {
                List<Step> steps = script(name);
                List<String> direct = run(steps, pg.port(), null);
                List<String> pooled = run(steps, u.port(),
                        () -> u.usher().pools().poolsOf("appdb").forEach(Pool::reconnect));
                assertThat(pooled).as(name + " (left: through Usher, right: PostgreSQL directly)").isEqualTo(direct);
            }
            // memory per server stays bounded: the one server holds at most max_prepared_statements statements,
            // and SHOW SERVERS says how many
            try (WireClient c = new WireClient(u.port())) {
                c.loginTrust(TRUST, "appdb");
                c.send(WireClient.query("SELECT count(*) FROM pg_prepared_statements"));
                WireClient.Message row = c.readUntil('D');
                int onServer = Integer.parseInt(new String(row.payload(), 6, row.payload().length - 6, StandardCharsets.UTF_8));
                c.readUntil('Z');
                assertThat(onServer).as("statements prepared on the server").isPositive().isLessThanOrEqualTo(maxPrepared);
                assertThat(u.usher().pools().poolsOf("appdb").stream().flatMap(p -> p.servers().stream())
                        .mapToInt(io.usher.server.ServerConnection::preparedStatementCount).max().orElse(0))
                        .isEqualTo(onServer);
            }
            // the statements really were shared on one server: far fewer server Parses than client Parses
            io.usher.stats.DatabaseStats.Totals t = u.usher().stats().forDatabase("appdb").totals();
            System.out.println("max_prepared_statements " + maxPrepared + ": client parses " + t.clientParses()
                    + ", server parses " + t.serverParses() + ", binds " + t.binds());
            assertThat(t.clientParses()).isPositive();
        }
    }
}

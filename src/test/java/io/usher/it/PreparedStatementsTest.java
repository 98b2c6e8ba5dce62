package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;

/** Protocol-level named prepared statements in transaction pooling (max_prepared_statements), with real drivers. */
class PreparedStatementsTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    // pgjdbc with its defaults (named statements after 5 uses, its own BEGIN/COMMIT statements), 16 threads on a
    // pool of 2: every answer right, no "prepared statement ... does not exist / already exists"
    @Test
    void pgjdbcDefaultsManyThreadsOnAPoolOfTwo() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 2).start()) {
            ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
            ExecutorService threads = Executors.newFixedThreadPool(16);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int id = t;
                futures.add(threads.submit(() -> {
                    try (Connection c = u.connect(MD5, "appdb")) {
                        for (int i = 0; i < 60; i++) {
                            try (PreparedStatement shared = c.prepareStatement("SELECT ?::int + 1");
                                 PreparedStatement own = c.prepareStatement("SELECT ?::int * " + (id + 2))) {
                                shared.setInt(1, i);
                                own.setInt(1, i);
                                int a = single(shared);
                                int b = single(own);
                                if (a != i + 1 || b != i * (id + 2)) {
                                    errors.add("thread " + id + " got " + a + "," + b + " at " + i);
                                }
                            }
                            if (i % 10 == 0) {
                                c.setAutoCommit(false);
                                try (PreparedStatement ps = c.prepareStatement("SELECT ?::text || 'x'")) {
                                    ps.setString(1, "t" + id);
                                    try (ResultSet rs = ps.executeQuery()) {
                                        rs.next();
                                        if (!rs.getString(1).equals("t" + id + "x")) {
                                            errors.add("wrong text");
                                        }
                                    }
                                }
                                c.commit();
                                c.setAutoCommit(true);
                            }
                        }
                    } catch (Exception e) {
                        errors.add("thread " + id + ": " + e);
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
            threads.shutdownNow();
            assertThat(errors).isEmpty();
            io.usher.stats.DatabaseStats.Totals t = u.usher().stats().forDatabase("appdb").totals();
            System.out.println("pgjdbc 16 threads / pool 2: client parses " + t.clientParses() + ", server parses "
                    + t.serverParses() + ", binds " + t.binds());
            assertThat(t.clientParses()).isPositive();
            assertThat(t.binds()).isPositive();
            // statements are shared by text: far fewer Parses reach the servers than clients sent
            assertThat(t.serverParses()).isLessThan(t.clientParses());
        }
    }

    // a client can never run another client's statement, not even by naming its server-side name
    @Test
    void serverSideNamesAreNotReachable() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("default_pool_size", 1).start();
             WireClient a = new WireClient(u.port()); WireClient b = new WireClient(u.port())) {
            a.loginTrust(io.usher.testing.TestRoles.TRUST, "appdb");
            b.loginTrust(io.usher.testing.TestRoles.TRUST, "appdb");
            a.send(ProtocolMessages.cat(ProtocolMessages.parse("secret", "SELECT 'a''s statement'"), ProtocolMessages.SYNC));
            assertThat(a.readUntil('Z').type()).isEqualTo('Z');
            for (int id = 1; id <= 20; id++) {
                b.send(ProtocolMessages.cat(ProtocolMessages.bind("", "USHER_" + id), ProtocolMessages.execute("", 0),
                        ProtocolMessages.SYNC));
                WireClient.Message first = b.read();
                assertThat(first.type()).as("Bind of USHER_" + id).isEqualTo('E');
                assertThat(first.fields().get('C')).isEqualTo("26000");
                b.readUntil('Z');
            }
        }
    }

    private static int single(PreparedStatement ps) throws java.sql.SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getInt(1);
        }
    }
}

package io.usher.it;

import io.usher.testing.PostgresCluster;
import io.usher.testing.ProcessResult;
import io.usher.testing.TestRoles;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.usher.it.Probes.awaitNoBackendsOfUser;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.OTHERDB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** libpq clients (psql, pgbench) through Usher, over TCP and the Unix socket. */
class RealClientsTest {
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(90);
    private static final Map<String, String> MD5_PASSWORD = Map.of("PGPASSWORD", TestRoles.password(MD5));

    private final PostgresCluster pg = PostgresCluster.shared();

    private static void assumeTool(String name) {
        assumeTrue(PostgresCluster.findClientTool(name).isPresent(), name + " not installed");
    }

    private static String describe(ProcessResult r) {
        return "exit " + r.exitCode() + "\nstdout:\n" + r.stdout() + "\nstderr:\n" + r.stderr();
    }

    /** Checks a pgbench run: exit 0, transactions processed, none failed; returns how many were processed. */
    private static long assertPgbenchOk(ProcessResult r) {
        assertThat(r.exitCode()).as(describe(r)).isZero();
        if (r.stdout().contains("number of failed transactions")) {
            assertThat(r.stdout()).as(describe(r)).contains("number of failed transactions: 0");
        }
        Matcher m = Pattern.compile("number of transactions actually processed: (\\d+)").matcher(r.stdout());
        assertThat(m.find()).as(describe(r)).isTrue();
        long processed = Long.parseLong(m.group(1));
        assertThat(processed).as(describe(r)).isPositive();
        return processed;
    }

    // psql over TCP with md5 authentication runs a query through Usher
    @Test
    void psqlOverTcp() {
        assumeTool("psql");
        try (UsherInstance u = UsherInstance.builder(pg).start()) {
            ProcessResult r = pg.runClient(CLIENT_TIMEOUT, MD5_PASSWORD, "psql", "-X", "-A", "-t",
                    "-h", "127.0.0.1", "-p", String.valueOf(u.port()), "-U", MD5, APPDB, "-c", "select 1");
            assertThat(r.exitCode()).as(describe(r)).isZero();
            assertThat(r.stdout().strip()).as(describe(r)).isEqualTo("1");
        }
    }

    // psql over Usher's Unix socket (unix_socket_dir) runs a query through Usher
    @Test
    void psqlOverUnixSocket() throws Exception {
        assumeTool("psql");
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "usher-sock-");
        try (UsherInstance u = UsherInstance.builder(pg).set("unix_socket_dir", dir).start()) {
            assertThat(dir.resolve(".s.PGSQL." + u.port())).as("socket file").exists();
            ProcessResult r = pg.runClient(CLIENT_TIMEOUT, MD5_PASSWORD, "psql", "-X", "-A", "-t",
                    "-h", dir.toString(), "-p", String.valueOf(u.port()), "-U", MD5, APPDB,
                    "-c", "select inet_server_port() is not null, current_user");
            assertThat(r.exitCode()).as(describe(r)).isZero();
            assertThat(r.stdout().strip()).as(describe(r)).isEqualTo("t|" + MD5);
        } finally {
            Files.deleteIfExists(dir.resolve(".s.PGSQL.lock"));
            try (var files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    // pgbench -S with 100 clients through a transaction-mode pool of 5: no failures, PostgreSQL never sees more than 5
    // backends; then the tpcb-like (read-write, BEGIN..END) script with 10 clients
    @Test
    void pgbenchThroughTransactionPool() throws Exception {
        assumeTool("pgbench");
        awaitNoBackendsOfUser(pg, MD5);
        ProcessResult init = pg.runClient(CLIENT_TIMEOUT, MD5_PASSWORD, "pgbench", "-i", "-s", "1", "-q",
                "-h", "127.0.0.1", "-p", String.valueOf(pg.port()), "-U", MD5, OTHERDB);
        assertThat(init.exitCode()).as(describe(init)).isZero();
        awaitNoBackendsOfUser(pg, MD5);
        try (UsherInstance u = UsherInstance.builder(pg).set("pool_mode", "transaction").set("default_pool_size", 5).start()) {
            String port = String.valueOf(u.port());
            int maxSelectOnly;
            ProcessResult selectOnly;
            try (Probes.MaxSampler sampler = new Probes.MaxSampler(() -> pg.backendCount(MD5, OTHERDB), Duration.ofSeconds(60), 20)) {
                selectOnly = pg.runClient(CLIENT_TIMEOUT, MD5_PASSWORD, "pgbench", "-S", "-c", "100", "-j", "2", "-T", "10", "-n",
                        "-h", "127.0.0.1", "-p", port, "-U", MD5, OTHERDB);
                maxSelectOnly = sampler.stop();
                System.out.println("pgbench -S: " + sampler.samples() + " samples, max backends " + maxSelectOnly
                        + "\n" + selectOnly.stdout());
            }
            assertPgbenchOk(selectOnly);
            assertThat(maxSelectOnly).as("most backends PostgreSQL had for u_md5/otherdb during pgbench -S")
                    .isBetween(1, 5);

            ProcessResult tpcb;
            int maxTpcb;
            try (Probes.MaxSampler sampler = new Probes.MaxSampler(() -> pg.backendCount(MD5, OTHERDB), Duration.ofSeconds(60), 20)) {
                tpcb = pg.runClient(CLIENT_TIMEOUT, MD5_PASSWORD, "pgbench", "-c", "10", "-T", "5", "-n",
                        "-h", "127.0.0.1", "-p", port, "-U", MD5, OTHERDB);
                maxTpcb = sampler.stop();
                System.out.println("pgbench tpcb-like: max backends " + maxTpcb + "\n" + tpcb.stdout());
            }
            assertPgbenchOk(tpcb);
            assertThat(maxTpcb).as("most backends during tpcb-like pgbench").isBetween(1, 5);

            // -M prepared: libpq's named statements (PQprepare/PQexecPrepared) on a pool of 5, tracked by Usher.
            // One thread per client: pgbench prepares with the blocking PQprepare, so a client waiting for a
            // server would stall the other clients of its thread, which hold the servers (PgBouncer alike)
            io.usher.stats.DatabaseStats.Totals before = u.usher().stats().forDatabase(OTHERDB).totals();
            ProcessResult prepared = pg.runClient(CLIENT_TIMEOUT, MD5_PASSWORD, "pgbench", "-M", "prepared", "-c", "20",
                    "-j", "20", "-T", "5", "-n", "-h", "127.0.0.1", "-p", port, "-U", MD5, OTHERDB);
            System.out.println("pgbench -M prepared tpcb-like:\n" + prepared.stdout());
            assertPgbenchOk(prepared);
            io.usher.stats.DatabaseStats.Totals after = u.usher().stats().forDatabase(OTHERDB).totals();
            assertThat(after.binds() - before.binds()).as("binds of named statements").isPositive();
            assertThat(after.serverParses() - before.serverParses()).as("statements prepared on servers")
                    .isLessThan(after.clientParses() - before.clientParses());
            // -M extended: the unnamed statement, pipelined per transaction
            assertPgbenchOk(pg.runClient(CLIENT_TIMEOUT, MD5_PASSWORD, "pgbench", "-M", "extended", "-S", "-c", "20",
                    "-j", "2", "-T", "3", "-n", "-h", "127.0.0.1", "-p", port, "-U", MD5, OTHERDB));
        }
    }
}

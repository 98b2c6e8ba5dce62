package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.PASSWORDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Drivers that are not Java, each with its own named prepared statements, through a transaction pool of
 * two: asyncpg (default statement cache), psycopg 3 (prepare_threshold=0), node-postgres (named queries).
 * The scripts live in src/test/drivers; .ci/run installs what they need (Debian's python3-asyncpg and
 * python3-psycopg, npm's pg). Each test skips when its driver is not installed.
 */
class DriversTest {
    private static final Path DRIVERS = Path.of("src", "test", "drivers").toAbsolutePath();
    private final PostgresCluster pg = PostgresCluster.shared();

    private UsherInstance start() {
        return UsherInstance.builder(pg).set("pool_mode", "transaction").set("default_pool_size", 2).start();
    }

    private static String url(UsherInstance u) {
        return "postgresql://" + MD5 + ":" + PASSWORDS.get(MD5) + "@127.0.0.1:" + u.port() + "/appdb?sslmode=disable";
    }

    private void runScript(List<String> command, String expected) throws Exception {
        ExternalTools.Result r = ExternalTools.run(command, null, Map.of(), 180);
        System.out.println(String.join(" ", command.subList(0, 2)) + ":\n" + r.output());
        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(r.output()).contains(expected);
    }

    @Test
    void asyncpgWithItsStatementCache() throws Exception {
        Path python = ExternalTools.pythonWith("asyncpg").orElse(null);
        assumeTrue(python != null, "asyncpg not installed (Debian: python3-asyncpg)");
        try (UsherInstance u = start()) {
            runScript(List.of(python.toString(), DRIVERS.resolve("asyncpg_check.py").toString(), url(u)), "asyncpg ok");
            assertThat(u.usher().stats().forDatabase("appdb").totals().binds()).isPositive();
        }
    }

    @Test
    void psycopgWithPrepareThresholdZero() throws Exception {
        Path python = ExternalTools.pythonWith("psycopg").orElse(null);
        assumeTrue(python != null, "psycopg 3 not installed (Debian: python3-psycopg)");
        try (UsherInstance u = start()) {
            runScript(List.of(python.toString(), DRIVERS.resolve("psycopg_check.py").toString(), url(u)), "psycopg ok");
            assertThat(u.usher().stats().forDatabase("appdb").totals().binds()).isPositive();
        }
    }

    @Test
    void nodePostgresNamedQueries() throws Exception {
        Path node = ExternalTools.find("node").orElse(null);
        assumeTrue(node != null && Files.isDirectory(DRIVERS.resolve("node_modules").resolve("pg")),
                "node or npm's pg not installed (npm install in src/test/drivers)");
        try (UsherInstance u = start()) {
            runScript(List.of(node.toString(), DRIVERS.resolve("node_pg_check.js").toString(), url(u)), "node-postgres ok");
            assertThat(u.usher().stats().forDatabase("appdb").totals().binds()).isPositive();
        }
    }
}

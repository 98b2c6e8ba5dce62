package io.usher.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Checks the test harness itself against the real PostgreSQL it starts. */
@ExtendWith(SharedPostgresExtension.class)
class PostgresClusterTest {
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(30);

    private final PostgresCluster cluster;

    PostgresClusterTest(PostgresCluster cluster) {
        this.cluster = cluster;
    }

    @Test
    void sharedClusterIsOnePerJvmOnLoopback() {
        assertThat(PostgresCluster.shared()).isSameAs(cluster);
        assertThat(cluster.host()).isEqualTo("127.0.0.1");
        assertThat(cluster.port()).isBetween(1, 65535);
        assertThat(cluster.binDir().resolve("postgres")).isExecutable();
        assertThat(cluster.dataDir().resolve("PG_VERSION")).exists();
        assertThat(cluster.logFile()).exists();
    }

    @Test
    void trustRoleLogsInWithoutPassword() throws SQLException {
        try (Connection connection = cluster.connect(TestRoles.TRUST, null, TestRoles.APPDB)) {
            assertThat(single(connection, "SELECT current_user || '@' || current_database()"))
                    .isEqualTo("u_trust@appdb");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {TestRoles.MD5, TestRoles.SCRAM, TestRoles.SCRAM2, TestRoles.PLAIN})
    void passwordRolesLogInWithTheirPassword(String role) throws SQLException {
        try (Connection connection = cluster.connect(role, TestRoles.password(role), TestRoles.OTHERDB)) {
            assertThat(single(connection, "SELECT current_user || '@' || current_database()"))
                    .isEqualTo(role + "@otherdb");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {TestRoles.MD5, TestRoles.SCRAM, TestRoles.SCRAM2, TestRoles.PLAIN})
    void wrongPasswordIsRejected(String role) {
        assertThatThrownBy(() -> cluster.connect(role, "wrong_pw", TestRoles.APPDB).close())
                .isInstanceOf(SQLException.class)
                .extracting(e -> ((SQLException) e).getSQLState())
                .isEqualTo("28P01"); // invalid_password
    }

    @Test
    void superuserLogsInWithItsPasswordOnly() throws SQLException {
        try (Connection connection = cluster.connectSuper()) {
            assertThat(single(connection, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user"))
                    .isEqualTo("true");
        }
        assertThatThrownBy(() -> cluster.connect(TestRoles.SUPERUSER, "wrong_pw", "postgres").close())
                .isInstanceOf(SQLException.class);
    }

    @Test
    void secretsAreStoredInTheRequestedFormat() {
        assertThat(cluster.storedSecret(TestRoles.MD5)).startsWith("md5");
        assertThat(cluster.storedSecret(TestRoles.SCRAM)).startsWith("SCRAM-SHA-256$");
        assertThat(cluster.storedSecret(TestRoles.SCRAM2)).startsWith("SCRAM-SHA-256$");
        assertThatThrownBy(() -> cluster.storedSecret("no_such_role")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void everyRoleHasItsMethodForSocketAndLoopback() {
        // Spelled out rather than taken from TestRoles, so a wrong entry there fails too.
        Map<String, String> expected = Map.of("u_trust", "trust", "u_md5", "md5", "u_scram", "scram-sha-256",
                "u_scram2", "scram-sha-256", "u_plain", "password", "postgres", "scram-sha-256");
        assertThat(TestRoles.ROLES).containsExactlyInAnyOrder("u_trust", "u_md5", "u_scram", "u_scram2", "u_plain");
        for (String role : expected.keySet()) {
            Set<String> rules = cluster.query("SELECT type || ' ' || coalesce(address, '-') || ' ' || auth_method"
                            + " FROM pg_hba_file_rules WHERE user_name = ARRAY['" + role + "']").stream()
                    .map(row -> row.get(0)).collect(Collectors.toSet());
            String method = expected.get(role);
            assertThat(rules).as(role).containsExactlyInAnyOrder(
                    "local - " + method, "host 127.0.0.1 " + method);
        }
    }

    @Test
    void serverSettingsAreThoseTestsRelyOn() {
        assertThat(setting("max_connections")).isEqualTo("200");
        assertThat(setting("listen_addresses")).isEqualTo("127.0.0.1");
        assertThat(setting("fsync")).isEqualTo("off");
        assertThat(setting("log_connections")).isEqualTo("off");
        assertThat(setting("port")).isEqualTo(Integer.toString(cluster.port()));
        assertThat(Path.of(setting("unix_socket_directories"))).isEqualTo(cluster.socketDir());
        assertThat(cluster.socketDir().resolve(".s.PGSQL." + cluster.port())).exists();
    }

    @Test
    void databasesBelongToPostgresAndRolesMayCreateTablesInThem() throws SQLException {
        assertThat(cluster.query("SELECT datname || ':' || pg_get_userbyid(datdba) FROM pg_database"
                + " WHERE datname IN ('appdb', 'otherdb') ORDER BY datname"))
                .containsExactly(List.of("appdb:postgres"), List.of("otherdb:postgres"));
        for (String database : TestRoles.DATABASES) {
            try (Connection connection = cluster.connect(TestRoles.SCRAM, "scram_pw", database);
                    Statement sql = connection.createStatement()) {
                sql.execute("CREATE TABLE harness_probe (id int)");
                sql.execute("DROP TABLE harness_probe");
            }
        }
    }

    @Test
    void backendCountSeesOpenConnectionsOnly() throws SQLException {
        List<Connection> connections = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                connections.add(cluster.connect(TestRoles.SCRAM2, "scram2_pw", TestRoles.OTHERDB));
            }
            assertThat(cluster.backendCount(TestRoles.SCRAM2, TestRoles.OTHERDB)).isEqualTo(3);
            assertThat(cluster.backendCount(TestRoles.SCRAM2, TestRoles.APPDB)).isZero();
        } finally {
            for (Connection connection : connections) {
                connection.close();
            }
        }
        // A backend leaves pg_stat_activity shortly after its client hangs up, not at once.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(cluster.backendCount(TestRoles.SCRAM2, TestRoles.OTHERDB)).isZero());
    }

    @Test
    void serverRunsAsAnUnprivilegedUser() throws Exception {
        String owner = Files.getOwner(cluster.dataDir()).getName();
        if (ServerAccount.currentUid() == 0) {
            assertThat(owner).isNotEqualTo("root");
        } else {
            assertThat(owner).isEqualTo(System.getProperty("user.name"));
        }
    }

    @Test
    void psqlReachesTheUnixSocketWithHbaLocalRules() {
        assumeTrue(PostgresCluster.findClientTool("psql").isPresent(), "psql not installed");
        String socket = cluster.socketDir().toString();
        String port = Integer.toString(cluster.port());

        ProcessResult trust = cluster.runClient(CLIENT_TIMEOUT, Map.of(),
                "psql", "-h", socket, "-p", port, "-U", TestRoles.TRUST, "-d", TestRoles.APPDB, "-w", "-Atc",
                "SELECT current_user");
        assertThat(trust.exitCode()).as(trust.stderr()).isZero();
        assertThat(trust.stdout().strip()).isEqualTo(TestRoles.TRUST);

        ProcessResult md5 = cluster.runClient(CLIENT_TIMEOUT, Map.of("PGPASSWORD", "md5_pw"),
                "psql", "-h", socket, "-p", port, "-U", TestRoles.MD5, "-d", TestRoles.OTHERDB, "-w", "-Atc",
                "SELECT current_database()");
        assertThat(md5.exitCode()).as(md5.stderr()).isZero();
        assertThat(md5.stdout().strip()).isEqualTo(TestRoles.OTHERDB);

        ProcessResult wrong = cluster.runClient(CLIENT_TIMEOUT, Map.of("PGPASSWORD", "wrong_pw"),
                "psql", "-h", socket, "-p", port, "-U", TestRoles.SCRAM, "-d", TestRoles.APPDB, "-w", "-Atc",
                "SELECT 1");
        assertThat(wrong.exitCode()).isNotZero();
        assertThat(wrong.stderr()).contains("password authentication failed");
    }

    @Test
    void unknownClientToolIsAbsent() {
        assertThat(PostgresCluster.findClientTool("no-such-postgres-tool")).isEmpty();
        assertThatThrownBy(() -> cluster.runClient(CLIENT_TIMEOUT, Map.of(), "no-such-postgres-tool"))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void privateClusterStopsRestartsAndCleansUp() throws SQLException {
        PostgresCluster own = PostgresCluster.startNew();
        Path directory = own.dataDir().getParent();
        try {
            assertThat(own.port()).isNotEqualTo(cluster.port());
            String startedAt = startTime(own);
            int port = own.port();

            own.stop();
            assertThatThrownBy(() -> own.connectSuper().close()).isInstanceOf(SQLException.class);
            own.start();
            assertThat(own.port()).isEqualTo(port);
            assertThat(startTime(own)).isNotEqualTo(startedAt);

            String beforeCrash = startTime(own);
            own.restart("immediate");
            try (Connection connection = own.connect(TestRoles.SCRAM, "scram_pw", TestRoles.APPDB)) {
                assertThat(single(connection, "SELECT current_user")).isEqualTo(TestRoles.SCRAM);
            }
            assertThat(startTime(own)).isNotEqualTo(beforeCrash);
            assertThat(own.port()).isEqualTo(port);

            own.restart("fast");
            assertThat(own.backendCount(TestRoles.SCRAM, TestRoles.APPDB)).isZero();
            assertThatThrownBy(() -> own.restart("smartish")).isInstanceOf(IllegalArgumentException.class);
            assertThat(own.logFile()).isNotEmptyFile();
        } finally {
            own.close();
        }
        assertThat(own.isClosed()).isTrue();
        assertThat(directory).doesNotExist();
        assertThatThrownBy(() -> own.connectSuper().close()).isInstanceOf(SQLException.class);
        own.close(); // idempotent
    }

    private String setting(String name) {
        return cluster.query("SELECT current_setting('" + name + "')").get(0).get(0);
    }

    private static String startTime(PostgresCluster target) {
        return target.query("SELECT pg_postmaster_start_time()::text").get(0).get(0);
    }

    private static String single(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(sql)) {
            assertThat(rows.next()).as("a row from " + sql).isTrue();
            return rows.getString(1);
        }
    }
}

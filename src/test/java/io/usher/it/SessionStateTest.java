package io.usher.it;

import io.usher.testing.PostgresCluster;
import io.usher.testing.TestRoles;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Properties;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Session state in transaction pooling: startup options and track_extra_parameters follow the client. */
class SessionStateTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    private static Connection connect(UsherInstance u, String options) throws SQLException {
        Properties p = new Properties();
        p.setProperty("options", options);
        return u.connect(MD5, TestRoles.password(MD5), "appdb", p);
    }

    // two clients on one server, each with its own search_path from startup options: each sees its own, always
    @Test
    void startupOptionsAreRestoredOnEveryServer() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("default_pool_size", 1)
                .set("track_extra_parameters", "search_path").start();
             Connection a = connect(u, "-c search_path=schema_a,public");
             Connection b = connect(u, "-c search_path=schema_b,public")) {
            for (int i = 0; i < 5; i++) {
                assertThat(one(a, "SHOW search_path")).isEqualTo("schema_a,public");
                assertThat(one(b, "SHOW search_path")).isEqualTo("schema_b,public");
                // a list of two schemas, as PostgreSQL reads it from the startup packet, not one named "a,public"
                assertThat(one(a, "SELECT current_schemas(false)::text")).isEqualTo("{public}");
            }
            // both really share the one server
            assertThat(one(a, "SELECT pg_backend_pid()")).isEqualTo(one(b, "SELECT pg_backend_pid()"));
        }
    }

    // a setting Usher cannot restore is refused at login, as PgBouncer does; ignore_startup_parameters = options lets it in
    @Test
    void untrackedSettingInOptionsIsRefused() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).start()) {
            assertThatThrownBy(() -> connect(u, "-c work_mem=64MB"))
                    .hasMessageContaining("unsupported startup parameter in options: work_mem");
        }
        try (UsherInstance u = UsherInstance.builder(pg).set("ignore_startup_parameters", "extra_float_digits,options").start();
             Connection c = connect(u, "-c work_mem=64MB")) {
            assertThat(one(c, "SELECT 1")).isEqualTo("1");
        }
    }
}

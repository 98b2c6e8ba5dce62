package io.usher.testing;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/** Creates the databases and roles listed in {@link TestRoles} in a freshly initialised cluster. */
final class ClusterFixtures {

    static void create(PostgresCluster cluster) throws SQLException {
        try (Connection connection = cluster.connectSuper(); Statement sql = connection.createStatement()) {
            for (String database : TestRoles.DATABASES) {
                sql.execute("CREATE DATABASE " + database);
            }
            for (String role : TestRoles.ROLES) {
                // md5 roles must be stored as md5 hashes, the others as SCRAM verifiers; the setting applies
                // to the passwords set after it in this session.
                String encryption = TestRoles.MD5.equals(role) ? "md5" : "scram-sha-256";
                sql.execute("SET password_encryption = '" + encryption + "'");
                sql.execute("CREATE ROLE " + role + " LOGIN PASSWORD " + literal(TestRoles.password(role)));
            }
            for (String database : TestRoles.DATABASES) {
                sql.execute("GRANT ALL ON DATABASE " + database + " TO " + String.join(", ", TestRoles.ROLES));
            }
        }
        // PostgreSQL 15+ no longer lets every role create objects in public; grant it in each database.
        for (String database : TestRoles.DATABASES) {
            try (Connection connection = cluster.connect(
                            TestRoles.SUPERUSER, cluster.superuserPassword(), database);
                    Statement sql = connection.createStatement()) {
                sql.execute("GRANT ALL ON SCHEMA public TO " + String.join(", ", TestRoles.ROLES));
            }
        }
    }

    private static String literal(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    private ClusterFixtures() {}
}

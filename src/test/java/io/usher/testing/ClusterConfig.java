package io.usher.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Writes the server settings and pg_hba.conf that every test cluster gets. */
final class ClusterConfig {

    static void write(Path dataDir, Path socketDir) throws IOException {
        // Appended, so these win over initdb's defaults. The port is passed on pg_ctl's command line instead,
        // because it is only known (and may change after a clash) at start time.
        String settings = "\n# io.usher.testing.ClusterConfig\n"
                + "listen_addresses = '127.0.0.1'\n"
                + "unix_socket_directories = '" + socketDir.toString().replace("'", "''") + "'\n"
                + "max_connections = 200\n"
                + "fsync = off\n"
                + "log_connections = off\n"
                + "log_disconnections = off\n";
        Files.writeString(dataDir.resolve("postgresql.conf"), settings, StandardOpenOption.APPEND);
        Files.writeString(dataDir.resolve("pg_hba.conf"), hbaRules(), StandardOpenOption.TRUNCATE_EXISTING);
    }

    /** One rule per fixture role for the unix socket and one for 127.0.0.1, each with that role's method. */
    static String hbaRules() {
        StringBuilder hba = new StringBuilder("# TYPE DATABASE USER ADDRESS METHOD\n");
        for (String role : TestRoles.ROLES) {
            addRules(hba, role, TestRoles.hbaMethod(role));
        }
        addRules(hba, TestRoles.SUPERUSER, TestRoles.SUPERUSER_HBA_METHOD);
        // streaming replication (PostgresCluster.startStandby): pg_basebackup and the standby log in as the superuser
        hba.append("host  replication ").append(TestRoles.SUPERUSER).append(" 127.0.0.1/32 ")
                .append(TestRoles.SUPERUSER_HBA_METHOD).append('\n');
        hba.append("# roles that individual tests create\n");
        addRules(hba, "all", "scram-sha-256");
        return hba.toString();
    }

    private static void addRules(StringBuilder hba, String user, String method) {
        hba.append("local all ").append(user).append(' ').append(method).append('\n');
        hba.append("host  all ").append(user).append(" 127.0.0.1/32 ").append(method).append('\n');
    }

    private ClusterConfig() {}
}

package io.usher.it;

import io.usher.Usher;
import io.usher.config.UsherConfig;
import io.usher.testing.LoopbackPorts;
import io.usher.testing.PostgresCluster;
import io.usher.testing.TestRoles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Usher running in the test JVM, configured by a pgbouncer.ini and userlist.txt written for the
 * test, in front of a real PostgreSQL cluster.
 */
public final class UsherInstance implements AutoCloseable {
    private final Usher usher;
    private final Path dir;
    private final int port;

    private UsherInstance(Usher usher, Path dir, int port) {
        this.usher = usher;
        this.dir = dir;
        this.port = port;
    }

    public static Builder builder(PostgresCluster pg) {
        return new Builder(pg);
    }

    public static final class Builder {
        private final PostgresCluster pg;
        private final Map<String, String> settings = new LinkedHashMap<>();
        private final Map<String, String> databases = new LinkedHashMap<>();
        private final Map<String, String> users = new LinkedHashMap<>();
        private final Map<String, String> userlist = new LinkedHashMap<>();
        private final Map<Integer, String> peers = new LinkedHashMap<>();

        Builder(PostgresCluster pg) {
            this.pg = pg;
            settings.put("listen_addr", "127.0.0.1");
            settings.put("unix_socket_dir", "");
            settings.put("auth_type", "md5");
            settings.put("pool_mode", "transaction");
            settings.put("default_pool_size", "5");
            settings.put("max_client_conn", "500");
            settings.put("server_login_retry", "1");
            settings.put("ignore_startup_parameters", "extra_float_digits");
            databases.put("appdb", "host=127.0.0.1 port=" + pg.port() + " dbname=appdb");
            databases.put("otherdb", "host=127.0.0.1 port=" + pg.port() + " dbname=otherdb");
            // stored secrets as PostgreSQL has them: md5 hash, SCRAM verifiers
            for (String role : TestRoles.ROLES) {
                String stored = pg.storedSecret(role);
                userlist.put(role, stored != null ? stored : TestRoles.password(role));
            }
        }

        public Builder set(String key, Object value) {
            settings.put(key, String.valueOf(value));
            return this;
        }

        public Builder database(String name, String connectionString) {
            databases.put(name, connectionString);
            return this;
        }

        public Builder user(String name, String settingsLine) {
            users.put(name, settingsLine);
            return this;
        }

        /** A [peers] entry: {@code id = connectionString}. */
        public Builder peer(int id, String connectionString) {
            peers.put(id, connectionString);
            return this;
        }

        public Builder userlist(String user, String secret) {
            if (secret == null) {
                userlist.remove(user);
            } else {
                userlist.put(user, secret);
            }
            return this;
        }

        /** Writes pgbouncer.ini and userlist.txt into a new directory; returns the ini and the port it names. */
        public Config writeConfig() {
            try {
                Path dir = Files.createTempDirectory("usher-it-");
                Path ul = dir.resolve("userlist.txt");
                StringBuilder u = new StringBuilder();
                userlist.forEach((k, v) -> u.append('"').append(k).append("\" \"").append(v.replace("\"", "\"\"")).append("\"\n"));
                Files.writeString(ul, u);
                int port = settings.containsKey("listen_port") ? Integer.parseInt(settings.get("listen_port"))
                        : LoopbackPorts.pickFree();
                StringBuilder ini = new StringBuilder("[databases]\n");
                databases.forEach((k, v) -> ini.append(k).append(" = ").append(v).append('\n'));
                ini.append("\n[users]\n");
                users.forEach((k, v) -> ini.append(k).append(" = ").append(v).append('\n'));
                if (!peers.isEmpty()) {
                    ini.append("\n[peers]\n");
                    peers.forEach((k, v) -> ini.append(k).append(" = ").append(v).append('\n'));
                }
                ini.append("\n[pgbouncer]\n");
                if (!settings.containsKey("listen_port")) {
                    ini.append("listen_port = ").append(port).append('\n');
                }
                ini.append("auth_file = ").append(ul).append('\n');
                settings.forEach((k, v) -> ini.append(k).append(" = ").append(v).append('\n'));
                Path iniFile = dir.resolve("pgbouncer.ini");
                Files.writeString(iniFile, ini);
                return new Config(iniFile, port);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        public UsherInstance start() {
            Config c = writeConfig();
            try {
                Usher usher = Usher.start(UsherConfig.load(c.ini()));
                return new UsherInstance(usher, c.ini().getParent(), c.port());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A written configuration: the pgbouncer.ini (userlist.txt next to it) and the port Usher will listen on. */
    public record Config(Path ini, int port) {}

    public int port() {
        return port;
    }

    public Usher usher() {
        return usher;
    }

    public Path dir() {
        return dir;
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    /** A pgjdbc connection through Usher (simple defaults: no TLS, no server-side prepare). */
    public Connection connect(String user, String database) throws SQLException {
        return connect(user, TestRoles.password(user), database, new Properties());
    }

    public Connection connect(String user, String password, String database, Properties extra) throws SQLException {
        Properties p = clientProperties(user, password);
        p.putAll(extra);
        return DriverManager.getConnection(jdbcUrl(database), p);
    }

    /** pgjdbc's properties for a test client: no TLS, bounded connect and reads, no setup query. */
    public static Properties clientProperties(String user, String password) {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) {
            p.setProperty("password", password);
        }
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "20");
        p.setProperty("socketTimeout", "60");
        // no setup query after login: in session mode with a full pool it would wait for a server
        p.setProperty("assumeMinServerVersion", "12");
        return p;
    }

    @Override
    public void close() {
        usher.close();
    }
}

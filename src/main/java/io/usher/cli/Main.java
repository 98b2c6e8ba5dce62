package io.usher.cli;

import io.usher.ShutdownMode;
import io.usher.Usher;
import io.usher.config.ConfigException;
import io.usher.config.UsherConfig;
import io.usher.logging.LogSetup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** The command line, with PgBouncer's flags where they make sense. */
@Command(name = "usher", mixinStandardHelpOptions = false, sortOptions = false,
        description = "Usher: a PostgreSQL connection pooler that reads PgBouncer's configuration.",
        subcommands = {ConfigCommand.class, DemoCommand.class, PasswdCommand.class},
        footer = {"%nWithout CONFIG, the configuration comes from the environment: DATABASE_URL (or DB_HOST, DB_PORT, "
                + "DB_USER, DB_PASSWORD, DB_NAME, as the edoburu/pgbouncer image reads them), USHER_<SETTING> for any "
                + "[pgbouncer] setting (USHER_POOL_MODE=transaction), and the image's other variables (POOL_MODE, "
                + "MAX_CLIENT_CONN, ...). With CONFIG, USHER_ variables override the file and the image's variables "
                + "fill in what it leaves unset.",
                "%nStarts in the foreground. SIGTERM or SIGINT stops it.",
                "%n\"usher passwd [--md5] USER\" prints a userlist.txt line (password from the terminal or stdin)."})
public final class Main implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "CONFIG",
            description = "pgbouncer.ini (optional: without it, the configuration comes from the environment)")
    Path configFile;

    @Option(names = "--database-url", paramLabel = "URL",
            description = "postgres://user:password@host:port/database to pool (instead of DATABASE_URL): clients log in "
                    + "with that user and password, to that database.")
    String databaseUrl;

    @Option(names = {"-d", "--daemon"}, description = "Run in the background (not supported: use your service manager).")
    boolean daemon;

    @Option(names = {"-R", "--reboot", "--takeover"},
            description = "Online restart: take over the listening sockets of the Usher running with the same config "
                    + "(it drains its clients and exits); start normally if none runs.")
    boolean reboot;

    @Option(names = {"-q", "--quiet"}, description = "No log output to stderr.")
    boolean quiet;

    @Option(names = {"-v", "--verbose"}, description = "More log output (repeat for more).")
    boolean[] verbose = new boolean[0];

    @Option(names = {"-u", "--user"}, paramLabel = "USERNAME", description = "Switch to this user at start (not supported: start Usher as that user).")
    String switchUser;

    @Option(names = "--http-listen", paramLabel = "HOST:PORT", defaultValue = "${env:USHER_HTTP_LISTEN}",
            description = "Serve Prometheus /metrics, /health and /ready over HTTP here (also USHER_HTTP_LISTEN). Off by default.")
    String httpListen;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "${env:USHER_THREADS}",
            description = "Event-loop threads: a number, or auto (the default: one per core). Also USHER_THREADS.")
    String threads;

    @Option(names = "--log-format", paramLabel = "FORMAT", defaultValue = "${env:USHER_LOG_FORMAT}",
            description = "text (PgBouncer's log line, the default) or json (one JSON object per line); also USHER_LOG_FORMAT.")
    String logFormat;

    @Option(names = {"-V", "--version"}, description = "Print the version and exit.")
    boolean version;

    @Option(names = {"-h", "--help"}, description = "Print this help and exit.")
    boolean help;

    public static void main(String[] args) {
        // the log line carries the process id, as PgBouncer's does (read by logback.xml)
        System.setProperty("PID", String.valueOf(ProcessHandle.current().pid()));
        // before any lookup: Usher's own DNS cache (dns_max_ttl, dns_nxdomain_ttl) is the only one
        io.usher.server.DnsCache.disableJvmCache();
        CommandLine cl = new CommandLine(new Main());
        cl.setParameterExceptionHandler((ex, a) -> {
            System.err.println("usher: " + ex.getMessage());
            System.err.println("Try \"usher --help\" for more information.");
            return 1;
        });
        System.exit(cl.execute(args));
    }

    public static String version() {
        try (InputStream in = Main.class.getResourceAsStream("/usher-version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    @Override
    public Integer call() throws Exception {
        if (help) {
            new CommandLine(this).usage(System.out);
            return 0;
        }
        if (version) {
            System.out.println("Usher " + version() + " (PgBouncer 1.25 compatible)");
            return 0;
        }
        if (daemon) {
            System.err.println("usher: -d (daemonize) is not supported; run Usher in the foreground under systemd, a container or nohup");
            return 1;
        }
        if (switchUser != null) {
            System.err.println("usher: -u is not supported; start Usher as user \"" + switchUser + "\" (e.g. runuser -u " + switchUser + ")");
            return 1;
        }
        LogSetup.Format format;
        try {
            format = LogSetup.Format.parse(logFormat);
        } catch (IllegalArgumentException e) {
            System.err.println("usher: --log-format: " + e.getMessage());
            return 1;
        }
        if (threads != null && !threads.isBlank() && !threads.trim().equalsIgnoreCase("auto")) {
            try {
                int n = Integer.parseInt(threads.trim());
                if (n < 1) {
                    throw new NumberFormatException();
                }
                System.setProperty("usher.threads", String.valueOf(n));
            } catch (NumberFormatException e) {
                System.err.println("usher: --threads: expected a positive number or auto, not \"" + threads + "\"");
                return 1;
            }
        }
        UsherConfig config;
        try {
            config = loadConfig(configFile, databaseUrl);
        } catch (ConfigException e) {
            System.err.println("usher: " + e.getMessage());
            if (configFile == null && e.file() != null && e.file().equals("environment")) {
                System.err.println("Try \"usher --help\" for more information.");
            }
            return 1;
        }
        LogSetup.init(verbose.length, quiet, format, config.settings());
        Logger log = LoggerFactory.getLogger("io.usher");
        log.info("configuration from {}", config.describeSources());
        for (String note : config.env().notes()) {
            log.info("config: {}", note);
        }
        for (String key : config.notImplementedKeys()) {
            log.warn("config: {} is set, but not supported by Usher yet; ignored", key);
        }
        Usher usher;
        io.usher.takeover.TakeoverClient predecessor = null;
        try {
            if (reboot) {
                predecessor = takeOver(config, log);
            }
            usher = Usher.start(config, predecessor == null ? null : predecessor.sockets());
            if (predecessor != null) {
                predecessor.confirm(); // the old one stops accepting and drains
                predecessor.close();
                log.info("takeover: done; the previous Usher drains its clients and exits");
            }
        } catch (IOException | RuntimeException e) {
            log.error("{}", e.getMessage());
            if (predecessor != null) {
                predecessor.close(); // without our confirmation the old one carries on
            }
            return 1;
        }
        try {
            usher.listenForTakeover();
        } catch (IOException | RuntimeException e) {
            // serving matters more than being replaceable later (after -R the old one is draining already)
            log.error("no takeover socket, usher -R cannot take over from this process: {}", e.getMessage());
        }
        if (httpListen != null && !httpListen.isBlank()) {
            int colon = httpListen.lastIndexOf(':');
            try {
                usher.startHttp(new java.net.InetSocketAddress(httpListen.substring(0, colon),
                        Integer.parseInt(httpListen.substring(colon + 1))));
            } catch (IOException | RuntimeException e) {
                log.error("--http-listen {}: {}", httpListen, e.getMessage());
                usher.close();
                return 1;
            }
        }
        Path pidfile = config.settings().getString("pidfile").isEmpty() ? null : Path.of(config.settings().getString("pidfile"));
        if (pidfile != null) {
            Files.writeString(pidfile, ProcessHandle.current().pid() + "\n");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runnable shutdown = () -> {
            usher.close();
            if (pidfile != null) {
                deleteOwnPidfile(pidfile);
            }
            stopped.countDown();
        };
        usher.onShutdownRequest(shutdown);
        // RELOAD, SIGHUP and SET: verbose, logfile (reopened) and syslog apply again
        usher.onConfigChange(c -> LogSetup.apply(c.settings()));
        Signals signals = new Signals();
        signals.on("TERM", () -> shutdownSignal(usher, "SIGTERM", ShutdownMode.WAIT_FOR_CLIENTS, log));
        signals.on("INT", () -> shutdownSignal(usher, "SIGINT", ShutdownMode.WAIT_FOR_SERVERS, log));
        signals.on("HUP", () -> {
            log.info("got SIGHUP, re-reading config");
            usher.reload();
        });
        signals.on("USR1", () -> {
            log.info("got SIGUSR1, pausing all databases");
            usher.pools().pause(null);
        });
        signals.on("USR2", () -> {
            log.info("got SIGUSR2, resuming");
            usher.pools().resume(null);
        });
        for (String sig : signals.unavailable()) {
            log.warn("{} is reserved by the JVM here; use the console instead", sig);
        }
        for (String sig : signals.ignored()) {
            log.warn("{} was ignored when Usher started (nohup?), and the JVM keeps it ignored; use the console instead",
                    sig);
        }
        // only now: whoever waits for this line may send SIGTERM, and the handlers are in place
        log.info("process up: Usher {}, pid {}, {} event-loop threads", version(), ProcessHandle.current().pid(),
                usher.eventLoopThreads());
        stopped.await();
        log.info("shutdown complete");
        return 0;
    }

    /**
     * The file with the environment's layers, or the environment alone when there is no file
     * ({@code --database-url} standing in for DATABASE_URL).
     */
    static UsherConfig loadConfig(Path file, String databaseUrl) throws ConfigException {
        io.usher.config.EnvConfig env = io.usher.config.EnvConfig.fromEnvironment(databaseUrl);
        return file != null ? UsherConfig.load(file.toAbsolutePath(), env) : UsherConfig.fromEnvironment(env);
    }

    /**
     * -R: the running Usher's listening sockets, or null to start normally (none runs, as PgBouncer's
     * -R boots normally then).
     */
    private static io.usher.takeover.TakeoverClient takeOver(UsherConfig config, Logger log) throws IOException {
        Path control = io.usher.takeover.TakeoverProtocol.controlSocket(config.settings());
        if (control == null) {
            throw new IOException("-R needs unix_socket_dir or pidfile in the config: the running Usher's takeover "
                    + "socket is next to one of them");
        }
        if (!io.usher.net.Transport.isEpoll()) {
            throw new IOException("-R needs the native epoll transport (Linux)");
        }
        log.info("takeover: asking the running Usher at {}", control);
        io.usher.takeover.TakeoverClient predecessor = io.usher.takeover.TakeoverClient.fetch(control,
                java.time.Duration.ofSeconds(30));
        if (predecessor == null) {
            log.info("takeover: no running Usher to take over; starting normally");
        }
        return predecessor;
    }

    /** After a takeover the successor wrote its own pid there: leave that one alone. */
    private static void deleteOwnPidfile(Path pidfile) {
        try {
            String content = Files.exists(pidfile) ? Files.readString(pidfile).trim() : "";
            if (content.equals(String.valueOf(ProcessHandle.current().pid()))) {
                Files.deleteIfExists(pidfile);
            }
        } catch (IOException ignored) {
            // best effort
        }
    }

    /** PgBouncer 1.23+: the first SIGTERM/SIGINT begins a shutdown that waits; another one makes it immediate. */
    private static void shutdownSignal(Usher usher, String signal, ShutdownMode mode, Logger log) {
        if (usher.shutdownMode() != null) {
            log.info("got {} during shutdown, shutting down immediately", signal);
            usher.shutdown(ShutdownMode.IMMEDIATE);
        } else {
            log.info("got {}, shutting down", signal);
            usher.shutdown(mode);
        }
    }
}

package io.usher.demo;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway PostgreSQL cluster for {@code usher demo}: initdb into a new temporary directory,
 * started with pg_ctl on 127.0.0.1 and a free port, one superuser with a password (SCRAM). When the
 * JVM runs as root, PostgreSQL (which refuses root) runs as {@code postgres} if that account exists,
 * else {@code nobody}, through {@code runuser}, and the directory is handed to that account.
 *
 * <p>{@link #close()} stops the server and deletes the directory. If the JVM dies without running
 * it (SIGKILL), a small watcher process started with the cluster does the same.
 */
public final class DemoPostgres implements AutoCloseable {
    private final Path binDir;
    private final Path dir;
    private final Path dataDir;
    private final String runAs;
    private final String user;
    private final String password;
    private int port;
    private Process guard;
    private boolean closed;

    private DemoPostgres(Path binDir, Path dir, String runAs, String user, String password) {
        this.binDir = binDir;
        this.dir = dir;
        this.dataDir = dir.resolve("data");
        this.runAs = runAs;
        this.user = user;
        this.password = password;
    }

    /** The effective uid is 0. */
    public static boolean isRoot() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    /** Creates and starts the cluster; on failure, nothing is left behind. */
    public static DemoPostgres start(Path binDir, String user, String password) throws IOException {
        String runAs = null;
        if (isRoot()) {
            runAs = userExists("postgres") ? "postgres" : "nobody";
        }
        Path dir = Files.createTempDirectory("usher-demo-");
        DemoPostgres pg = new DemoPostgres(binDir, dir, runAs, user, password);
        try {
            pg.initialize();
            return pg;
        } catch (IOException | RuntimeException e) {
            pg.close();
            throw e;
        }
    }

    private void initialize() throws IOException {
        Files.createDirectories(dir.resolve("sock"));
        Path pwfile = dir.resolve("pw");
        Files.writeString(pwfile, password + "\n");
        Files.setPosixFilePermissions(pwfile, PosixFilePermissions.fromString("rw-------"));
        handOver();
        guard = startGuard();
        run(List.of(binDir.resolve("initdb").toString(), "-D", dataDir.toString(), "-U", user,
                "--pwfile=" + pwfile, "-A", "scram-sha-256", "-E", "UTF8", "--no-locale", "-N"), "initdb");
        Files.delete(pwfile);
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            port = freePort();
            try {
                run(List.of(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-l",
                        dir.resolve("postgres.log").toString(), "-w", "-t", "60", "-o",
                        "-p " + port + " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + dir.resolve("sock")
                                + " -c fsync=off", "start"), "pg_ctl start");
                return;
            } catch (IOException e) {
                last = e;
            }
        }
        throw last;
    }

    public int port() {
        return port;
    }

    public String version() {
        try {
            Process p = new ProcessBuilder(binDir.resolve("postgres").toString(), "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            p.waitFor(10, TimeUnit.SECONDS);
            return out.replaceFirst("^postgres \\(PostgreSQL\\) ", "PostgreSQL ");
        } catch (IOException e) {
            return "PostgreSQL";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "PostgreSQL";
        }
    }

    public Path directory() {
        return dir;
    }

    public Path binDir() {
        return binDir;
    }

    /** The OS account PostgreSQL runs as, or null for the JVM's own. */
    public String runAs() {
        return runAs;
    }

    /** Stops PostgreSQL (fast, then immediate) and deletes the directory. Safe to call twice. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (Files.exists(dataDir.resolve("postmaster.pid"))) {
            try {
                run(stopCommand("fast"), "pg_ctl stop");
            } catch (IOException e) {
                try {
                    run(stopCommand("immediate"), "pg_ctl stop");
                } catch (IOException ignored) {
                    // the directory goes anyway
                }
            }
        }
        PostgresBinaries.deleteTree(dir);
        if (guard != null) {
            guard.destroy();
        }
    }

    private List<String> stopCommand(String mode) {
        return List.of(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-m", mode, "-w", "-t", "30", "stop");
    }

    private List<String> wrap(List<String> command) {
        if (runAs == null) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", runAs, "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    private void handOver() throws IOException {
        if (runAs == null) {
            return;
        }
        Process p = new ProcessBuilder("chown", "-R", runAs + ":", dir.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (p.waitFor() != 0) {
                throw new IOException("chown " + runAs + " " + dir + " failed: " + out.trim());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** Runs a PostgreSQL command (as the account), in the cluster directory, with output to a log; fails on non-zero exit. */
    private void run(List<String> command, String what) throws IOException {
        Path log = Files.createTempFile("usher-demo-cmd-", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(wrap(command)).directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().keySet().removeIf(k -> k.startsWith("PG"));
            pb.environment().put("LC_ALL", "C");
            Process p = pb.start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(what + " did not finish within 120 s");
            }
            if (p.exitValue() != 0) {
                String out = Files.readString(log);
                String pgLog = Files.exists(dir.resolve("postgres.log")) ? Files.readString(dir.resolve("postgres.log")) : "";
                throw new IOException(what + " failed (exit " + p.exitValue() + "):\n" + out.trim()
                        + (pgLog.isEmpty() ? "" : "\n" + tail(pgLog)));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted during " + what, e);
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** A shell that outlives a killed JVM: stops the server and deletes the directory; ignores Ctrl-C (the JVM handles it). */
    private Process startGuard() throws IOException {
        String script = """
                trap '' INT
                jvm=$1; dir=$2; shift 2
                while kill -0 "$jvm" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
                if [ -d "$dir" ]; then "$@" >/dev/null 2>&1; rm -rf "$dir"; fi
                """;
        List<String> command = new ArrayList<>(List.of("sh", "-c", script, "usher-demo-guard",
                Long.toString(ProcessHandle.current().pid()), dir.toString()));
        command.addAll(wrap(stopCommand("immediate")));
        return new ProcessBuilder(command).directory(new File("/"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static boolean userExists(String name) {
        try {
            FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(name);
            return true;
        } catch (UserPrincipalNotFoundException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    private static String tail(String s) {
        return s.length() <= 3000 ? s : s.substring(s.length() - 3000);
    }
}

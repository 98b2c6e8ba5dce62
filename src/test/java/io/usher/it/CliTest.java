package io.usher.it;

import io.usher.testing.LoopbackPorts;
import io.usher.testing.PostgresCluster;
import io.usher.testing.TestRoles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The usher command (io.usher.cli.Main) run as its own JVM: flags, config errors, start and SIGTERM. */
class CliTest {
    private Path dir;
    private final List<Process> started = new ArrayList<>();

    /** Exit code and output of a finished usher process. */
    private record Run(int exitCode, String stdout, String stderr) {
        @Override
        public String toString() {
            return "exit " + exitCode + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr;
        }
    }

    @BeforeEach
    void makeDir() throws IOException {
        dir = Files.createTempDirectory("usher-cli-");
    }

    @AfterEach
    void cleanUp() throws IOException {
        for (Process p : started) {
            p.destroyForcibly();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }

    private Process start(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.usher.cli.Main"));
        cmd.addAll(List.of(args));
        int n = started.size();
        Process p = new ProcessBuilder(cmd).directory(dir.toFile())
                .redirectOutput(dir.resolve("stdout-" + n + ".txt").toFile())
                .redirectError(dir.resolve("stderr-" + n + ".txt").toFile())
                .start();
        started.add(p);
        return p;
    }

    private Run finish(Process p, Duration timeout) throws Exception {
        boolean done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(done).as("usher exited within " + timeout).isTrue();
        int n = started.indexOf(p);
        return new Run(p.exitValue(),
                Files.readString(dir.resolve("stdout-" + n + ".txt"), StandardCharsets.UTF_8),
                Files.readString(dir.resolve("stderr-" + n + ".txt"), StandardCharsets.UTF_8));
    }

    private Run run(String... args) throws Exception {
        return finish(start(args), Duration.ofSeconds(60));
    }

    // --version prints "Usher ..." and exits 0
    @Test
    void versionPrintsUsherAndExitsZero() throws Exception {
        Run r = run("--version");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).as(r.toString()).contains("Usher");
    }

    // --help prints the usage and exits 0
    @Test
    void helpExitsZero() throws Exception {
        Run r = run("--help");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).as(r.toString()).containsIgnoringCase("usage");
    }

    // -d (daemonize) is refused with a message and a non-zero exit
    @Test
    void daemonFlagIsRefused() throws Exception {
        Run r = run("-d", "x.ini");
        assertThat(r.exitCode()).as(r.toString()).isNotZero();
        assertThat(r.stderr()).as(r.toString()).contains("-d");
    }

    // --threads takes a positive number or auto; anything else is refused before the config is read
    @Test
    void threadsMustBeAPositiveNumberOrAuto() throws Exception {
        for (String bad : new String[] {"0", "-2", "many"}) {
            Run r = run("--threads", bad, "x.ini");
            assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
            assertThat(r.stderr()).as(r.toString()).contains("--threads").contains(bad);
        }
    }

    // an unknown key in [pgbouncer] fails the start, naming the file and the line
    @Test
    void unknownKeyFailsWithFileAndLine() throws Exception {
        Path ini = dir.resolve("bad-key.ini");
        Files.writeString(ini, String.join("\n",
                "[databases]",                                   // 1
                "appdb = host=127.0.0.1 port=5432 dbname=appdb", // 2
                "",                                              // 3
                "[pgbouncer]",                                   // 4
                "listen_addr = 127.0.0.1",                       // 5
                "listen_port = " + LoopbackPorts.pickFree(),     // 6
                "no_such_setting = 1",                           // 7
                "auth_type = trust",                             // 8
                ""));
        Run r = run(ini.toString());
        assertThat(r.exitCode()).as(r.toString()).isNotZero();
        assertThat(r.stderr()).as(r.toString()).contains("bad-key.ini").contains(":7:").contains("no_such_setting");
    }

    // a config file that does not exist fails the start with a message naming it
    @Test
    void missingConfigFileFails() throws Exception {
        Run r = run(dir.resolve("nowhere.ini").toString());
        assertThat(r.exitCode()).as(r.toString()).isNotZero();
        assertThat(r.stderr()).as(r.toString()).contains("nowhere.ini");
    }

    /** A running usher process with its client URL and login properties. */
    private record Serving(Process process, String url, Properties props) {
        Connection connect() throws java.sql.SQLException {
            return DriverManager.getConnection(url, props);
        }
    }

    /** Starts usher on a fresh config (appdb on the shared cluster, md5 auth) and waits until it serves. */
    private Serving startServing(String poolMode) throws Exception {
        PostgresCluster pg = PostgresCluster.shared();
        int port = LoopbackPorts.pickFree();
        Path userlist = dir.resolve("userlist.txt");
        Files.writeString(userlist, "\"" + MD5 + "\" \"" + pg.storedSecret(MD5) + "\"\n");
        Path ini = dir.resolve("pgbouncer.ini");
        Files.writeString(ini, String.join("\n",
                "[databases]",
                "appdb = host=127.0.0.1 port=" + pg.port() + " dbname=appdb",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                "listen_port = " + port,
                "unix_socket_dir =",
                "auth_type = md5",
                "auth_file = " + userlist,
                "pool_mode = " + poolMode,
                "ignore_startup_parameters = extra_float_digits",
                "pidfile = " + dir.resolve("usher.pid"),
                "logfile = " + dir.resolve("usher.log"),
                ""));
        Process usher = start(ini.toString());
        Properties props = new Properties();
        props.setProperty("user", MD5);
        props.setProperty("password", TestRoles.password(MD5));
        props.setProperty("sslmode", "disable");
        props.setProperty("connectTimeout", "5");
        props.setProperty("socketTimeout", "30");
        Serving serving = new Serving(usher, "jdbc:postgresql://127.0.0.1:" + port + "/" + APPDB, props);
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                .failFast("usher exited before listening", () -> !usher.isAlive())
                .until(() -> {
                    try (Connection c = serving.connect()) {
                        return true;
                    }
                });
        return serving;
    }

    private void signal(Process p, String name) throws Exception {
        new ProcessBuilder("kill", "-" + name, String.valueOf(p.pid())).start().waitFor();
    }

    private void awaitLog(String text) {
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(dir.resolve("usher.log")).contains(text));
    }

    // a valid config starts and serves queries; SIGTERM stops it with exit code 0
    @Test
    void validConfigServesAndSigtermStopsWithExitZero() throws Exception {
        Serving serving = startServing("transaction");
        Process usher = serving.process();
        String url = serving.url();
        Properties props = serving.props();
        try (Connection c = DriverManager.getConnection(url, props)) {
            assertThat(one(c, "SELECT current_user || '@' || current_database()")).isEqualTo(MD5 + "@" + APPDB);
        }
        // pidfile holds the process id while running; logfile gets the log lines too
        assertThat(Files.readString(dir.resolve("usher.pid")).trim()).isEqualTo(String.valueOf(usher.pid()));
        // SIGUSR1 pauses and SIGUSR2 resumes, as in PgBouncer; SIGHUP reloads
        // one at a time: the JVM handles each signal on its own thread, so two sent together may be handled out of order
        Map<String, String> logged = new java.util.LinkedHashMap<>();
        logged.put("USR1", "got SIGUSR1, pausing");
        logged.put("USR2", "got SIGUSR2, resuming");
        logged.put("HUP", "configuration reloaded");
        for (Map.Entry<String, String> e : logged.entrySet()) {
            signal(usher, e.getKey());
            awaitLog(e.getValue());
        }
        try (Connection c = DriverManager.getConnection(url, props)) {
            assertThat(one(c, "SELECT 'resumed'")).isEqualTo("resumed");
        }
        usher.destroy(); // SIGTERM
        Run r = finish(usher, Duration.ofSeconds(30));
        System.out.println("usher after SIGTERM: " + r);
        assertThat(r.stderr()).as(r.toString()).contains("listening on");
        assertThat(r.exitCode()).as("exit code after SIGTERM\n" + r).isZero();
        assertThat(Files.readString(dir.resolve("usher.log"))).contains("listening on").contains("[" + usher.pid() + "]");
        assertThat(dir.resolve("usher.pid")).doesNotExist();
    }

    // SIGTERM (PgBouncer 1.23+): stop listening at once, keep serving connected clients, exit 0 when the last leaves
    @Test
    void sigtermWaitsForClientsToLeave() throws Exception {
        Serving serving = startServing("transaction");
        try (Connection c = serving.connect()) {
            assertThat(one(c, "SELECT 'before'")).isEqualTo("before");
            serving.process().destroy(); // SIGTERM
            awaitLog("waiting for clients to disconnect");
            assertThatThrownBy(serving::connect).as("a new connection after SIGTERM").isInstanceOf(java.sql.SQLException.class);
            for (int i = 0; i < 20; i++) {
                assertThat(one(c, "SELECT " + i)).isEqualTo(String.valueOf(i));
            }
            Thread.sleep(300); // the janitor looks every 100 ms: a connected client must keep usher up
            assertThat(serving.process().isAlive()).as("usher waits while a client is connected").isTrue();
        }
        Run r = finish(serving.process(), Duration.ofSeconds(15));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stderr()).contains("client connections dropped, exiting");
    }

    // SIGINT: running transactions finish; a client asking for a server again is told "pooler is shutting down"
    @Test
    void sigintWaitsForServersToBeReleased() throws Exception {
        Serving serving = startServing("transaction");
        try (Connection inTx = serving.connect(); Connection idle = serving.connect()) {
            assertThat(one(idle, "SELECT 'idle'")).isEqualTo("idle");
            inTx.setAutoCommit(false);
            assertThat(one(inTx, "SELECT 'in transaction'")).isEqualTo("in transaction");
            signal(serving.process(), "INT");
            awaitLog("waiting for servers to be released");
            assertThatThrownBy(() -> one(idle, "SELECT 'again'")).hasMessageContaining("pooler is shutting down");
            assertThat(serving.process().isAlive()).as("usher waits for the open transaction").isTrue();
            assertThat(one(inTx, "SELECT 'still in it'")).isEqualTo("still in it");
            inTx.commit();
            Run r = finish(serving.process(), Duration.ofSeconds(15));
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(r.stderr()).contains("server connections released, exiting");
        }
    }

    // a second SIGTERM while waiting makes the shutdown immediate
    @Test
    void secondSigtermIsImmediate() throws Exception {
        Serving serving = startServing("session");
        try (Connection c = serving.connect()) {
            assertThat(one(c, "SELECT 1")).isEqualTo("1");
            serving.process().destroy();
            awaitLog("waiting for clients to disconnect");
            serving.process().destroy();
            Run r = finish(serving.process(), Duration.ofSeconds(15));
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(r.stderr()).contains("shutting down immediately");
            assertThatThrownBy(() -> one(c, "SELECT 2")).isInstanceOf(java.sql.SQLException.class);
        }
    }

    /** A config with one database on an unused port (nothing connects to it) and the given auth_type and lines. */
    private Path minimalIni(String name, String authType, String... extra) throws IOException {
        Path ini = dir.resolve(name);
        List<String> lines = new ArrayList<>(List.of(
                "[databases]", "appdb = host=127.0.0.1 port=1 dbname=appdb", "[pgbouncer]",
                "listen_addr = 127.0.0.1", "listen_port = " + LoopbackPorts.pickFree(), "unix_socket_dir =",
                "auth_type = " + authType, "auth_file = " + dir.resolve("ul.txt")));
        lines.addAll(List.of(extra));
        lines.add("");
        Files.writeString(ini, String.join("\n", lines));
        Files.writeString(dir.resolve("ul.txt"), "\"a\" \"b\"\n");
        return ini;
    }

    // -q: nothing on stderr, the log goes to logfile only; -v: debug lines appear
    @Test
    void quietAndVerboseFlags() throws Exception {
        Path ini = minimalIni("q.ini", "trust", "logfile = " + dir.resolve("q.log"));
        Process quiet = start("-q", ini.toString());
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(dir.resolve("q.log"))
                && Files.readString(dir.resolve("q.log")).contains("process up"));
        quiet.destroy();
        Run r = finish(quiet, Duration.ofSeconds(30));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stderr()).as(r.toString()).doesNotContain("LOG");
    }

    // started with SIGHUP ignored (nohup), the JVM cannot take it back: Usher says so instead of reloading silently never
    @Test
    void aSighupIgnoredAtStartIsReported() throws Exception {
        Path ini = minimalIni("hup.ini", "trust");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder("sh", "-c", "trap '' HUP; exec \"$0\" -cp \"$1\" io.usher.cli.Main \"$2\"",
                java, System.getProperty("java.class.path"), ini.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("hup.out").toFile()).start();
        try {
            await().atMost(Duration.ofSeconds(30)).failFast(() -> !p.isAlive())
                    .until(() -> Files.readString(dir.resolve("hup.out")).contains("process up"));
            assertThat(Files.readString(dir.resolve("hup.out")))
                    .contains("SIGHUP was ignored when Usher started (nohup?)").doesNotContain("SIGTERM was ignored");
        } finally {
            p.destroy();
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
    }

    // auth types Usher does not have yet are refused at startup with a clear message
    @Test
    void unsupportedAuthTypeIsRefusedAtStartup() throws Exception {
        Path ini = minimalIni("hba.ini", "ldap");
        Files.writeString(dir.resolve("hba.conf"), "host all all 127.0.0.1/32 md5\n");
        Run r = run(ini.toString());
        assertThat(r.exitCode()).as(r.toString()).isNotZero();
        assertThat(r.stderr()).as(r.toString()).contains("auth_type = ldap is not supported yet");
    }

    // usher passwd reads the password from standard input when it is not a terminal
    @Test
    void passwdPrintsAUserlistLine() throws Exception {
        Process p = start("passwd", "--md5", "dave");
        try (java.io.OutputStream in = p.getOutputStream()) {
            in.write("dave_pw\n".getBytes(StandardCharsets.UTF_8));
        }
        Run r = finish(p, Duration.ofSeconds(60));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout().trim()).isEqualTo("\"dave\" \"" + io.usher.auth.Md5Password.encrypt("dave", "dave_pw") + "\"");
    }
}

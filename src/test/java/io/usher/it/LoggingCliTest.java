package io.usher.it;

import io.usher.testing.LoopbackPorts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Logging as its own JVM: --log-format json / USHER_LOG_FORMAT, verbose applied again on SIGHUP, and
 * syslog (to a UDP port of the test's) switched on and off by RELOAD.
 */
class LoggingCliTest {
    private Path dir;
    private final List<Process> started = new ArrayList<>();

    @BeforeEach
    void makeDir() throws IOException {
        dir = Files.createTempDirectory("usher-logging-");
    }

    @AfterEach
    void cleanUp() throws IOException {
        started.forEach(Process::destroyForcibly);
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }

    private Process start(Map<String, String> env, List<String> jvm, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.usher.cli.Main"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
                .redirectOutput(dir.resolve("stdout.txt").toFile()).redirectError(dir.resolve("stderr.txt").toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("USHER_") || k.startsWith("DB_") || k.startsWith("DATABASE_URL"));
        pb.environment().putAll(env);
        Process p = pb.start();
        started.add(p);
        return p;
    }

    private String stderr() throws IOException {
        return Files.readString(dir.resolve("stderr.txt"), StandardCharsets.UTF_8);
    }

    private Path writeConfig(int port, int verbose, boolean syslog) throws IOException {
        Path ini = dir.resolve("pgbouncer.ini");
        Files.writeString(dir.resolve("ul.txt"), "\"a\" \"b\"\n");
        Files.writeString(ini, String.join("\n",
                "[databases]", "appdb = host=127.0.0.1 port=1 dbname=appdb", "[pgbouncer]",
                "listen_addr = 127.0.0.1", "listen_port = " + port, "unix_socket_dir =",
                "auth_type = trust", "auth_file = " + dir.resolve("ul.txt"),
                "logfile = " + dir.resolve("usher.log"), "verbose = " + verbose,
                "syslog = " + (syslog ? 1 : 0), "syslog_ident = usher-test", "syslog_facility = local3", ""));
        return ini;
    }

    /** Every line parses as a JSON object with the four fields every line has. */
    private static List<Map<String, Object>> jsonLines(String text) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            assertThat(line).as("a JSON line").startsWith("{").endsWith("}");
            Map<String, Object> m = new Yaml().load(line);
            assertThat(m).as(line).containsKeys("time", "level", "pid", "message");
            out.add(m);
        }
        return out;
    }

    // --log-format json on stderr and in logfile; SIGHUP applies verbose; syslog follows RELOAD
    @Test
    void jsonLinesVerboseOnReloadAndSyslog() throws Exception {
        int port = LoopbackPorts.pickFree();
        Path ini = writeConfig(port, 0, true);
        try (DatagramSocket syslog = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            syslog.setSoTimeout(10_000);
            Process usher = start(Map.of("USHER_THREADS", "1"), List.of("-Dusher.syslog.target=udp://127.0.0.1:" + syslog.getLocalPort()),
                    "--log-format", "json", ini.toString());
            await().atMost(Duration.ofSeconds(30)).failFast(() -> !usher.isAlive())
                    .until(() -> stderr().contains("process up"));
            assertThat(stderr()).as("USHER_THREADS=1 is applied").contains(", 1 event-loop threads");
            // a client whose server cannot be reached: client and server lines
            Properties props = new Properties();
            props.setProperty("user", "a");
            props.setProperty("password", "b");
            props.setProperty("sslmode", "disable");
            props.setProperty("connectTimeout", "5");
            try {
                DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/appdb", props).close();
            } catch (java.sql.SQLException expected) {
                // the server at port 1 refuses
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> jsonLines(stderr()).stream()
                    .anyMatch(m -> "client".equals(m.get("side")) && "appdb".equals(m.get("database"))
                            && "a".equals(m.get("user")) && String.valueOf(m.get("client_addr")).startsWith("127.0.0.1:")));
            assertThat(jsonLines(stderr())).anyMatch(m -> "server".equals(m.get("side")) && "appdb".equals(m.get("database")));
            assertThat(jsonLines(stderr())).allMatch(m -> m.get("pid").equals((int) usher.pid()))
                    .noneMatch(m -> "DEBUG".equals(m.get("level")));

            // syslog: the lines so far went to the UDP port too, in syslog(3)'s form; local3 + info = <158>
            DatagramPacket p = new DatagramPacket(new byte[9000], 9000);
            String got;
            do {
                syslog.receive(p);
                got = new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8);
            } while (!got.contains("process up"));
            assertThat(got).startsWith("<158>").contains(" usher-test[" + usher.pid() + "]: LOG process up");

            // RELOAD with verbose = 1 and syslog off
            writeConfig(port, 1, false);
            new ProcessBuilder("kill", "-HUP", String.valueOf(usher.pid())).start().waitFor();
            await().atMost(Duration.ofSeconds(10)).until(() -> jsonLines(stderr()).stream()
                    .anyMatch(m -> "DEBUG".equals(m.get("level")) && "logging: verbose = 1".equals(m.get("message"))));
            await().atMost(Duration.ofSeconds(10)).until(() -> stderr().contains("configuration reloaded"));
            // drain what syslog got until the reload, then nothing more arrives
            syslog.setSoTimeout(300);
            try {
                while (true) {
                    syslog.receive(p);
                }
            } catch (java.net.SocketTimeoutException drained) {
                // nothing more
            }
            new ProcessBuilder("kill", "-USR1", String.valueOf(usher.pid())).start().waitFor();
            await().atMost(Duration.ofSeconds(10)).until(() -> stderr().contains("got SIGUSR1"));
            syslog.setSoTimeout(1000);
            boolean more;
            try {
                syslog.receive(p);
                more = true;
            } catch (java.net.SocketTimeoutException none) {
                more = false;
            }
            assertThat(more).as("a line on syslog after syslog = 0 was reloaded").isFalse();

            usher.destroy();
            assertThat(usher.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(usher.exitValue()).isZero();
            jsonLines(stderr());
            // the log file has the same JSON lines
            assertThat(jsonLines(Files.readString(dir.resolve("usher.log")))).anyMatch(m -> "client".equals(m.get("side")));
        }
    }

    // USHER_LOG_FORMAT=json chooses it too; an unknown format is refused
    @Test
    void environmentVariableAndBadFormat() throws Exception {
        int port = LoopbackPorts.pickFree();
        Path ini = writeConfig(port, 0, false);
        Process usher = start(Map.of("USHER_LOG_FORMAT", "json"), List.of(), ini.toString());
        await().atMost(Duration.ofSeconds(30)).failFast(() -> !usher.isAlive())
                .until(() -> stderr().contains("process up"));
        usher.destroy();
        assertThat(usher.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(jsonLines(stderr())).anyMatch(m -> String.valueOf(m.get("message")).startsWith("process up"));

        Process bad = start(Map.of(), List.of(), "--log-format", "yaml", ini.toString());
        assertThat(bad.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(bad.exitValue()).isNotZero();
        assertThat(stderr()).contains("unknown log format \"yaml\"");
    }
}

package io.usher.it;

import io.usher.testing.LoopbackPorts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static io.usher.it.Sql.one;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** {@code usher demo} as a newcomer runs it: the printed URLs work; SIGTERM removes PostgreSQL and its data. */
class DemoCliTest {
    @TempDir
    Path dir;

    private static final Pattern APP_URL = Pattern.compile("postgresql://\\S+/demo");
    private static final Pattern ADMIN_URL = Pattern.compile("postgresql://\\S+/pgbouncer");
    private static final Pattern DATA_DIR = Pattern.compile("data in (\\S+)");

    /** pgjdbc takes no user:password@ in its URL: the printed URL's parts go in as properties. */
    private static Connection connect(String printed, boolean simple) throws Exception {
        URI uri = URI.create(printed);
        String[] userInfo = uri.getUserInfo().split(":", 2);
        Properties p = new Properties();
        p.setProperty("user", userInfo[0]);
        p.setProperty("password", userInfo[1]);
        p.setProperty("connectTimeout", "10");
        if (simple) {
            p.setProperty("preferQueryMode", "simple");
        }
        return DriverManager.getConnection("jdbc:postgresql://" + uri.getHost() + ":" + uri.getPort() + uri.getPath(), p);
    }

    /** Processes whose command line mentions {@code text}, from /proc. */
    private static List<String> processesMentioning(String text) throws IOException {
        List<String> found = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path proc : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    String cmdline = new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8)
                            .replace('\0', ' ');
                    if (cmdline.contains(text)) {
                        found.add(proc.getFileName() + ": " + cmdline);
                    }
                } catch (IOException gone) {
                    // the process ended meanwhile
                }
            }
        }
        return found;
    }

    @Test
    void demoServesThePrintedUrlsAndSigtermRemovesEverything() throws Exception {
        int port = LoopbackPorts.pickFree();
        try (UsherProcess demo = UsherProcess.start(dir, Map.of(), "demo", "--port", String.valueOf(port))) {
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                    .failFast("demo exited", () -> !demo.process.isAlive())
                    .until(() -> demo.stdoutSoFar().contains("Ctrl-C stops"));
            String out = demo.stdoutSoFar();
            Matcher app = APP_URL.matcher(out);
            Matcher admin = ADMIN_URL.matcher(out);
            Matcher data = DATA_DIR.matcher(out);
            assertThat(app.find() && admin.find() && data.find()).as(out).isTrue();
            Path dataDir = Path.of(data.group(1));
            assertThat(dataDir).isDirectory();
            assertThat(processesMentioning(dataDir.toString())).as("postgres runs").isNotEmpty();

            try (Connection c = connect(app.group(), false)) {
                assertThat(one(c, "SELECT 'hello from ' || current_user")).isEqualTo("hello from demo");
                try (Statement s = c.createStatement()) {
                    s.execute("CREATE TABLE t (x int)");
                    s.execute("INSERT INTO t SELECT generate_series(1, 100)");
                }
                assertThat(one(c, "SELECT sum(x) FROM t")).isEqualTo("5050");
            }
            try (Connection c = connect(admin.group(), true); Statement s = c.createStatement();
                    ResultSet pools = s.executeQuery("SHOW POOLS")) {
                assertThat(pools.next()).isTrue();
                assertThat(pools.getString("database")).isEqualTo("demo");
            }

            demo.process.destroy(); // SIGTERM
            UsherProcess.Run r = demo.finish(Duration.ofSeconds(60));
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(r.stdout()).contains("removed");
            assertThat(dataDir).doesNotExist();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                    assertThat(processesMentioning(dataDir.toString())).as("postgres and the watcher are gone").isEmpty());
        }
    }
}

package io.usher.it;

import io.usher.testing.LoopbackPorts;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.PASSWORDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Debian's prometheus-pgbouncer-exporter, unchanged, pointed at Usher's console: it must scrape
 * without errors and report the load it sees. .ci/run installs the package.
 */
class ExporterTest {
    private final PostgresCluster pg = PostgresCluster.shared();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static double value(String metrics, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(metrics);
        assertThat(m.find()).as(series + " in\n" + metrics).isTrue();
        return Double.parseDouble(m.group(1));
    }

    // the exporter logs in as a stats user, reads SHOW LISTS/STATS/POOLS/DATABASES, and its figures move with load
    @Test
    void debianExporterScrapesUsher() throws Exception {
        Path exporter = ExternalTools.find("prometheus-pgbouncer-exporter").orElse(null);
        assumeTrue(exporter != null, "prometheus-pgbouncer-exporter not installed (Debian package of that name)");
        try (UsherInstance u = UsherInstance.builder(pg).set("stats_users", MD5).set("pool_mode", "transaction").start()) {
            try (Connection c = u.connect(MD5, "appdb")) {
                for (int i = 0; i < 30; i++) {
                    one(c, "SELECT " + i);
                }
            }
            int httpPort = LoopbackPorts.pickFree();
            Path log = Files.createTempFile("usher-exporter-", ".log");
            ProcessBuilder pb = new ProcessBuilder(exporter.toString(), "--host", "127.0.0.1",
                    "--port", String.valueOf(httpPort), "--pgbouncer-host", "127.0.0.1",
                    "--pgbouncer-port", String.valueOf(u.port()), "--pgbouncer-user", MD5)
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().keySet().removeIf(k -> k.startsWith("PG"));
            pb.environment().put("PGPASSWORD", PASSWORDS.get(MD5));
            Process p = pb.start();
            try {
                String body = null;
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (body == null && System.nanoTime() < deadline && p.isAlive()) {
                    try {
                        HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                                URI.create("http://127.0.0.1:" + httpPort + "/metrics")).build(),
                                HttpResponse.BodyHandlers.ofString());
                        assertThat(r.statusCode()).as(r.body() + "\nexporter log:\n" + Files.readString(log)).isEqualTo(200);
                        body = r.body();
                    } catch (java.net.ConnectException notYet) {
                        Thread.sleep(200);
                    }
                }
                assertThat(body).as("exporter never served /metrics; its log:\n" + Files.readString(log)).isNotNull();
                assertThat(value(body, "pgbouncer_requests_total{database=\"appdb\"}")).isGreaterThanOrEqualTo(30);
                assertThat(value(body, "pgbouncer_received_bytes_total{database=\"appdb\"}")).isPositive();
                assertThat(value(body, "pgbouncer_sent_bytes_total{database=\"appdb\"}")).isPositive();
                assertThat(value(body, "pgbouncer_query_microseconds_total{database=\"appdb\"}")).isPositive();
                assertThat(value(body, "pgbouncer_pool_size{database=\"appdb\"}")).isPositive();
                assertThat(value(body, "pgbouncer_databases")).isPositive();
                // the exporter's own console session is an active client of the pgbouncer pool
                assertThat(value(body, "pgbouncer_used_clients")).isGreaterThanOrEqualTo(1);
                assertThat(Files.readString(log)).doesNotContain("Traceback");
            } finally {
                p.destroy();
                p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
                p.destroyForcibly();
                Files.deleteIfExists(log);
            }
        }
    }
}

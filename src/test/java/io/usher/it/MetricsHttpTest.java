package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** /metrics, /health and /ready over HTTP. */
class MetricsHttpTest {
    private final PostgresCluster pg = PostgresCluster.shared();
    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static double value(String metrics, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(metrics);
        assertThat(m.find()).as(series + " in\n" + metrics).isTrue();
        return Double.parseDouble(m.group(1));
    }

    // /metrics is Prometheus text with pgbouncer_exporter's names, and moves with load; /health and /ready answer
    @Test
    void metricsMoveWithLoadAndProbesAnswer() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).start()) {
            int port = u.usher().startHttp(new InetSocketAddress("127.0.0.1", 0));
            assertThat(get(port, "/health").statusCode()).isEqualTo(200);
            assertThat(get(port, "/ready").statusCode()).isEqualTo(200);
            try (Connection c = u.connect(MD5, "appdb")) {
                one(c, "SELECT 1");
                HttpResponse<String> first = get(port, "/metrics");
                assertThat(first.statusCode()).isEqualTo(200);
                assertThat(first.headers().firstValue("content-type").orElse("")).startsWith("text/plain");
                double before = value(first.body(), "pgbouncer_stats_queries_pooled_total{database=\"appdb\"}");
                for (int i = 0; i < 25; i++) {
                    one(c, "SELECT " + i);
                }
                String after = get(port, "/metrics").body();
                assertThat(value(after, "pgbouncer_stats_queries_pooled_total{database=\"appdb\"}")).isEqualTo(before + 25);
                assertThat(value(after, "pgbouncer_pools_client_active_connections{database=\"appdb\",user=\"u_md5\"}")).isEqualTo(1);
                assertThat(after).contains("# TYPE pgbouncer_stats_sent_bytes_total counter").contains("pgbouncer_up 1.0");
            }
            assertThat(get(port, "/nothing").statusCode()).isEqualTo(404);
        }
    }

    // /metrics parses with the Prometheus project's own text-format parser (python3-prometheus-client)
    @Test
    void metricsPassThePrometheusParser() throws Exception {
        java.nio.file.Path python = ExternalTools.pythonWith("prometheus_client.parser").orElse(null);
        assumeTrue(python != null, "python3 with prometheus_client not installed (Debian: python3-prometheus-client)");
        try (UsherInstance u = UsherInstance.builder(pg).start()) {
            int port = u.usher().startHttp(new InetSocketAddress("127.0.0.1", 0));
            try (Connection c = u.connect(MD5, "appdb")) {
                one(c, "SELECT 1");
                String body = get(port, "/metrics").body();
                String script = String.join("\n",
                        "import sys",
                        "from prometheus_client.parser import text_string_to_metric_families",
                        "for f in text_string_to_metric_families(sys.stdin.read()):",
                        "    for s in f.samples:",
                        "        print(s.name, sorted(s.labels.items()), s.value)");
                ExternalTools.Result r = ExternalTools.run(java.util.List.of(python.toString(), "-c", script), body,
                        java.util.Map.of(), 60);
                assertThat(r.exitCode()).as(r.output()).isZero();
                assertThat(r.output())
                        .contains("pgbouncer_stats_queries_pooled_total [('database', 'appdb')]")
                        .contains("pgbouncer_pools_client_active_connections [('database', 'appdb'), ('user', 'u_md5')] 1.0")
                        .containsPattern("pgbouncer_databases_current_connections \\[[^\\]]*\\('name', 'appdb'\\)[^\\]]*\\] 1.0")
                        .contains("pgbouncer_up [] 1.0");
            }
        }
    }

    // /ready turns 503 while server logins fail
    @Test
    void readyFailsWhileServerLoginsFail() throws Exception {
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust")
                .userlist(MD5, io.usher.auth.Md5Password.encrypt(MD5, "wrong")).start()) {
            int port = u.usher().startHttp(new InetSocketAddress("127.0.0.1", 0));
            try (Connection c = u.connect(MD5, "", "appdb", new java.util.Properties())) {
                throw new AssertionError("login should fail");
            } catch (java.sql.SQLException expected) {
                // the server refused Usher's login
            }
            HttpResponse<String> r = get(port, "/ready");
            assertThat(r.statusCode()).isEqualTo(503);
            assertThat(r.body()).contains("server logins are failing");
        }
    }
}

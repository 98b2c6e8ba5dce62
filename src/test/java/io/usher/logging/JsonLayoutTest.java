package io.usher.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import io.usher.pool.PoolKey;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import java.net.InetSocketAddress;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** --log-format json: one object per line, with PgBouncer's level names and the connection's fields. */
class JsonLayoutTest {
    private final LoggerContext ctx = new LoggerContext();
    private final Logger logger = ctx.getLogger("io.usher.test");
    private final JsonLayout layout = new JsonLayout();

    private Map<String, Object> layout(Level level, String template, Object... args) {
        LoggingEvent e = new LoggingEvent("x", logger, level, template, null, args);
        String line = layout.doLayout(e);
        assertThat(line).endsWith("\n");
        assertThat(line.substring(0, line.length() - 1)).doesNotContain("\n");
        return new Yaml().load(line);
    }

    @Test
    void clientLineCarriesDatabaseUserAndAddress() {
        Map<String, Object> m = layout(Level.INFO, "C: {}/{}@{} login successful", "appdb", "app",
                new InetSocketAddress("127.0.0.1", 40000));
        assertThat(m).containsEntry("level", "LOG").containsEntry("side", "client").containsEntry("database", "appdb")
                .containsEntry("user", "app").containsEntry("client_addr", "127.0.0.1:40000")
                .containsEntry("message", "C: appdb/app@/127.0.0.1:40000 login successful")
                .containsEntry("pid", (int) ProcessHandle.current().pid());
        assertThat((String) m.get("time")).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
    }

    @Test
    void serverLineCarriesPoolAndServer() {
        Map<String, Object> m = layout(Level.WARN, "S: {} {}: login failed: {}", new PoolKey("appdb", "app"),
                "pid=42@db1:5432/appdb", "password authentication failed");
        assertThat(m).containsEntry("level", "WARNING").containsEntry("side", "server").containsEntry("database", "appdb")
                .containsEntry("user", "app").containsEntry("server", "pid=42@db1:5432/appdb");
    }

    @Test
    void otherLinesHaveOnlyTheBasicFields() {
        Map<String, Object> m = layout(Level.ERROR, "listening on {}", "127.0.0.1:6432");
        assertThat(m.keySet()).containsExactly("time", "level", "pid", "message");
        assertThat(m).containsEntry("level", "ERROR");
        assertThat(layout(Level.DEBUG, "x")).containsEntry("level", "DEBUG");
        assertThat(layout(Level.TRACE, "x")).containsEntry("level", "NOISE");
    }

    @Test
    void specialCharactersAreEscaped() {
        String nasty = "quote \" backslash \\ newline \n tab \t bell \u0007 sep \u2028 é 🐘";
        Map<String, Object> m = layout(Level.INFO, "{}", nasty);
        assertThat(m).containsEntry("message", nasty);
    }

    @Test
    void exceptionsBecomeOneField() {
        LoggingEvent e = new LoggingEvent("x", logger, Level.WARN, "C: {}: internal error",
                new IllegalStateException("boom"), new Object[] {new InetSocketAddress("127.0.0.1", 1)});
        String line = layout.doLayout(e);
        assertThat(line.indexOf('\n')).isEqualTo(line.length() - 1);
        Map<String, Object> m = new Yaml().load(line);
        assertThat((String) m.get("exception")).contains("IllegalStateException: boom").contains("JsonLayoutTest");
        assertThat(m).containsEntry("side", "client").containsEntry("client_addr", "127.0.0.1:1");
    }
}

package io.usher.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator.ExecutionStatus;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The default log line is PgBouncer's, and it is what Usher logs when nobody supplies a logback configuration. */
class TextLayoutTest {
    private final LoggerContext ctx = new LoggerContext();
    private final Logger logger = ctx.getLogger("io.usher.test");

    @Test
    void lineIsPgBouncers() {
        LoggingEvent e = new LoggingEvent("x", logger, Level.WARN, "C: {} closing because: {}", null,
                new Object[] {"appdb/app@127.0.0.1:40000", "client_idle_timeout"});
        e.setTimeStamp(1_767_225_600_123L); // 2026-01-01 00:00:00.123 UTC
        assertThat(new TextLayout().doLayout(e)).isEqualTo("2026-01-01 00:00:00.123 UTC [" + ProcessHandle.current().pid()
                + "] WARNING C: appdb/app@127.0.0.1:40000 closing because: client_idle_timeout" + System.lineSeparator());
    }

    @Test
    void eachLineHasItsOwnSecondAndMillisecond() {
        TextLayout layout = new TextLayout(); // one layout: the formatted second is reused while it lasts
        long[] stamps = {1_767_225_599_999L, 1_767_225_600_007L, 1_767_225_600_090L, 1_767_225_600_000L,
            1_767_225_661_500L, 1_767_225_599_001L};
        String[] expected = {"2025-12-31 23:59:59.999", "2026-01-01 00:00:00.007", "2026-01-01 00:00:00.090",
            "2026-01-01 00:00:00.000", "2026-01-01 00:01:01.500", "2025-12-31 23:59:59.001"};
        for (int i = 0; i < stamps.length; i++) {
            LoggingEvent e = new LoggingEvent("x", logger, Level.INFO, "m", null, null);
            e.setTimeStamp(stamps[i]);
            assertThat(layout.doLayout(e)).startsWith(expected[i] + " UTC [");
        }
    }

    @Test
    void exceptionFollowsTheLine() {
        LoggingEvent e = new LoggingEvent("x", logger, Level.ERROR, "unexpected", new IllegalStateException("boom"), null);
        String out = new TextLayout().doLayout(e);
        assertThat(out).matches("(?s)\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} UTC \\[\\d+\\] ERROR unexpected\\R"
                + "java.lang.IllegalStateException: boom\\R\\s+at .*");
    }

    @Test
    void defaultConfigurationWritesTheTextLineToStderr() {
        ExecutionStatus status = new DefaultLogConfigurator(() -> false).configure(ctx);
        assertThat(status).isEqualTo(ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY);
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        ConsoleAppender<ILoggingEvent> stderr = (ConsoleAppender<ILoggingEvent>) root.getAppender(LogSetup.STDERR);
        assertThat(stderr.getTarget()).isEqualTo("System.err");
        assertThat(stderr.isStarted()).isTrue();
        assertThat(((LayoutWrappingEncoder<ILoggingEvent>) stderr.getEncoder()).getLayout()).isInstanceOf(TextLayout.class);
        assertThat(root.getLevel()).isEqualTo(Level.INFO);
        assertThat(ctx.getLogger("io.netty").getLevel()).isEqualTo(Level.WARN);
    }

    @Test
    void aSuppliedConfigurationWins() {
        assertThat(new DefaultLogConfigurator(() -> true).configure(ctx)).isEqualTo(ExecutionStatus.INVOKE_NEXT_IF_ANY);
        assertThat(ctx.getLogger(Logger.ROOT_LOGGER_NAME).getAppender(LogSetup.STDERR)).isNull();
    }
}

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

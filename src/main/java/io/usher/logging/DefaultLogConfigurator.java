package io.usher.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.core.spi.ContextAwareBase;

import java.util.function.BooleanSupplier;

/**
 * Logback's configuration when nobody supplies one (found by logback through
 * {@code META-INF/services}): PgBouncer's text line on stderr, Netty's own chatter at WARN.
 * Done in code because reading a logback.xml loads the JDK's XML parser and logback's configuration
 * model, about 0.3 s of start-up. A {@code logback.xml} or {@code logback-test.xml} on the class path,
 * or {@code -Dlogback.configurationFile}, still takes precedence.
 */
public final class DefaultLogConfigurator extends ContextAwareBase implements Configurator {
    private final BooleanSupplier userConfiguration;

    /** Logback's way of making it (ServiceLoader). */
    public DefaultLogConfigurator() {
        this(() -> System.getProperty("logback.configurationFile") != null
                || DefaultLogConfigurator.class.getClassLoader().getResource("logback-test.xml") != null
                || DefaultLogConfigurator.class.getClassLoader().getResource("logback.xml") != null);
    }

    /** @param userConfiguration whether someone supplied a logback configuration (then logback reads it) */
    DefaultLogConfigurator(BooleanSupplier userConfiguration) {
        this.userConfiguration = userConfiguration;
    }

    @Override
    public ExecutionStatus configure(LoggerContext ctx) {
        if (userConfiguration.getAsBoolean()) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).addAppender(LogSetup.stderr(ctx, LogSetup.Format.TEXT));
        ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).setLevel(Level.INFO);
        ctx.getLogger("io.netty").setLevel(Level.WARN);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }
}

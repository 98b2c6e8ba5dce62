package io.usher.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Captures everything logged while open (the root logger's appenders see it all), with Usher's own
 * loggers ("io.usher" and below) at {@code level}; their level is put back on close.
 */
public final class LogCapture implements AutoCloseable {
    private final Logger logger = (Logger) LoggerFactory.getLogger("io.usher");
    private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    private final Level previous;
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    public LogCapture(Level level) {
        previous = logger.getLevel();
        logger.setLevel(level);
        appender.setContext(logger.getLoggerContext());
        appender.start();
        root.addAppender(appender);
    }

    /** Every line so far, formatted, with the exception's text if there was one. */
    public synchronized List<String> lines() {
        List<String> out = new ArrayList<>();
        for (ILoggingEvent e : new ArrayList<>(appender.list)) {
            String line = e.getLevel() + " " + e.getLoggerName() + " " + e.getFormattedMessage();
            if (e.getThrowableProxy() != null) {
                line += " " + e.getThrowableProxy().getClassName() + ": " + e.getThrowableProxy().getMessage();
            }
            out.add(line);
        }
        return out;
    }

    public String text() {
        return String.join("\n", lines());
    }

    @Override
    public void close() {
        root.detachAppender(appender);
        appender.stop();
        logger.setLevel(previous);
    }
}

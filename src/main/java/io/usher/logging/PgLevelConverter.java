package io.usher.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/** Prints log levels with PgBouncer's names (LOG, WARNING, ERROR, DEBUG, NOISE). */
public final class PgLevelConverter extends ClassicConverter {
    @Override
    public String convert(ILoggingEvent event) {
        return name(event.getLevel());
    }

    /** PgBouncer's name of a logback level. */
    public static String name(Level level) {
        switch (level.toInt()) {
            case Level.ERROR_INT: return "ERROR";
            case Level.WARN_INT: return "WARNING";
            case Level.INFO_INT: return "LOG";
            case Level.DEBUG_INT: return "DEBUG";
            default: return "NOISE";
        }
    }
}

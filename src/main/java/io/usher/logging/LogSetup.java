package io.usher.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.FileAppender;
import org.slf4j.LoggerFactory;

/** Applies PgBouncer's logging settings (logfile, verbose, -q) to logback. */
public final class LogSetup {

    /**
     * @param verbose PgBouncer's verbosity: 0 = LOG, 1 = DEBUG, 2+ = NOISE (trace)
     * @param quiet   no output to stderr (-q)
     * @param logfile path of a log file to append to, or empty
     */
    public static void apply(int verbose, boolean quiet, String logfile) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext)) {
            return;
        }
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger usher = ctx.getLogger("io.usher");
        usher.setLevel(verbose <= 0 ? Level.INFO : verbose == 1 ? Level.DEBUG : Level.TRACE);
        if (logfile != null && !logfile.isEmpty()) {
            PatternLayoutEncoder enc = new PatternLayoutEncoder();
            enc.setContext(ctx);
            enc.setPattern("%d{yyyy-MM-dd HH:mm:ss.SSS z,UTC} [" + ProcessHandle.current().pid() + "] %pgLevel %msg%n");
            enc.start();
            FileAppender<ILoggingEvent> file = new FileAppender<>();
            file.setContext(ctx);
            file.setName("LOGFILE");
            file.setFile(logfile);
            file.setAppend(true);
            file.setEncoder(enc);
            file.start();
            root.addAppender(file);
        }
        if (quiet) {
            root.detachAppender("STDERR");
        }
    }

    private LogSetup() {}
}

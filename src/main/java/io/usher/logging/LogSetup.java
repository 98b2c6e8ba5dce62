package io.usher.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.LayoutBase;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import io.usher.config.Settings;
import org.slf4j.LoggerFactory;

import java.util.Locale;
import java.util.Objects;

/**
 * Applies PgBouncer's logging settings (verbose, logfile, syslog, syslog_ident, syslog_facility) and
 * the command line's (-q, -v, --log-format) to logback, at startup and again on every RELOAD or
 * console SET: a changed {@code verbose} takes effect at once, the log file is reopened (so
 * logrotate's "move, then SIGHUP" works, as with PgBouncer) and syslog is switched on or off.
 */
public final class LogSetup {
    /** The line format: PgBouncer's text line (default) or one JSON object per line. */
    public enum Format {
        TEXT, JSON;

        /** "text" or "json" (any case); null or empty is TEXT. */
        public static Format parse(String s) {
            if (s == null || s.isBlank()) {
                return TEXT;
            }
            switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "text": return TEXT;
                case "json": return JSON;
                default: throw new IllegalArgumentException("unknown log format \"" + s + "\" (expected text or json)");
            }
        }
    }

    static final String STDERR = "STDERR";
    private static final String LOGFILE = "LOGFILE";
    private static final String SYSLOG = "SYSLOG";

    private static int cliVerbose;
    private static boolean quiet;
    private static Format format = Format.TEXT;
    private static String logfile = "";
    private static String syslogKey = "";

    /**
     * At startup: remembers the command line's choices and applies the settings.
     *
     * @param verbose the number of -v flags (the effective level is the larger of this and {@code verbose})
     * @param quiet   no output to stderr (-q)
     * @param format  --log-format / USHER_LOG_FORMAT
     */
    public static synchronized void init(int verbose, boolean quiet, Format format, Settings settings) {
        LogSetup.cliVerbose = verbose;
        LogSetup.quiet = quiet;
        LogSetup.format = Objects.requireNonNull(format);
        LoggerContext ctx = context();
        if (ctx == null) {
            return;
        }
        Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        // DefaultLogConfigurator's appender prints the text line until here; ours replaces it (or none with -q)
        Appender<ILoggingEvent> old = root.getAppender(STDERR);
        if (!quiet) {
            root.addAppender(stderr(ctx, format));
        }
        if (old != null) {
            root.detachAppender(old);
            old.stop();
        }
        apply(settings);
    }

    /**
     * At startup and on RELOAD/SET: verbosity, log file, syslog. Problems (a log file that cannot
     * be opened, an unknown syslog_facility) are logged; logging carries on as well as it can.
     */
    public static synchronized void apply(Settings settings) {
        LoggerContext ctx = context();
        if (ctx == null) {
            return;
        }
        Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger usher = ctx.getLogger("io.usher");
        int verbose = Math.max(cliVerbose, settings.getInt("verbose"));
        usher.setLevel(verbose <= 0 ? Level.INFO : verbose == 1 ? Level.DEBUG : Level.TRACE);
        LoggerFactory.getLogger("io.usher").debug("logging: verbose = {}", verbose);
        applyLogfile(ctx, root, settings.getString("logfile"));
        applySyslog(ctx, root, settings);
    }

    private static void applyLogfile(LoggerContext ctx, Logger root, String path) {
        org.slf4j.Logger log = LoggerFactory.getLogger("io.usher");
        Appender<ILoggingEvent> current = root.getAppender(LOGFILE);
        if (path == null) {
            path = "";
        }
        if (current instanceof FileAppender<ILoggingEvent> file && path.equals(logfile)) {
            try {
                file.openFile(path); // reopen: after logrotate moved the file, a new one is made
            } catch (java.io.IOException e) {
                log.error("logfile {}: cannot reopen: {}", path, e.getMessage());
            }
            return;
        }
        if (!path.isEmpty()) {
            FileAppender<ILoggingEvent> file = new FileAppender<>();
            file.setContext(ctx);
            file.setName(LOGFILE);
            file.setFile(path);
            file.setAppend(true);
            file.setEncoder(encoder(ctx, format));
            file.start();
            if (file.isStarted()) {
                if (current != null) {
                    root.detachAppender(current);
                }
                root.addAppender(file);
            } else {
                log.error("logfile {}: cannot open it for writing", path);
                return;
            }
        } else if (current != null) {
            root.detachAppender(current);
        }
        if (current != null) {
            current.stop();
        }
        logfile = path;
    }

    private static void applySyslog(LoggerContext ctx, Logger root, Settings settings) {
        org.slf4j.Logger log = LoggerFactory.getLogger("io.usher");
        boolean on = settings.getBool("syslog");
        String key = on ? settings.getString("syslog_ident") + "\0" + settings.getString("syslog_facility") : "";
        if (key.equals(syslogKey)) {
            return;
        }
        Appender<ILoggingEvent> current = root.getAppender(SYSLOG);
        if (current != null) {
            root.detachAppender(current);
            current.stop();
        }
        syslogKey = "";
        if (!on) {
            return;
        }
        SyslogAppender syslog;
        try {
            syslog = new SyslogAppender(settings.getString("syslog_ident"), settings.getString("syslog_facility"), null);
        } catch (IllegalArgumentException e) {
            log.error("syslog: {}; not logging to syslog", e.getMessage());
            return;
        }
        syslog.setContext(ctx);
        syslog.setName(SYSLOG);
        syslog.start();
        if (!syslog.isStarted()) {
            log.error("syslog: cannot open the syslog socket; not logging to syslog");
            return;
        }
        root.addAppender(syslog);
        syslogKey = key;
        if (syslog.fellBackToUdp()) {
            log.warn("syslog: there is no /dev/log; sending to {} as {} (facility {}): a syslog daemon must listen there",
                    syslog.describe(), settings.getString("syslog_ident"), settings.getString("syslog_facility"));
        } else {
            log.info("syslog: logging to {} as {} (facility {})", syslog.describe(), settings.getString("syslog_ident"),
                    settings.getString("syslog_facility"));
        }
    }

    /** A started appender named {@link #STDERR} writing lines of the given format to stderr. */
    static ConsoleAppender<ILoggingEvent> stderr(LoggerContext ctx, Format format) {
        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setContext(ctx);
        console.setName(STDERR);
        console.setTarget("System.err");
        console.setEncoder(encoder(ctx, format));
        console.start();
        return console;
    }

    private static Encoder<ILoggingEvent> encoder(LoggerContext ctx, Format format) {
        LayoutBase<ILoggingEvent> layout = format == Format.JSON ? new JsonLayout() : new TextLayout();
        layout.setContext(ctx);
        layout.start();
        LayoutWrappingEncoder<ILoggingEvent> enc = new LayoutWrappingEncoder<>();
        enc.setContext(ctx);
        enc.setLayout(layout);
        enc.start();
        return enc;
    }

    private static LoggerContext context() {
        return LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx ? ctx : null;
    }

    private LogSetup() {}
}

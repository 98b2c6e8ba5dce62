package io.usher.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.LayoutBase;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * PgBouncer's log line: {@code 2026-01-01 12:00:00.000 UTC [1234] LOG message}, then the stack trace
 * of an exception if the event has one. Written out rather than as a logback pattern: the pattern
 * parser is a fifth of Usher's start-up time, and this is all the pattern did.
 */
public final class TextLayout extends LayoutBase<ILoggingEvent> {
    private static final DateTimeFormatter SECOND =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    /**
     * The formatted second of the last line, with the second it is for: with log_connections on,
     * every client logs two lines, and formatting a date each time showed in profiles of connection
     * churn. One immutable pair, so threads logging at once see a consistent one.
     */
    private volatile CachedSecond cachedSecond = new CachedSecond(Long.MIN_VALUE, "");

    private record CachedSecond(long epochSecond, String text) {
    }

    private final String pid = " [" + ProcessHandle.current().pid() + "] ";

    @Override
    public String doLayout(ILoggingEvent event) {
        StringBuilder sb = new StringBuilder(128);
        long millis = event.getTimeStamp();
        long second = Math.floorDiv(millis, 1000L);
        CachedSecond cached = cachedSecond;
        if (cached.epochSecond() != second) {
            cached = new CachedSecond(second, SECOND.format(Instant.ofEpochSecond(second)));
            cachedSecond = cached;
        }
        int milli = (int) Math.floorMod(millis, 1000L);
        sb.append(cached.text()).append('.').append((char) ('0' + milli / 100)).append((char) ('0' + milli / 10 % 10))
                .append((char) ('0' + milli % 10)).append(" UTC");
        sb.append(pid).append(PgLevelConverter.name(event.getLevel())).append(' ')
                .append(event.getFormattedMessage()).append(CoreConstants.LINE_SEPARATOR);
        IThrowableProxy t = event.getThrowableProxy();
        if (t != null) {
            sb.append(ThrowableProxyUtil.asString(t)).append(CoreConstants.LINE_SEPARATOR);
        }
        return sb.toString();
    }
}

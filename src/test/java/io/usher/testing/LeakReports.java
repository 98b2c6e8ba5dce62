package io.usher.testing;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;

import java.util.ArrayList;
import java.util.List;

/**
 * A logback appender (see logback-test.xml) that keeps Netty's "LEAK:" reports, so that
 * {@link NoLeaksExtension} can fail the test class that leaked a buffer.
 */
public final class LeakReports extends AppenderBase<ILoggingEvent> {
    private static final List<String> reports = new ArrayList<>();

    @Override
    protected void append(ILoggingEvent event) {
        String m = event.getFormattedMessage();
        if (m != null && m.contains("LEAK:")) {
            synchronized (reports) {
                reports.add(m);
            }
        }
    }

    /** The reports since the last call. */
    static List<String> drain() {
        synchronized (reports) {
            List<String> r = new ArrayList<>(reports);
            reports.clear();
            return r;
        }
    }
}

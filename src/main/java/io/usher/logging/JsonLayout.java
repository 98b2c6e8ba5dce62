package io.usher.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.LayoutBase;
import io.usher.pool.PoolKey;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * One JSON object per line ({@code --log-format json}, {@code USHER_LOG_FORMAT=json}):
 *
 * <pre>{"time":"2026-01-01T12:00:00.000Z","level":"LOG","pid":1234,"message":"C: appdb/app@/10.0.0.5:40000 login successful",
 *  "side":"client","database":"appdb","user":"app","client_addr":"10.0.0.5:40000"}</pre>
 *
 * <p>{@code time} is UTC with milliseconds, {@code level} PgBouncer's name (LOG, WARNING, ERROR, DEBUG,
 * NOISE), {@code message} the same text as the PgBouncer-style line. Lines about one client
 * ({@code C: db/user@addr ...}) or one server connection ({@code S: db/user ...}) also carry
 * {@code side} ("client" or "server"), {@code database}, {@code user}, {@code client_addr} and
 * {@code server} (as {@code pid=N@host:port/db}) where the line names them. An exception adds
 * {@code exception} (the stack trace as one string).
 */
public final class JsonLayout extends LayoutBase<ILoggingEvent> {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private final long pid = ProcessHandle.current().pid();

    @Override
    public String doLayout(ILoggingEvent event) {
        StringBuilder sb = new StringBuilder(256);
        sb.append("{\"time\":");
        string(sb, TIME.format(Instant.ofEpochMilli(event.getTimeStamp())));
        sb.append(",\"level\":");
        string(sb, PgLevelConverter.name(event.getLevel()));
        sb.append(",\"pid\":").append(pid);
        sb.append(",\"message\":");
        string(sb, event.getFormattedMessage());
        connectionFields(sb, event.getMessage(), event.getArgumentArray());
        IThrowableProxy t = event.getThrowableProxy();
        if (t != null) {
            sb.append(",\"exception\":");
            string(sb, ThrowableProxyUtil.asString(t));
        }
        sb.append("}\n");
        return sb.toString();
    }

    /** Fields taken from the arguments of Usher's "C: ..." and "S: ..." lines. */
    static void connectionFields(StringBuilder sb, String template, Object[] args) {
        if (template == null || args == null || args.length == 0) {
            return;
        }
        if (template.startsWith("C: {}/{}@{}") && args.length >= 3) {
            field(sb, "side", "client");
            field(sb, "database", args[0]);
            field(sb, "user", args[1]);
            field(sb, "client_addr", address(args[2]));
        } else if (template.startsWith("C: {}")) {
            field(sb, "side", "client");
            field(sb, "client_addr", address(args[0]));
        } else if (template.startsWith("S: {}")) {
            field(sb, "side", "server");
            poolOrServer(sb, args[0]);
            if (template.startsWith("S: {} {}:") && args.length >= 2) {
                poolOrServer(sb, args[1]);
            }
        }
    }

    private static void poolOrServer(StringBuilder sb, Object arg) {
        if (arg instanceof PoolKey key) {
            field(sb, "database", key.database());
            field(sb, "user", key.user());
        } else if (arg != null && String.valueOf(arg).startsWith("pid=")) {
            field(sb, "server", arg);
        }
    }

    private static Object address(Object a) {
        if (a == null) {
            return null;
        }
        String s = a.toString();
        return s.startsWith("/") ? s.substring(1) : s;
    }

    private static void field(StringBuilder sb, String name, Object value) {
        if (value == null) {
            return;
        }
        sb.append(",\"").append(name).append("\":");
        string(sb, value.toString());
    }

    /** Appends {@code s} as a JSON string (RFC 8259 escapes; U+2028/2029 escaped for JavaScript readers). */
    static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20 || c == 0x2028 || c == 0x2029) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }
}

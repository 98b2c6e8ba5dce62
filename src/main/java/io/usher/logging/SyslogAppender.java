package io.usher.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;

/**
 * PgBouncer's {@code syslog = 1}: every log line also goes to the local syslog, as glibc's
 * {@code syslog(3)} sends it: {@code <PRI>Mmm dd hh:mm:ss ident[pid]: LEVEL message}, to the Unix
 * datagram socket {@code /dev/log} (through Netty's native transport), or, where there is no
 * {@code /dev/log} or no native transport, over UDP to 127.0.0.1:514.
 *
 * <p>The socket is non-blocking: a message the syslog daemon has no room for is dropped rather than
 * stalling an event loop. The system property {@code usher.syslog.target} (a socket path, or
 * {@code udp://host:port}) sends elsewhere (used by the tests).
 */
public final class SyslogAppender extends AppenderBase<ILoggingEvent> {
    /** Facility names PgBouncer accepts (usual/logging.c), with their codes. */
    static final Map<String, Integer> FACILITIES = Map.ofEntries(
            Map.entry("auth", 4), Map.entry("authpriv", 10), Map.entry("daemon", 3), Map.entry("user", 1),
            Map.entry("local0", 16), Map.entry("local1", 17), Map.entry("local2", 18), Map.entry("local3", 19),
            Map.entry("local4", 20), Map.entry("local5", 21), Map.entry("local6", 22), Map.entry("local7", 23));
    private static final int MAX_MESSAGE = 8192;
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("MMM ppd HH:mm:ss", Locale.ENGLISH);

    private final String ident;
    private final int facility;
    private final String target;
    private final long pid = ProcessHandle.current().pid();
    private Transport transport;

    /** Where messages go. */
    private interface Transport {
        void send(byte[] msg) throws IOException;

        void close();

        String describe();
    }

    /**
     * @param ident    syslog_ident
     * @param facility syslog_facility, one of {@link #FACILITIES}
     * @param target   a Unix datagram socket path or {@code udp://host:port}; null for the default
     */
    public SyslogAppender(String ident, String facility, String target) {
        Integer code = FACILITIES.get(facility);
        if (code == null) {
            throw new IllegalArgumentException("unknown syslog_facility \"" + facility + "\" (expected one of "
                    + String.join(", ", new java.util.TreeSet<>(FACILITIES.keySet())) + ")");
        }
        this.ident = ident == null || ident.isEmpty() ? "pgbouncer" : ident;
        this.facility = code;
        this.target = target;
    }

    /** The default target: /dev/log if it exists, else UDP to the local syslog port. */
    static String defaultTarget() {
        String prop = System.getProperty("usher.syslog.target");
        if (prop != null && !prop.isBlank()) {
            return prop;
        }
        return Files.exists(Path.of("/dev/log")) ? "/dev/log" : "udp://127.0.0.1:514";
    }

    /** True when no target was given and there is no /dev/log, so messages go to UDP 127.0.0.1:514 by default. */
    public boolean fellBackToUdp() {
        return target == null && defaultTarget().equals("udp://127.0.0.1:514");
    }

    /** Where this appender sends, for the startup log line. */
    public String describe() {
        return transport == null ? "(not started)" : transport.describe();
    }

    @Override
    public void start() {
        String where = target != null ? target : defaultTarget();
        try {
            transport = where.startsWith("udp://") ? udp(URI.create(where)) : unixOrUdp(where);
        } catch (IOException | RuntimeException e) {
            addError("syslog: cannot open " + where + ": " + e);
            return;
        }
        super.start();
    }

    @Override
    public void stop() {
        super.stop();
        if (transport != null) {
            transport.close();
        }
    }

    @Override
    protected void append(ILoggingEvent event) {
        byte[] msg = format(event).getBytes(StandardCharsets.UTF_8);
        try {
            transport.send(msg.length > MAX_MESSAGE ? java.util.Arrays.copyOf(msg, MAX_MESSAGE) : msg);
        } catch (IOException e) {
            // nowhere better to report it; syslog itself drops what it cannot take
        }
    }

    /** The message as glibc's syslog(3) writes it to /dev/log. */
    String format(ILoggingEvent event) {
        int severity = severity(event.getLevel());
        StringBuilder sb = new StringBuilder();
        sb.append('<').append(facility * 8 + severity).append('>')
                .append(TIME.format(ZonedDateTime.now())).append(' ')
                .append(ident).append('[').append(pid).append("]: ")
                .append(PgLevelConverter.name(event.getLevel())).append(' ').append(event.getFormattedMessage());
        return sb.toString();
    }

    static int severity(Level level) {
        switch (level.toInt()) {
            case Level.ERROR_INT: return 3;   // LOG_ERR
            case Level.WARN_INT: return 4;    // LOG_WARNING
            case Level.INFO_INT: return 6;    // LOG_INFO
            default: return 7;                // LOG_DEBUG
        }
    }

    private static Transport udp(URI uri) throws IOException {
        InetAddress host = InetAddress.getByName(uri.getHost() == null ? "127.0.0.1" : uri.getHost());
        int port = uri.getPort() < 0 ? 514 : uri.getPort();
        DatagramSocket socket = new DatagramSocket();
        return new Transport() {
            @Override
            public void send(byte[] msg) throws IOException {
                socket.send(new DatagramPacket(msg, msg.length, host, port));
            }

            @Override
            public void close() {
                socket.close();
            }

            @Override
            public String describe() {
                return "UDP " + host.getHostAddress() + ":" + port;
            }
        };
    }

    /** A Unix datagram socket (needs Netty's native epoll library; the JDK has no Unix datagram sockets). */
    private static Transport unixOrUdp(String path) throws IOException {
        if (!io.netty.channel.epoll.Epoll.isAvailable()) {
            Transport t = udp(URI.create("udp://127.0.0.1:514"));
            return new Transport() {
                @Override
                public void send(byte[] msg) throws IOException {
                    t.send(msg);
                }

                @Override
                public void close() {
                    t.close();
                }

                @Override
                public String describe() {
                    return t.describe() + " (no native transport for " + path + ")";
                }
            };
        }
        io.netty.channel.unix.Socket socket = io.netty.channel.unix.Socket.newSocketDomainDgram();
        byte[] address = path.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocateDirect(MAX_MESSAGE);
        return new Transport() {
            @Override
            public void send(byte[] msg) throws IOException {
                buf.clear();
                buf.put(msg);
                buf.flip();
                socket.sendToDomainSocket(buf, 0, buf.limit(), address);
            }

            @Override
            public void close() {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // closing
                }
            }

            @Override
            public String describe() {
                return path;
            }
        };
    }
}

package io.usher.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.Socket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

/** syslog = 1: messages as glibc's syslog(3) writes them, to a Unix datagram socket or over UDP. */
class SyslogAppenderTest {
    private final LoggerContext ctx = new LoggerContext();
    private final Logger logger = ctx.getLogger("io.usher.test");
    private final long pid = ProcessHandle.current().pid();

    private LoggingEvent event(Level level, String msg) {
        return new LoggingEvent("x", logger, level, msg, null, null);
    }

    @Test
    void udp() throws Exception {
        try (DatagramSocket receiver = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            receiver.setSoTimeout(5000);
            SyslogAppender a = new SyslogAppender("usher-test", "local3", "udp://127.0.0.1:" + receiver.getLocalPort());
            a.setContext(ctx);
            a.start();
            assertThat(a.isStarted()).isTrue();
            assertThat(a.describe()).isEqualTo("UDP 127.0.0.1:" + receiver.getLocalPort());
            a.doAppend(event(Level.WARN, "pool is full"));
            a.stop();
            DatagramPacket p = new DatagramPacket(new byte[9000], 9000);
            receiver.receive(p);
            String msg = new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8);
            // local3 = 19, warning = 4: 19 * 8 + 4
            assertThat(msg).matches("<156>[A-Z][a-z]{2} [ 1-3][0-9] \\d\\d:\\d\\d:\\d\\d usher-test\\[" + pid
                    + "\\]: WARNING pool is full");
        }
    }

    @Test
    void unixDatagramSocketLikeDevLog(@TempDir Path dir) throws Exception {
        assumeThat(Epoll.isAvailable()).as("native epoll transport").isTrue();
        Path path = dir.resolve("log");
        Socket receiver = Socket.newSocketDomainDgram();
        try {
            receiver.bind(new DomainSocketAddress(path.toString()));
            SyslogAppender a = new SyslogAppender("pgbouncer", "daemon", path.toString());
            a.setContext(ctx);
            a.start();
            assertThat(a.describe()).isEqualTo(path.toString());
            a.doAppend(event(Level.INFO, "stats: 0 xacts/s"));
            a.doAppend(event(Level.ERROR, "x".repeat(20000)));
            a.stop();
            ByteBuffer buf = ByteBuffer.allocateDirect(65536);
            String first = receive(receiver, buf);
            assertThat(first).matches("<30>.{15} pgbouncer\\[" + pid + "\\]: LOG stats: 0 xacts/s");
            String second = receive(receiver, buf);
            assertThat(second).startsWith("<27>").hasSize(8192); // daemon = 3, err = 3; cut at 8 KiB
        } finally {
            receiver.close();
        }
    }

    private static String receive(Socket s, ByteBuffer buf) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            buf.clear();
            io.netty.channel.unix.DomainDatagramSocketAddress from = s.recvFromDomainSocket(buf, 0, buf.capacity());
            if (from != null) {
                byte[] b = new byte[from.receivedAmount()];
                buf.get(0, b);
                return new String(b, StandardCharsets.UTF_8);
            }
            Thread.sleep(10);
        }
        throw new AssertionError("nothing received");
    }

    @Test
    void unknownFacilityIsRefused() {
        assertThatThrownBy(() -> new SyslogAppender("x", "local9", null)).hasMessageContaining("local9")
                .hasMessageContaining("daemon");
    }
}

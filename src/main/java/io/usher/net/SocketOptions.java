package io.usher.net;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.socket.nio.NioChannelOption;
import io.usher.config.Settings;
import jdk.net.ExtendedSocketOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The TCP options PgBouncer sets on every client and server socket (its {@code tune_socket}):
 * TCP_NODELAY always; SO_KEEPALIVE from {@code tcp_keepalive}, and only when that is on,
 * TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT from {@code tcp_keepidle}, {@code tcp_keepintvl} and
 * {@code tcp_keepcnt}; TCP_USER_TIMEOUT (milliseconds) from {@code tcp_user_timeout}; SO_SNDBUF and
 * SO_RCVBUF from {@code tcp_socket_buffer}. A value of 0 (or below) leaves the OS default, as in
 * PgBouncer. Unix-domain sockets get none of these.
 *
 * @param keepalive    tcp_keepalive
 * @param keepCount    tcp_keepcnt: probes before the connection is dropped
 * @param keepIdle     tcp_keepidle: seconds idle before the first probe
 * @param keepInterval tcp_keepintvl: seconds between probes
 * @param userTimeout  tcp_user_timeout: milliseconds sent data may stay unacknowledged
 * @param socketBuffer tcp_socket_buffer: bytes of kernel send and receive buffer
 */
public record SocketOptions(boolean keepalive, int keepCount, int keepIdle, int keepInterval, int userTimeout,
                            int socketBuffer) {
    private static final Logger log = LoggerFactory.getLogger(SocketOptions.class);
    private static final AtomicBoolean warnedUserTimeout = new AtomicBoolean();
    /** Whether Netty sets TCP_NODELAY on every TCP channel it creates (it does, but on Android). */
    private static final boolean NODELAY_BY_DEFAULT = io.netty.util.internal.PlatformDependent.canEnableTcpNoDelayByDefault();

    /** The options the settings ask for. */
    public static SocketOptions from(Settings s) {
        return new SocketOptions(s.getBool("tcp_keepalive"), s.getInt("tcp_keepcnt"), s.getInt("tcp_keepidle"),
                s.getInt("tcp_keepintvl"), s.getInt("tcp_user_timeout"), s.getInt("tcp_socket_buffer"));
    }

    /** The channel options to set on a TCP socket of the given transport, in the order PgBouncer sets them. */
    public Map<ChannelOption<?>, Object> channelOptions(boolean epoll) {
        Map<ChannelOption<?>, Object> o = new LinkedHashMap<>();
        o.put(ChannelOption.SO_KEEPALIVE, keepalive);
        if (keepalive) {
            if (keepCount > 0) {
                o.put(epoll ? EpollChannelOption.TCP_KEEPCNT : NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT),
                        keepCount);
            }
            if (keepIdle > 0) {
                o.put(epoll ? EpollChannelOption.TCP_KEEPIDLE : NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE),
                        keepIdle);
            }
            if (keepInterval > 0) {
                o.put(epoll ? EpollChannelOption.TCP_KEEPINTVL
                        : NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL), keepInterval);
            }
        }
        if (userTimeout > 0) {
            if (epoll) {
                o.put(EpollChannelOption.TCP_USER_TIMEOUT, userTimeout);
            } else if (warnedUserTimeout.compareAndSet(false, true)) {
                log.warn("tcp_user_timeout needs the native epoll transport; ignored");
            }
        }
        if (socketBuffer > 0) {
            o.put(ChannelOption.SO_SNDBUF, socketBuffer);
            o.put(ChannelOption.SO_RCVBUF, socketBuffer);
        }
        o.put(ChannelOption.TCP_NODELAY, true);
        return o;
    }

    /** Sets the options on an outgoing TCP connection before it connects (Netty logs an option the kernel refuses). */
    @SuppressWarnings("unchecked")
    public void applyTo(io.netty.bootstrap.Bootstrap b) {
        for (Map.Entry<ChannelOption<?>, Object> e : channelOptions(Transport.isEpoll()).entrySet()) {
            b.option((ChannelOption<Object>) e.getKey(), e.getValue());
        }
    }

    /**
     * Sets the options on an accepted or created TCP channel. An option the kernel refuses (a value out
     * of its range) is logged and skipped; PgBouncer drops the connection instead.
     */
    @SuppressWarnings("unchecked")
    public void applyTo(Channel ch) {
        for (Map.Entry<ChannelOption<?>, Object> e : channelOptions(Transport.isEpoll()).entrySet()) {
            if (e.getKey() == ChannelOption.TCP_NODELAY && NODELAY_BY_DEFAULT) {
                continue; // Netty's channel config turned it on already: one system call less per connection
            }
            try {
                ch.config().setOption((ChannelOption<Object>) e.getKey(), e.getValue());
            } catch (ChannelException | IllegalArgumentException | UnsupportedOperationException ex) {
                log.warn("could not set {} = {} on {}: {}", e.getKey(), e.getValue(), ch, ex.getMessage());
            }
        }
    }
}

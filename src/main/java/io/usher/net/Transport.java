package io.usher.net;

import io.netty.channel.Channel;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * The socket implementation: native epoll on Linux (also gives Unix-domain sockets), else NIO.
 * One event loop per core by default; every connection stays on the loop it was registered with.
 */
public final class Transport {
    /** One transport kind per JVM: channel classes must match the event loops' kind. */
    private static final boolean epoll = Epoll.isAvailable() && !Boolean.getBoolean("usher.nio");
    private final MultiThreadIoEventLoopGroup workers;

    public Transport(int threads) {
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.workers = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("usher-io", true), factory);
    }

    public static boolean isEpoll() { return epoll; }
    public static boolean supportsUnixSockets() { return epoll; }
    public MultiThreadIoEventLoopGroup workers() { return workers; }

    public static Class<? extends Channel> socketChannel() {
        return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    public static Class<? extends Channel> domainSocketChannel() {
        if (!epoll) {
            throw new IllegalStateException("Unix sockets need the native epoll transport");
        }
        return EpollDomainSocketChannel.class;
    }

    public static Class<? extends ServerChannel> serverChannel() {
        return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public static Class<? extends ServerChannel> domainServerChannel() {
        if (!epoll) {
            throw new IllegalStateException("Unix sockets need the native epoll transport");
        }
        return EpollServerDomainSocketChannel.class;
    }

    public void shutdown() {
        workers.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}

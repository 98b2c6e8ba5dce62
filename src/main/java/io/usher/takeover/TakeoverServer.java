package io.usher.takeover;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.UnixChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The running Usher's side of a takeover: listens on the control socket and hands its listening
 * sockets to the first successor that completes the exchange of {@link TakeoverProtocol}.
 */
public final class TakeoverServer {
    private static final Logger log = LoggerFactory.getLogger(TakeoverServer.class);
    /** A successor that does not finish within this long is dropped; the old Usher carries on. */
    private static final long EXCHANGE_TIMEOUT_SECONDS = 30;

    /** What the running Usher gives away, and what it does once it has. */
    public interface Handover {
        /** The listening channels (epoll, TCP or Unix), in a fixed order. */
        List<Channel> listeners();

        List<TakeoverProtocol.Kind> kinds();

        /** The successor accepts on every socket: stop accepting (without closing them) and drain. */
        void handedOver();
    }

    private final Channel channel;
    /** Set once: at most one successor takes the sockets. */
    private final AtomicBoolean handedOver;

    private TakeoverServer(Channel channel, AtomicBoolean handedOver) {
        this.channel = channel;
        this.handedOver = handedOver;
    }

    /**
     * Listens on {@code path} (replacing a stale socket file there), mode 0600: whoever can connect
     * can take the listening sockets, so only Usher's own OS user (and root) may.
     */
    public static TakeoverServer listen(Path path, EventLoopGroup group, Handover handover) throws IOException {
        Files.deleteIfExists(path);
        AtomicBoolean handedOver = new AtomicBoolean();
        ServerBootstrap b = new ServerBootstrap().group(group).channel(EpollServerDomainSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new Exchange(handover, handedOver));
                    }
                });
        Channel ch;
        try {
            ch = b.bind(new DomainSocketAddress(path.toFile())).syncUninterruptibly().channel();
        } catch (Exception e) {
            throw new IOException("could not listen for a takeover on " + path + ": " + e.getMessage(), e);
        }
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        log.info("takeover socket {}", path);
        return new TakeoverServer(ch, handedOver);
    }

    /**
     * Stops listening. {@code handedOver}: the successor listens on the same path now, so the socket
     * is only taken off the event loop (closing it would delete the successor's socket file).
     */
    public void close() {
        if (handedOver.get()) {
            channel.deregister();
        } else {
            channel.close().syncUninterruptibly();
        }
    }

    /** One successor's exchange. */
    private static final class Exchange extends ChannelInboundHandlerAdapter {
        private final Handover handover;
        private final AtomicBoolean handedOver;
        private List<Channel> listeners;

        Exchange(Handover handover, AtomicBoolean handedOver) {
            this.handover = handover;
            this.handedOver = handedOver;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (handedOver.get()) {
                ctx.close();
                return;
            }
            log.info("takeover: a new process connected; offering the listening sockets");
            listeners = List.copyOf(handover.listeners());
            ctx.writeAndFlush(Unpooled.copiedBuffer(TakeoverProtocol.greeting(handover.kinds()), StandardCharsets.US_ASCII));
            ctx.executor().schedule(() -> {
                if (ctx.channel().isActive()) {
                    log.warn("takeover: the new process did not finish in {} s; carrying on", EXCHANGE_TIMEOUT_SECONDS);
                    ctx.close();
                }
            }, EXCHANGE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            try {
                while (in.isReadable()) {
                    byte command = in.readByte();
                    if (command == TakeoverProtocol.SEND_FDS) {
                        for (Channel l : listeners) {
                            ctx.write(((UnixChannel) l).fd());
                        }
                        ctx.flush();
                    } else if (command == TakeoverProtocol.DONE && handedOver.compareAndSet(false, true)) {
                        log.info("takeover: the new process accepts on every listening socket; handing over");
                        ctx.close();
                        handover.handedOver();
                    } else {
                        log.warn("takeover: unexpected byte {} from the new process; dropping it", command);
                        ctx.close();
                    }
                }
            } finally {
                in.release();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!handedOver.get()) {
                log.info("takeover: the new process went away before taking over; carrying on");
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.warn("takeover: {}", cause.toString());
            ctx.close();
        }
    }
}

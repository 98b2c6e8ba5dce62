package io.usher.takeover;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.DomainSocketReadMode;
import io.netty.channel.unix.FileDescriptor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The successor's side of a takeover ({@code usher -R}): fetches the running Usher's listening
 * sockets over its control socket, and confirms once it accepts on them.
 */
public final class TakeoverClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TakeoverClient.class);

    /** A listening socket received from the running Usher. */
    public record Inherited(TakeoverProtocol.Kind kind, int fd) {}

    private final MultiThreadIoEventLoopGroup group;
    private final Channel channel;
    private final List<Inherited> sockets;

    private TakeoverClient(MultiThreadIoEventLoopGroup group, Channel channel, List<Inherited> sockets) {
        this.group = group;
        this.channel = channel;
        this.sockets = sockets;
    }

    /**
     * The running Usher's listening sockets, or null when there is no running Usher at {@code path}
     * (PgBouncer's -R then boots normally too).
     * @throws IOException when one answers but the exchange fails
     */
    public static TakeoverClient fetch(Path path, Duration timeout) throws IOException {
        if (!Files.exists(path)) {
            return null;
        }
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        CompletableFuture<List<Inherited>> received = new CompletableFuture<>();
        Bootstrap b = new Bootstrap().group(group).channel(EpollDomainSocketChannel.class)
                .option(EpollChannelOption.DOMAIN_SOCKET_READ_MODE, DomainSocketReadMode.BYTES)
                .handler(new Receiver(received));
        Channel ch;
        try {
            ch = b.connect(new DomainSocketAddress(path.toFile())).syncUninterruptibly().channel();
        } catch (Exception refused) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            log.info("takeover: no running Usher answers at {} ({}); starting normally", path, refused.getMessage());
            return null;
        }
        try {
            List<Inherited> sockets = received.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            log.info("takeover: received {} listening socket(s) from the running Usher", sockets.size());
            return new TakeoverClient(group, ch, sockets);
        } catch (ExecutionException | TimeoutException | InterruptedException e) {
            ch.close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new IOException("takeover from " + path + " failed: " + cause.getMessage(), cause);
        }
    }

    public List<Inherited> sockets() {
        return sockets;
    }

    /** Tells the running Usher that this one accepts on every socket now: it stops and drains. */
    public void confirm() {
        channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {TakeoverProtocol.DONE})).syncUninterruptibly();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Reads the greeting as bytes, then switches to file descriptors and collects one per socket. */
    private static final class Receiver extends ChannelInboundHandlerAdapter {
        private final CompletableFuture<List<Inherited>> result;
        private final StringBuilder line = new StringBuilder();
        private List<TakeoverProtocol.Kind> kinds;
        private final List<Inherited> sockets = new ArrayList<>();

        Receiver(CompletableFuture<List<Inherited>> result) {
            this.result = result;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof FileDescriptor fd) {
                if (kinds == null || sockets.size() >= kinds.size()) {
                    fail(ctx, "unexpected file descriptor");
                    return;
                }
                sockets.add(new Inherited(kinds.get(sockets.size()), fd.intValue()));
                if (sockets.size() == kinds.size()) {
                    result.complete(List.copyOf(sockets));
                }
                return;
            }
            ByteBuf in = (ByteBuf) msg;
            try {
                while (in.isReadable() && kinds == null) {
                    char c = (char) in.readByte();
                    if (c != '\n') {
                        line.append(c);
                        if (line.length() > 256) {
                            fail(ctx, "greeting too long");
                            return;
                        }
                        continue;
                    }
                    try {
                        kinds = TakeoverProtocol.parseGreeting(line.toString());
                    } catch (IllegalArgumentException e) {
                        fail(ctx, e.getMessage());
                        return;
                    }
                    if (kinds.isEmpty()) {
                        fail(ctx, "the running Usher has no listening socket");
                        return;
                    }
                    // the old one sends descriptors only after this, so no descriptor can be read as bytes
                    ((EpollDomainSocketChannel) ctx.channel()).config().setReadMode(DomainSocketReadMode.FILE_DESCRIPTORS);
                    ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {TakeoverProtocol.SEND_FDS}));
                }
            } finally {
                in.release();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            result.completeExceptionally(new IOException("the running Usher closed the takeover socket"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(ctx, cause.toString());
        }

        private void fail(ChannelHandlerContext ctx, String why) {
            result.completeExceptionally(new IOException(why));
            ctx.close();
        }
    }
}

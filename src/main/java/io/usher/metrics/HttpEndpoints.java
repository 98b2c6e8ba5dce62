package io.usher.metrics;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.usher.Usher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * GET /metrics (Prometheus text format), /health (the process answers) and /ready (listening, and
 * no pool's server logins are failing), for Prometheus and Kubernetes probes.
 */
public final class HttpEndpoints extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final Usher usher;
    private final UsherMetrics metrics;
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    public HttpEndpoints(Usher usher, UsherMetrics metrics) {
        this.usher = usher;
        this.metrics = metrics;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) throws IOException {
        String path = req.uri().split("\\?", 2)[0];
        if (!req.method().equals(HttpMethod.GET) && !req.method().equals(HttpMethod.HEAD)) {
            respond(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "text/plain", text("GET only\n"));
            return;
        }
        switch (path) {
            case "/metrics": {
                ByteBuf body = ctx.alloc().buffer(8192);
                try (ByteBufOutputStream out = new ByteBufOutputStream(body)) {
                    writer.write(out, metrics.registry().scrape());
                }
                respond(ctx, HttpResponseStatus.OK, writer.getContentType(), body);
                return;
            }
            case "/health":
                respond(ctx, HttpResponseStatus.OK, "text/plain", text("ok\n"));
                return;
            case "/ready": {
                String problem = usher.readinessProblem();
                if (problem == null) {
                    respond(ctx, HttpResponseStatus.OK, "text/plain", text("ready\n"));
                } else {
                    respond(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, "text/plain", text(problem + "\n"));
                }
                return;
            }
            default:
                respond(ctx, HttpResponseStatus.NOT_FOUND, "text/plain", text("not found\n"));
        }
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    private static void respond(ChannelHandlerContext ctx, HttpResponseStatus status, String type, ByteBuf body) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    }
}

package io.usher.protocol;

import io.netty.buffer.ByteBuf;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The first packet of a client connection: a StartupMessage, SSLRequest, GSSENCRequest or
 * CancelRequest. These have no type byte: a length, then a 32-bit code.
 */
public final class StartupPacket {

    public enum Kind { STARTUP, SSL_REQUEST, GSSENC_REQUEST, CANCEL }

    /** PostgreSQL's limit for a startup packet (MAX_STARTUP_PACKET_LENGTH). */
    public static final int MAX_LENGTH = 10000;

    private final Kind kind;
    private final Map<String, String> parameters;
    private final int cancelPid;
    private final int cancelKey;

    private StartupPacket(Kind kind, Map<String, String> parameters, int cancelPid, int cancelKey) {
        this.kind = kind;
        this.parameters = parameters;
        this.cancelPid = cancelPid;
        this.cancelKey = cancelKey;
    }

    /**
     * Decodes one startup packet if it is complete; consumes it from {@code in}.
     * @return null when more bytes are needed
     */
    public static StartupPacket decode(ByteBuf in) throws ProtocolException {
        if (in.readableBytes() < 8) {
            if (in.readableBytes() >= 4) {
                checkLength(in.getInt(in.readerIndex()));
            }
            return null;
        }
        int length = in.getInt(in.readerIndex());
        checkLength(length);
        if (in.readableBytes() < length) {
            return null;
        }
        int code = in.getInt(in.readerIndex() + 4);
        ByteBuf body = in.slice(in.readerIndex() + 8, length - 8);
        in.skipBytes(length);
        switch (code) {
            case Messages.SSL_REQUEST_CODE:
                requireLength(length, 8);
                return new StartupPacket(Kind.SSL_REQUEST, Map.of(), 0, 0);
            case Messages.GSSENC_REQUEST_CODE:
                requireLength(length, 8);
                return new StartupPacket(Kind.GSSENC_REQUEST, Map.of(), 0, 0);
            case Messages.CANCEL_REQUEST_CODE:
                requireLength(length, 16);
                return new StartupPacket(Kind.CANCEL, Map.of(), body.getInt(0), body.getInt(4));
            default:
                if (code >> 16 != 3) {
                    throw new ProtocolException("unsupported protocol version: " + (code >> 16) + "." + (code & 0xffff));
                }
                return new StartupPacket(Kind.STARTUP, parseParameters(body), 0, 0);
        }
    }

    private static void checkLength(int length) throws ProtocolException {
        if (length < 8 || length > MAX_LENGTH) {
            throw new ProtocolException("invalid startup packet length " + length);
        }
    }

    private static void requireLength(int length, int expected) throws ProtocolException {
        if (length != expected) {
            throw new ProtocolException("invalid length " + length + " of special startup packet");
        }
    }

    private static Map<String, String> parseParameters(ByteBuf body) throws ProtocolException {
        Map<String, String> params = new LinkedHashMap<>();
        while (true) {
            if (!body.isReadable()) {
                throw new ProtocolException("startup packet is not terminated");
            }
            if (body.getByte(body.readerIndex()) == 0) {
                body.skipBytes(1);
                break;
            }
            String name = Messages.readCString(body);
            String value = Messages.readCString(body);
            params.put(name, value);
        }
        if (body.isReadable()) {
            throw new ProtocolException("invalid startup packet layout: expected terminator as last byte");
        }
        return Collections.unmodifiableMap(params);
    }

    public Kind kind() { return kind; }
    public Map<String, String> parameters() { return parameters; }
    public int cancelPid() { return cancelPid; }
    public int cancelKey() { return cancelKey; }

    @Override
    public String toString() {
        return kind + (kind == Kind.STARTUP ? " user=" + parameters.get("user") + " database=" + parameters.get("database") : "");
    }
}

package io.usher.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Builders for the few messages the pooler writes itself, to clients (backend messages) and to
 * servers (frontend messages). Every method returns a new buffer that the caller owns (and usually
 * passes straight to a channel write, which releases it).
 */
public final class Messages {

    public static final int AUTH_OK = 0;
    public static final int AUTH_CLEARTEXT = 3;
    public static final int AUTH_MD5 = 5;
    public static final int AUTH_SASL = 10;
    public static final int AUTH_SASL_CONTINUE = 11;
    public static final int AUTH_SASL_FINAL = 12;

    public static final int PROTOCOL_3 = 196608;
    public static final int CANCEL_REQUEST_CODE = 80877102;
    public static final int SSL_REQUEST_CODE = 80877103;
    public static final int GSSENC_REQUEST_CODE = 80877104;

    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    // ---- backend messages (pooler -> client) ----

    public static ByteBuf errorResponse(PgError e) {
        return noticeOrError(MessageType.ERROR_RESPONSE, e.severity(), e.sqlState(), e.message());
    }

    public static ByteBuf noticeResponse(String sqlState, String message) {
        return noticeOrError(MessageType.NOTICE_RESPONSE, "NOTICE", sqlState, message);
    }

    private static ByteBuf noticeOrError(byte type, String severity, String sqlState, String message) {
        ByteBuf b = ALLOC.buffer(32 + message.length() * 2);
        int start = begin(b, type);
        b.writeByte('S');
        cstring(b, severity);
        b.writeByte('V');
        cstring(b, severity);
        b.writeByte('C');
        cstring(b, sqlState);
        b.writeByte('M');
        cstring(b, message);
        b.writeByte(0);
        return finish(b, start);
    }

    public static ByteBuf authRequest(int code) {
        ByteBuf b = ALLOC.buffer(9);
        b.writeByte(MessageType.AUTHENTICATION).writeInt(8).writeInt(code);
        return b;
    }

    public static ByteBuf authMd5(byte[] salt) {
        ByteBuf b = ALLOC.buffer(13);
        b.writeByte(MessageType.AUTHENTICATION).writeInt(12).writeInt(AUTH_MD5).writeBytes(salt);
        return b;
    }

    public static ByteBuf authSasl(String... mechanisms) {
        ByteBuf b = ALLOC.buffer(64);
        int start = begin(b, MessageType.AUTHENTICATION);
        b.writeInt(AUTH_SASL);
        for (String m : mechanisms) {
            cstring(b, m);
        }
        b.writeByte(0);
        return finish(b, start);
    }

    public static ByteBuf authSaslData(int code, String data) {
        ByteBuf b = ALLOC.buffer(16 + data.length());
        int start = begin(b, MessageType.AUTHENTICATION);
        b.writeInt(code);
        b.writeCharSequence(data, StandardCharsets.UTF_8);
        return finish(b, start);
    }

    public static ByteBuf parameterStatus(String name, String value) {
        ByteBuf b = ALLOC.buffer(8 + name.length() + value.length() * 2);
        int start = begin(b, MessageType.PARAMETER_STATUS);
        cstring(b, name);
        cstring(b, value);
        return finish(b, start);
    }

    public static void writeParameterStatus(ByteBuf b, String name, String value) {
        int start = begin(b, MessageType.PARAMETER_STATUS);
        cstring(b, name);
        cstring(b, value);
        finish(b, start);
    }

    public static void writeBackendKeyData(ByteBuf b, int pid, int key) {
        b.writeByte(MessageType.BACKEND_KEY_DATA).writeInt(12).writeInt(pid).writeInt(key);
    }

    public static void writeReadyForQuery(ByteBuf b, byte status) {
        b.writeByte(MessageType.READY_FOR_QUERY).writeInt(5).writeByte(status);
    }

    public static void writeAuthOk(ByteBuf b) {
        b.writeByte(MessageType.AUTHENTICATION).writeInt(8).writeInt(AUTH_OK);
    }

    // ---- frontend messages (pooler -> server) ----

    /** SSLRequest: length 8, then the code. */
    public static ByteBuf sslRequest() {
        ByteBuf b = ByteBufAllocator.DEFAULT.buffer(8);
        b.writeInt(8);
        b.writeInt(SSL_REQUEST_CODE);
        return b;
    }

    public static ByteBuf startup(Map<String, String> params) {
        ByteBuf b = ALLOC.buffer(128);
        int start = b.writerIndex();
        b.writeInt(0);
        b.writeInt(PROTOCOL_3);
        for (Map.Entry<String, String> e : params.entrySet()) {
            cstring(b, e.getKey());
            cstring(b, e.getValue());
        }
        b.writeByte(0);
        b.setInt(start, b.writerIndex() - start);
        return b;
    }

    public static ByteBuf cancelRequest(int pid, int key) {
        ByteBuf b = ALLOC.buffer(16);
        b.writeInt(16).writeInt(CANCEL_REQUEST_CODE).writeInt(pid).writeInt(key);
        return b;
    }

    public static ByteBuf passwordMessage(String password) {
        ByteBuf b = ALLOC.buffer(8 + password.length());
        int start = begin(b, MessageType.PASSWORD);
        cstring(b, password);
        return finish(b, start);
    }

    public static ByteBuf saslInitialResponse(String mechanism, String data) {
        byte[] bytes = data.getBytes(StandardCharsets.UTF_8);
        ByteBuf b = ALLOC.buffer(16 + mechanism.length() + bytes.length);
        int start = begin(b, MessageType.PASSWORD);
        cstring(b, mechanism);
        b.writeInt(bytes.length);
        b.writeBytes(bytes);
        return finish(b, start);
    }

    public static ByteBuf saslResponse(String data) {
        ByteBuf b = ALLOC.buffer(8 + data.length());
        int start = begin(b, MessageType.PASSWORD);
        b.writeCharSequence(data, StandardCharsets.UTF_8);
        return finish(b, start);
    }

    public static ByteBuf query(String sql) {
        ByteBuf b = ALLOC.buffer(8 + sql.length() * 2);
        int start = begin(b, MessageType.QUERY);
        cstring(b, sql);
        return finish(b, start);
    }

    /**
     * Parse, Bind, Describe (portal), Execute and Sync of {@code sql} (unnamed statement and portal)
     * with one text parameter whose type the server infers, as PgBouncer sends auth_query: the value
     * travels as a parameter, never inside the SQL text.
     */
    public static ByteBuf extendedQuery(String sql, String parameter) {
        byte[] value = parameter.getBytes(StandardCharsets.UTF_8);
        ByteBuf b = ALLOC.buffer(64 + sql.length() * 2 + value.length);
        int at = begin(b, MessageType.PARSE);
        cstring(b, "");
        cstring(b, sql);
        b.writeShort(0);
        finish(b, at);
        at = begin(b, MessageType.BIND);
        cstring(b, "");
        cstring(b, "");
        b.writeShort(0);                 // parameter formats: all text
        b.writeShort(1);
        b.writeInt(value.length);
        b.writeBytes(value);
        b.writeShort(0);                 // result formats: all text
        finish(b, at);
        at = begin(b, MessageType.DESCRIBE);
        b.writeByte('P');
        cstring(b, "");
        finish(b, at);
        at = begin(b, MessageType.EXECUTE);
        cstring(b, "");
        b.writeInt(0);
        finish(b, at);
        b.writeByte(MessageType.SYNC).writeInt(4);
        return b;
    }

    public static ByteBuf terminate() {
        ByteBuf b = ALLOC.buffer(5);
        b.writeByte(MessageType.TERMINATE).writeInt(4);
        return b;
    }

    // ---- helpers ----

    private static int begin(ByteBuf b, byte type) {
        b.writeByte(type);
        int lengthAt = b.writerIndex();
        b.writeInt(0);
        return lengthAt;
    }

    private static ByteBuf finish(ByteBuf b, int lengthAt) {
        b.setInt(lengthAt, b.writerIndex() - lengthAt);
        return b;
    }

    public static void cstring(ByteBuf b, String s) {
        b.writeCharSequence(s, StandardCharsets.UTF_8);
        b.writeByte(0);
    }

    /** Reads a NUL-terminated UTF-8 string at the reader index and moves past it. */
    public static String readCString(ByteBuf b) throws ProtocolException {
        int nul = b.indexOf(b.readerIndex(), b.writerIndex(), (byte) 0);
        if (nul < 0) {
            throw new ProtocolException("unterminated string in message");
        }
        String s = b.toString(b.readerIndex(), nul - b.readerIndex(), StandardCharsets.UTF_8);
        b.readerIndex(nul + 1);
        return s;
    }

    private Messages() {}
}

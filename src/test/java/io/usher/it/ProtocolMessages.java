package io.usher.it;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/** Frontend messages as bytes, for tests that speak the protocol directly (with {@link WireClient}). */
final class ProtocolMessages {
    static final byte[] SYNC = WireClient.message('S', new byte[0]);
    static final byte[] FLUSH = WireClient.message('H', new byte[0]);
    static final byte[] COPY_DONE = WireClient.message('c', new byte[0]);

    static byte[] cstr(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        byte[] r = new byte[b.length + 1];
        System.arraycopy(b, 0, r, 0, b.length);
        return r;
    }

    static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            o.writeBytes(p);
        }
        return o.toByteArray();
    }

    static byte[] parse(String name, String sql) {
        return WireClient.message('P', cat(cstr(name), cstr(sql), new byte[] {0, 0}));
    }

    /** Bind with text parameters and text results. */
    static byte[] bind(String portal, String statement, String... params) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(cstr(portal));
        b.writeBytes(cstr(statement));
        b.writeBytes(new byte[] {0, 0});
        b.writeBytes(ByteBuffer.allocate(2).putShort((short) params.length).array());
        for (String p : params) {
            byte[] v = p.getBytes(StandardCharsets.UTF_8);
            b.writeBytes(ByteBuffer.allocate(4).putInt(v.length).array());
            b.writeBytes(v);
        }
        b.writeBytes(new byte[] {0, 0});
        return WireClient.message('B', b.toByteArray());
    }

    static byte[] describe(char what, String name) {
        return WireClient.message('D', cat(new byte[] {(byte) what}, cstr(name)));
    }

    static byte[] execute(String portal, int maxRows) {
        return WireClient.message('E', cat(cstr(portal), ByteBuffer.allocate(4).putInt(maxRows).array()));
    }

    static byte[] close(char what, String name) {
        return WireClient.message('C', cat(new byte[] {(byte) what}, cstr(name)));
    }

    static byte[] copyData(String text) {
        return WireClient.message('d', text.getBytes(StandardCharsets.UTF_8));
    }

    /** A received message as one comparable line: errors and notices by code and text, others by bytes. */
    static String describe(WireClient.Message m) {
        if (m.type() == 'E' || m.type() == 'N') {
            return m.type() + " " + m.fields().get('C') + " " + m.fields().get('M');
        }
        return m.type() + " " + HexFormat.of().formatHex(m.payload());
    }

    private ProtocolMessages() {}
}

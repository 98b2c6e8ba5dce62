package io.usher.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.nio.charset.StandardCharsets;

/** Protocol messages as bytes, for the benchmarks' inputs (what pgbench and PostgreSQL send). */
final class Wire {
    private final ByteBuf buf = Unpooled.buffer();

    Wire msg(char type, Object... parts) {
        int lengthAt = buf.writerIndex() + 1;
        buf.writeByte(type).writeInt(0);
        for (Object p : parts) {
            if (p instanceof String s) {
                buf.writeBytes(s.getBytes(StandardCharsets.UTF_8)).writeByte(0);
            } else if (p instanceof Short s) {
                buf.writeShort(s);
            } else if (p instanceof Integer i) {
                buf.writeInt(i);
            } else if (p instanceof Byte b) {
                buf.writeByte(b);
            } else if (p instanceof byte[] bytes) {
                buf.writeBytes(bytes);
            } else {
                throw new IllegalArgumentException(String.valueOf(p));
            }
        }
        buf.setInt(lengthAt, buf.writerIndex() - lengthAt);
        return this;
    }

    /** The bytes so far, in a direct buffer as a socket read gives them. */
    ByteBuf direct() {
        ByteBuf d = Unpooled.directBuffer(buf.readableBytes());
        d.writeBytes(buf, buf.readerIndex(), buf.readableBytes());
        return d;
    }

    /** pgbench -M extended's transaction for select-only: Parse/Bind/Describe/Execute/Sync, unnamed. */
    static Wire extendedRequest() {
        return new Wire()
                .msg('P', "", "SELECT abalance FROM pgbench_accounts WHERE aid = $1;", (short) 1, 23)
                .msg('B', "", "", (short) 1, (short) 0, (short) 1, 5, "12345".getBytes(StandardCharsets.UTF_8),
                        (short) 1, (short) 0)
                .msg('D', (byte) 'P', "")
                .msg('E', "", 0)
                .msg('S');
    }

    /** PostgreSQL's answer to it: ParseComplete, BindComplete, RowDescription, DataRow, CommandComplete, ReadyForQuery. */
    static Wire extendedResponse() {
        return new Wire()
                .msg('1')
                .msg('2')
                .msg('T', (short) 1, "abalance", 16_400, (short) 3, 23, (short) 4, -1, (short) 0)
                .msg('D', (short) 1, 4, "1234".getBytes(StandardCharsets.UTF_8))
                .msg('C', "SELECT 1")
                .msg('Z', (byte) 'I');
    }

    /** A result of {@code rows} rows of {@code width} bytes, then CommandComplete and ReadyForQuery. */
    static Wire largeResponse(int rows, int width) {
        Wire w = new Wire().msg('T', (short) 1, "payload", 16_400, (short) 1, 25, (short) -1, -1, (short) 0);
        byte[] value = new byte[width];
        java.util.Arrays.fill(value, (byte) 'x');
        for (int i = 0; i < rows; i++) {
            w.msg('D', (short) 1, width, value);
        }
        return w.msg('C', "SELECT " + rows).msg('Z', (byte) 'I');
    }
}

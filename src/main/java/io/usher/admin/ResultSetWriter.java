package io.usher.admin;

import io.netty.buffer.ByteBuf;
import io.usher.protocol.Messages;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Writes one console result as PostgreSQL would: RowDescription, DataRows, CommandComplete. Numbers
 * go out as int8 and everything else as text, so drivers hand exporters real integers.
 */
final class ResultSetWriter {
    static final int TEXT = 25;
    static final int INT8 = 20;

    private final ByteBuf out;
    private final int[] types;
    private int rows;

    /** @param columns name and type (TEXT or INT8) of each column */
    ResultSetWriter(ByteBuf out, List<String> names, int[] types) {
        this.out = out;
        this.types = types;
        out.writeByte('T');
        int lengthAt = out.writerIndex();
        out.writeInt(0);
        out.writeShort(names.size());
        for (int i = 0; i < names.size(); i++) {
            Messages.cstring(out, names.get(i));
            out.writeInt(0);          // table oid
            out.writeShort(0);        // column number
            out.writeInt(types[i]);   // type oid
            out.writeShort(types[i] == INT8 ? 8 : -1);
            out.writeInt(-1);         // type modifier
            out.writeShort(0);        // text format
        }
        out.setInt(lengthAt, out.writerIndex() - lengthAt);
    }

    /** One row; values are Strings, Numbers or null (SQL NULL). */
    ResultSetWriter row(Object... values) {
        if (values.length != types.length) {
            throw new IllegalArgumentException("row has " + values.length + " values for " + types.length + " columns");
        }
        out.writeByte('D');
        int lengthAt = out.writerIndex();
        out.writeInt(0);
        out.writeShort(values.length);
        for (Object v : values) {
            if (v == null) {
                out.writeInt(-1);
                continue;
            }
            byte[] b = String.valueOf(v).getBytes(StandardCharsets.UTF_8);
            out.writeInt(b.length);
            out.writeBytes(b);
        }
        out.setInt(lengthAt, out.writerIndex() - lengthAt);
        rows++;
        return this;
    }

    /** CommandComplete with PgBouncer's tag for SHOW ("SHOW"). */
    void finish() {
        commandComplete(out, "SHOW");
    }

    static void commandComplete(ByteBuf out, String tag) {
        out.writeByte('C');
        int lengthAt = out.writerIndex();
        out.writeInt(0);
        Messages.cstring(out, tag);
        out.setInt(lengthAt, out.writerIndex() - lengthAt);
    }

    int rows() {
        return rows;
    }
}

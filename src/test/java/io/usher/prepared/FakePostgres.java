package io.usher.prepared;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A toy PostgreSQL backend for the extended and simple query protocol, enough to answer what a
 * statement-tracking pooler sends: named and unnamed statements and portals, errors from queries
 * starting with "ERR", skipping to Sync after an error in the extended protocol (a Query is skipped too,
 * as PostgreSQL does), DEALLOCATE ALL and DISCARD ALL dropping the named statements. Not thread-safe.
 */
final class FakePostgres {

    /** One backend message. */
    record Msg(byte type, byte[] payload) {
        static Msg of(char type, String cstring) {
            return new Msg((byte) type, (cstring + "\0").getBytes(StandardCharsets.UTF_8));
        }

        static Msg of(char type, byte... payload) {
            return new Msg((byte) type, payload);
        }
    }

    final Map<String, String> statements = new HashMap<>();
    final Map<String, String> portals = new HashMap<>();
    private boolean skipping;

    /** Handles one frontend message (a well-formed one) and appends the answers. */
    void handle(byte type, byte[] payload, List<Msg> out) {
        if (skipping && type != 'S') {
            return;
        }
        Reader r = new Reader(payload);
        switch (type) {
            case 'P' -> {
                String name = r.cstring();
                String query = r.cstring();
                if (query.startsWith("ERR")) {
                    error(out, "syntax error");
                } else if (!name.isEmpty() && statements.containsKey(name)) {
                    error(out, "prepared statement \"" + name + "\" already exists");
                } else {
                    statements.put(name, query);
                    out.add(Msg.of('1'));
                }
            }
            case 'B' -> {
                String portal = r.cstring();
                String query = statements.get(r.cstring());
                if (query == null) {
                    error(out, "prepared statement does not exist");
                } else {
                    portals.put(portal, query);
                    out.add(Msg.of('2'));
                }
            }
            case 'D' -> {
                byte what = r.u8();
                String query = (what == 'S' ? statements : portals).get(r.cstring());
                if (query == null) {
                    error(out, "does not exist");
                    return;
                }
                if (what == 'S') {
                    out.add(Msg.of('t', (byte) 0, (byte) 0));
                }
                out.add(returnsRows(query) ? Msg.of('T', (byte) 0, (byte) 1) : Msg.of('n'));
            }
            case 'E' -> {
                String query = portals.get(r.cstring());
                int maxRows = r.int32();
                if (query == null) {
                    error(out, "portal does not exist");
                } else {
                    execute(query, maxRows, out);
                }
            }
            case 'C' -> {
                byte what = r.u8();
                (what == 'S' ? statements : portals).remove(r.cstring());
                out.add(Msg.of('3'));
            }
            case 'S' -> {
                skipping = false;
                portals.clear();
                out.add(Msg.of('Z', (byte) 'I'));
            }
            case 'Q' -> {
                String query = r.cstring();
                statements.remove(""); // a simple Query replaces the unnamed statement and portal
                portals.clear();
                if (returnsRows(query)) {
                    out.add(Msg.of('T', (byte) 0, (byte) 1));
                }
                execute(query, 0, out);
                skipping = false;
                out.add(Msg.of('Z', (byte) 'I'));
            }
            default -> {
                // Flush, CopyData outside COPY: nothing to answer
            }
        }
    }

    private void execute(String query, int maxRows, List<Msg> out) {
        if (query.startsWith("ERR")) {
            error(out, "division by zero");
        } else if (query.equals("EMPTY")) {
            out.add(Msg.of('I'));
        } else if (query.equals("DEALLOCATE ALL") || query.equals("DISCARD ALL")) {
            statements.keySet().removeIf(name -> !name.isEmpty());
            out.add(Msg.of('C', query));
        } else {
            out.add(Msg.of('D', (byte) 0, (byte) 1, (byte) 0, (byte) 0, (byte) 0, (byte) 1, (byte) '1'));
            out.add(maxRows == 1 ? Msg.of('s') : Msg.of('C', "SELECT 1"));
        }
    }

    private static boolean returnsRows(String query) {
        return query.startsWith("SELECT");
    }

    private void error(List<Msg> out, String message) {
        out.add(Msg.of('E', "SERROR\0C42000\0M" + message + "\0"));
        skipping = true; // only matters in the extended protocol: a Query clears it after its answer
    }

    /** Reads a well-formed payload; a short one reads as empty strings and zeros. */
    private static final class Reader {
        private final byte[] b;
        private int pos;

        Reader(byte[] b) {
            this.b = b;
        }

        byte u8() {
            return pos < b.length ? b[pos++] : 0;
        }

        int int32() {
            return (u8() & 0xff) << 24 | (u8() & 0xff) << 16 | (u8() & 0xff) << 8 | (u8() & 0xff);
        }

        String cstring() {
            int start = pos;
            while (pos < b.length && b[pos] != 0) {
                pos++;
            }
            String s = new String(b, start, pos - start, StandardCharsets.UTF_8);
            pos = Math.min(pos + 1, b.length);
            return s;
        }
    }
}

package io.usher.it;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** A minimal protocol-3.0 client for tests that need exact bytes (bad packets, raw exchanges). */
public final class WireClient implements AutoCloseable {
    public record Message(char type, byte[] payload) {
        public String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }

        /** Fields of an ErrorResponse/NoticeResponse by their code letter. */
        public Map<Character, String> fields() {
            Map<Character, String> f = new LinkedHashMap<>();
            int i = 0;
            while (i < payload.length && payload[i] != 0) {
                char code = (char) payload[i++];
                int end = i;
                while (payload[end] != 0) {
                    end++;
                }
                f.put(code, new String(payload, i, end - i, StandardCharsets.UTF_8));
                i = end + 1;
            }
            return f;
        }
    }

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private int backendPid;
    private int backendKey;

    public WireClient(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(10_000);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    public static byte[] startupPacket(Map<String, String> params) {
        ByteBuffer b = ByteBuffer.allocate(4096);
        b.putInt(0).putInt(196608);
        params.forEach((k, v) -> {
            b.put(k.getBytes(StandardCharsets.UTF_8)).put((byte) 0);
            b.put(v.getBytes(StandardCharsets.UTF_8)).put((byte) 0);
        });
        b.put((byte) 0);
        b.putInt(0, b.position());
        byte[] r = new byte[b.position()];
        b.flip();
        b.get(r);
        return r;
    }

    public static byte[] message(char type, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(5 + payload.length);
        b.put((byte) type).putInt(4 + payload.length).put(payload);
        return b.array();
    }

    public static byte[] query(String sql) {
        byte[] s = sql.getBytes(StandardCharsets.UTF_8);
        byte[] p = new byte[s.length + 1];
        System.arraycopy(s, 0, p, 0, s.length);
        return message('Q', p);
    }

    public void send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    public Message read() throws IOException {
        char type = (char) in.readUnsignedByte();
        int len = in.readInt();
        byte[] payload = new byte[len - 4];
        in.readFully(payload);
        return new Message(type, payload);
    }

    /** Reads one byte (the answer to SSLRequest/GSSENCRequest). */
    public char readByte() throws IOException {
        return (char) in.readUnsignedByte();
    }

    /** Reads until a message of this type (returned) arrives. */
    public Message readUntil(char type) throws IOException {
        while (true) {
            Message m = read();
            if (m.type() == type) {
                return m;
            }
        }
    }

    /** Logs in with trust (no password exchange expected) and reads up to ReadyForQuery. */
    public void loginTrust(String user, String database) throws IOException {
        send(startupPacket(Map.of("user", user, "database", database)));
        Message m;
        while ((m = read()).type() != 'Z') {
            if (m.type() == 'K') {
                ByteBuffer b = ByteBuffer.wrap(m.payload());
                backendPid = b.getInt();
                backendKey = b.getInt();
            }
        }
        if (m.payload()[0] != 'I') {
            throw new IOException("unexpected status " + (char) m.payload()[0]);
        }
    }

    /** Logs in with an md5 password exchange and reads up to ReadyForQuery (status 'I'). */
    public void loginMd5(String user, String password, String database) throws IOException {
        send(startupPacket(Map.of("user", user, "database", database)));
        Message r = read();
        if (r.type() != 'R' || r.payload().length != 8 || ByteBuffer.wrap(r.payload()).getInt() != 5) {
            throw new IOException("expected an md5 password request, got " + r.type() + " " + r.fields());
        }
        byte[] salt = java.util.Arrays.copyOfRange(r.payload(), 4, 8);
        String hash = io.usher.auth.Md5Password.response(io.usher.auth.Md5Password.encrypt(user, password), salt);
        send(message('p', (hash + "\0").getBytes(StandardCharsets.UTF_8)));
        Message m = readUntilOneOf('Z', 'E');
        if (m.type() == 'E') {
            throw new IOException("login failed: " + m.fields());
        }
        if (m.payload()[0] != 'I') {
            throw new IOException("unexpected status " + (char) m.payload()[0]);
        }
    }

    /** Reads until a message of one of these types (returned) arrives. */
    public Message readUntilOneOf(char a, char b) throws IOException {
        while (true) {
            Message m = read();
            if (m.type() == a || m.type() == b) {
                return m;
            }
        }
    }

    /**
     * Sends a CancelRequest with the key this connection got at login ({@link #loginTrust}) to the server at
     * {@code port}, on a connection of its own, and waits until the server closes that connection: as libpq's
     * PQcancel, so a command sent after this returns cannot be the one the request cancels.
     */
    public void cancelVia(int port) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(ByteBuffer.allocate(16).putInt(16).putInt(80877102).putInt(backendPid)
                    .putInt(backendKey).array());
            while (s.getInputStream().read() >= 0) {
                // nothing is sent back: read until the server closes the connection
            }
        }
    }

    /** Sets the read timeout of the socket. */
    public void timeout(int millis) throws IOException {
        socket.setSoTimeout(millis);
    }

    /** Closes with a reset (SO_LINGER 0) instead of a FIN. */
    public void reset() throws IOException {
        socket.setSoLinger(true, 0);
        socket.close();
    }

    /** True if the server closed the connection within the timeout. */
    public boolean closedWithin(int millis) throws IOException {
        socket.setSoTimeout(millis);
        try {
            while (true) {
                if (in.read() < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (EOFException | java.net.SocketException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}

package io.usher.cli;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The start-up run that the build records into a class-data-sharing archive (AppCDS): run under
 * {@code -XX:ArchiveClassesAtExit=usher.jsa}, it starts Usher as {@code usher FILE} would, logs in to
 * the console, runs a SHOW, reads /metrics, and exits. The classes loaded on the way are stored
 * pre-parsed in the archive, which {@code bin/usher} then maps at start: Usher listens in about half
 * the time (issue 7's start-up target is 1 s on JDK 17). Not a user command; the build calls it.
 */
public final class CdsTraining {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("usher-cds");
        int port = freePort();
        int httpPort = freePort();
        Path users = Files.writeString(dir.resolve("userlist.txt"), "\"usher\" \"\"\n");
        Path ini = Files.writeString(dir.resolve("usher.ini"), String.join("\n",
                "[databases]", "* = host=127.0.0.1 port=1", "[pgbouncer]", "listen_addr = 127.0.0.1",
                "listen_port = " + port, "unix_socket_dir =", "auth_type = trust", "auth_file = " + users,
                "admin_users = usher", ""));
        Thread usher = new Thread(() -> Main.main(new String[] {"-q", "--http-listen", "127.0.0.1:" + httpPort, ini.toString()}),
                "cds-training-usher");
        usher.setDaemon(true);
        usher.start();
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (true) {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                console(s, "SHOW POOLS");
                break;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
        HttpURLConnection http = (HttpURLConnection) new URL("http://127.0.0.1:" + httpPort + "/metrics").openConnection();
        try (InputStream in = http.getInputStream()) {
            in.readAllBytes();
        }
        Files.delete(ini);
        Files.delete(users);
        Files.delete(dir);
        System.exit(0); // the JVM writes the archive on its way out
    }

    /** Logs in as the console's admin (trust), runs one query, reads to ReadyForQuery, terminates. */
    private static void console(Socket s, String query) throws IOException {
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        byte[] params = "user\0usher\0database\0pgbouncer\0\0".getBytes(StandardCharsets.US_ASCII);
        out.writeInt(8 + params.length);
        out.writeInt(196608);
        out.write(params);
        out.flush();
        DataInputStream in = new DataInputStream(s.getInputStream());
        untilReady(in);
        byte[] q = (query + "\0").getBytes(StandardCharsets.US_ASCII);
        out.writeByte('Q');
        out.writeInt(4 + q.length);
        out.write(q);
        out.flush();
        untilReady(in);
        out.writeByte('X');
        out.writeInt(4);
        out.flush();
    }

    private static void untilReady(DataInputStream in) throws IOException {
        while (true) {
            int type = in.readUnsignedByte();
            byte[] body = new byte[in.readInt() - 4];
            in.readFully(body);
            if (type == 'E') {
                throw new IOException("console refused the training login");
            }
            if (type == 'Z') {
                return;
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private CdsTraining() {}
}

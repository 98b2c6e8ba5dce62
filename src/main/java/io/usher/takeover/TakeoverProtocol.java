package io.usher.takeover;

import io.usher.config.Settings;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a running Usher waits for a successor ({@code usher -R}) and what the two say. Over the
 * control Unix socket:
 *
 * <ol>
 *   <li>old → new: {@code USHER-TAKEOVER 1 tcp,unix\n}: the kinds of the listening sockets, in order;</li>
 *   <li>new → old: {@code F} once it reads file descriptors (not bytes) from the socket;</li>
 *   <li>old → new: one file descriptor per listening socket (SCM_RIGHTS), in that order; the old one
 *       goes on accepting meanwhile;</li>
 *   <li>new → old: {@code D} once it accepts on all of them; the old one stops accepting (it does not
 *       close the sockets: they are the same kernel sockets, their queues stay intact), drains its
 *       clients as on SIGTERM, and exits.</li>
 * </ol>
 * A successor that goes away before {@code D} leaves the old one running as if nothing happened.
 */
public final class TakeoverProtocol {
    static final String GREETING = "USHER-TAKEOVER 1 ";
    static final byte SEND_FDS = 'F';
    static final byte DONE = 'D';
    /** sun_path holds 108 bytes with the terminating NUL. */
    private static final int MAX_SOCKET_PATH = 107;

    /** The kind of a listening socket, so the successor knows which channel class to wrap it in. */
    public enum Kind { TCP, UNIX }

    private TakeoverProtocol() {
    }

    /**
     * The control socket of the Usher configured by {@code s}: {@code .s.PGSQL.<port>.takeover} next to
     * the client socket in {@code unix_socket_dir}, else {@code <pidfile>.takeover}; null when neither
     * is set (no takeover then). Old and new process compute it from the same config file.
     */
    public static Path controlSocket(Settings s) {
        String dir = s.getString("unix_socket_dir");
        String pidfile = s.getString("pidfile");
        Path path;
        if (!dir.isEmpty()) {
            path = Path.of(dir, ".s.PGSQL." + s.getInt("listen_port") + ".takeover");
        } else if (!pidfile.isEmpty()) {
            path = Path.of(pidfile + ".takeover");
        } else {
            return null;
        }
        path = path.toAbsolutePath();
        if (path.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH) {
            throw new IllegalArgumentException("takeover socket path too long for a Unix socket: " + path);
        }
        return path;
    }

    static String greeting(List<Kind> kinds) {
        List<String> names = new ArrayList<>();
        for (Kind k : kinds) {
            names.add(k.name().toLowerCase(java.util.Locale.ROOT));
        }
        return GREETING + String.join(",", names) + "\n";
    }

    /** @throws IllegalArgumentException when the line is not a greeting of this protocol version */
    static List<Kind> parseGreeting(String line) {
        if (!line.startsWith(GREETING)) {
            throw new IllegalArgumentException("not an Usher takeover socket (got \"" + line + "\")");
        }
        List<Kind> kinds = new ArrayList<>();
        for (String name : line.substring(GREETING.length()).trim().split(",")) {
            if (!name.isEmpty()) {
                kinds.add(Kind.valueOf(name.toUpperCase(java.util.Locale.ROOT)));
            }
        }
        return kinds;
    }
}

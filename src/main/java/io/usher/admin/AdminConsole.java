package io.usher.admin;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.usher.Usher;
import io.usher.cli.Main;
import io.usher.config.SettingDefs;
import io.usher.config.Settings;
import io.usher.pool.Pool;
import io.usher.protocol.Messages;
import io.usher.protocol.PgError;
import io.usher.protocol.SqlState;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The virtual database "pgbouncer": PgBouncer's admin console over the simple query protocol.
 * admin_users may run every command, stats_users only SHOW.
 */
public final class AdminConsole {
    public static final String DATABASE = "pgbouncer";

    /** What the console tells clients in server_version (psql prints it; exporters parse SHOW VERSION). */
    static final String PGBOUNCER_VERSION = "1.25.0";

    public enum Role { ADMIN, STATS }

    private static final Pattern SHOW = Pattern.compile("(?i)^\\s*SHOW\\s+(\\w+)\\s*;?\\s*$");
    private static final Pattern SET = Pattern.compile("(?i)^\\s*SET\\s+(?:SESSION\\s+)?\"?([\\w.]+)\"?\\s*(?:=|TO)\\s*(.*?)\\s*;?\\s*$", Pattern.DOTALL);
    private static final Pattern COMMAND = Pattern.compile("(?i)^\\s*(\\w+)(?:\\s+(.*?))?\\s*;?\\s*$", Pattern.DOTALL);

    private final Usher usher;
    private final Role role;
    private final ShowCommands show;

    public AdminConsole(Usher usher, Role role) {
        this.usher = usher;
        this.role = role;
        this.show = new ShowCommands(usher);
    }

    /** admin_users may do everything, stats_users may look; anyone else is "not allowed" (null). */
    public static Role roleOf(Settings settings, String user) {
        if (contains(settings.getList("admin_users"), user)) {
            return Role.ADMIN;
        }
        if (contains(settings.getList("stats_users"), user)) {
            return Role.STATS;
        }
        return null;
    }

    private static boolean contains(Iterable<String> names, String user) {
        for (String n : names) {
            if (n.equals(user)) {
                return true;
            }
        }
        return false;
    }

    /**
     * PgBouncer lets the OS user it runs as into the console as user "pgbouncer" over the Unix socket
     * without a password (peer credentials: same uid).
     */
    public static boolean isLocalSuperuser(io.netty.channel.Channel ch, String user) {
        if (!DATABASE.equals(user) || !(ch instanceof io.netty.channel.epoll.EpollDomainSocketChannel)) {
            return false;
        }
        try {
            int peerUid = ((io.netty.channel.epoll.EpollDomainSocketChannel) ch).peerCredentials().uid();
            Object ownUid = java.nio.file.Files.getAttribute(java.nio.file.Path.of("/proc/self"), "unix:uid");
            return ownUid instanceof Integer && peerUid == (Integer) ownUid;
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    /** The ParameterStatus messages of the console's login, as PgBouncer's admin database sends them. */
    public void writeWelcome(ByteBuf out, Map<String, String> clientParameters) {
        String encoding = clientParameters.getOrDefault("client_encoding", "UTF8");
        Messages.writeParameterStatus(out, "server_version", PGBOUNCER_VERSION + "/bouncer");
        Messages.writeParameterStatus(out, "client_encoding", encoding);
        Messages.writeParameterStatus(out, "server_encoding", "UTF8");
        Messages.writeParameterStatus(out, "DateStyle", "ISO");
        Messages.writeParameterStatus(out, "TimeZone", "GMT");
        Messages.writeParameterStatus(out, "standard_conforming_strings", "on");
        Messages.writeParameterStatus(out, "is_superuser", "on");
        Messages.writeParameterStatus(out, "integer_datetimes", "on");
        Messages.writeParameterStatus(out, "application_name", clientParameters.getOrDefault("application_name", ""));
    }

    /**
     * Runs one query and hands its reply (without ReadyForQuery) to {@code done}, on {@code loop}:
     * at once for most commands, later for PAUSE, which waits for the servers to be released.
     */
    public void execute(String sql, EventLoop loop, Consumer<ByteBuf> done) {
        ByteBuf out = ByteBufAllocator.DEFAULT.buffer(1024);
        String trimmed = sql.trim();
        if (trimmed.isEmpty() || trimmed.equals(";")) {
            out.writeByte('I').writeInt(4); // EmptyQueryResponse
            done.accept(out);
            return;
        }
        Matcher m = SHOW.matcher(trimmed);
        if (m.matches()) {
            String what = m.group(1).toUpperCase(Locale.ROOT);
            if (!show.run(what, out)) {
                error(out, SqlState.FEATURE_NOT_SUPPORTED, "unsupported SHOW cmd: " + what);
            }
            done.accept(out);
            return;
        }
        Matcher c = COMMAND.matcher(trimmed);
        String verb = c.matches() ? c.group(1).toUpperCase(Locale.ROOT) : trimmed;
        String arg = c.matches() && c.group(2) != null ? c.group(2).trim() : null;
        Matcher set = SET.matcher(trimmed);
        if (set.matches() && !SettingDefs.all().containsKey(set.group(1).toLowerCase(Locale.ROOT))) {
            // session settings drivers send at connect (extra_float_digits, application_name, ...): accepted, no effect
            ResultSetWriter.commandComplete(out, "SET");
            done.accept(out);
            return;
        }
        if (role != Role.ADMIN) {
            error(out, SqlState.INSUFFICIENT_PRIVILEGE, "admin access needed");
            done.accept(out);
            return;
        }
        switch (verb) {
            case "PAUSE":
                pause(arg, loop, out, done);
                return;
            case "RESUME":
                usher.pools().resume(arg);
                ResultSetWriter.commandComplete(out, "RESUME");
                break;
            case "RELOAD": {
                String failure = usher.reload();
                if (failure == null) {
                    ResultSetWriter.commandComplete(out, "RELOAD");
                } else {
                    error(out, SqlState.INVALID_PARAMETER_VALUE, "RELOAD failed, see logs for more details: " + failure);
                }
                break;
            }
            case "DISABLE":
            case "ENABLE":
                if (arg == null || usher.config().database(arg).isEmpty()) {
                    error(out, SqlState.INVALID_CATALOG_NAME, arg == null ? verb + " needs a database name" : "no such database: " + arg);
                } else {
                    usher.pools().setDisabled(arg, verb.equals("DISABLE"));
                    ResultSetWriter.commandComplete(out, verb);
                }
                break;
            case "RECONNECT":
                usher.pools().poolsOf(arg).forEach(Pool::reconnect);
                ResultSetWriter.commandComplete(out, verb);
                break;
            case "KILL":
                kill(arg);
                ResultSetWriter.commandComplete(out, verb);
                break;
            case "KILL_CLIENT":
                if (!killClient(arg)) {
                    error(out, SqlState.INVALID_PARAMETER_VALUE, "client not found: " + arg);
                } else {
                    ResultSetWriter.commandComplete(out, verb);
                }
                break;
            case "WAIT_CLOSE":
                waitClose(arg, loop, out, done);
                return;
            case "SHUTDOWN": {
                io.usher.ShutdownMode mode = arg == null ? io.usher.ShutdownMode.IMMEDIATE
                        : arg.equalsIgnoreCase("WAIT_FOR_SERVERS") ? io.usher.ShutdownMode.WAIT_FOR_SERVERS
                        : arg.equalsIgnoreCase("WAIT_FOR_CLIENTS") ? io.usher.ShutdownMode.WAIT_FOR_CLIENTS : null;
                if (mode == null) {
                    error(out, SqlState.SYNTAX_ERROR, "invalid SHUTDOWN mode: " + arg
                            + " (expected WAIT_FOR_SERVERS or WAIT_FOR_CLIENTS)");
                    break;
                }
                usher.shutdown(mode);
                if (mode == io.usher.ShutdownMode.IMMEDIATE) {
                    ResultSetWriter.commandComplete(out, verb);
                    done.accept(out);
                } else {
                    // answer once the listeners are closed: after "SHUTDOWN", no new connection gets in
                    completeWhen(() -> !usher.accepting(), verb, loop, out, done);
                }
                return;
            }
            case "SUSPEND":
                error(out, SqlState.FEATURE_NOT_SUPPORTED, "SUSPEND is not supported: Usher's online restart "
                        + "(usher -R) takes over the listening sockets without it; or run a new Usher beside the old one with so_reuseport");
                break;
            case "SET": {
                Matcher kv = SET.matcher(trimmed);
                if (!kv.matches()) {
                    error(out, SqlState.SYNTAX_ERROR, "SET takes key = value");
                    break;
                }
                String failure = usher.set(kv.group(1).toLowerCase(Locale.ROOT), unquote(kv.group(2)));
                if (failure == null) {
                    ResultSetWriter.commandComplete(out, "SET");
                } else {
                    error(out, SqlState.INVALID_PARAMETER_VALUE, failure);
                }
                break;
            }
            default:
                error(out, SqlState.SYNTAX_ERROR, "invalid command '" + trimmed + "', use SHOW HELP;");
        }
        done.accept(out);
    }

    /** KILL [db]: drops every client and server of the database (or all), and holds new ones until RESUME. */
    private void kill(String database) {
        usher.pools().pause(database);
        for (io.usher.client.ClientConnection c : usher.clients()) {
            String db = c.database();
            if (db != null && !db.equals(DATABASE) && (database == null || db.equals(database))) {
                c.kill("database killed from the console");
            }
        }
        usher.pools().poolsOf(database).forEach(Pool::killServers);
    }

    /** KILL_CLIENT id: the id is the one SHOW CLIENTS shows. */
    private boolean killClient(String id) {
        if (id == null || !id.matches("\\d+")) {
            return false;
        }
        for (io.usher.client.ClientConnection c : usher.clients()) {
            if (String.valueOf(c.cancelPid()).equals(id)) {
                c.kill("client killed from the console");
                return true;
            }
        }
        return false;
    }

    /** WAIT_CLOSE [db]: returns once servers from before a RECONNECT or RELOAD are closed. */
    private void waitClose(String database, EventLoop loop, ByteBuf out, Consumer<ByteBuf> done) {
        List<Pool> pools = usher.pools().poolsOf(database);
        completeWhen(() -> pools.stream().noneMatch(Pool::hasStaleServers), "WAIT_CLOSE", loop, out, done);
    }

    /** Answers {@code tag} once {@code condition} holds, checking every 20 ms on the console's loop. */
    private static void completeWhen(java.util.function.BooleanSupplier condition, String tag, EventLoop loop,
                                     ByteBuf out, Consumer<ByteBuf> done) {
        Runnable check = new Runnable() {
            @Override
            public void run() {
                if (condition.getAsBoolean()) {
                    ResultSetWriter.commandComplete(out, tag);
                    done.accept(out);
                } else {
                    loop.schedule(this, 20, TimeUnit.MILLISECONDS);
                }
            }
        };
        check.run();
    }

    /** PAUSE [db]: returns once every server of the paused pools is closed (released ones close at once). */
    private void pause(String database, EventLoop loop, ByteBuf out, Consumer<ByteBuf> done) {
        if (database != null && usher.config().database(database).isEmpty()) {
            error(out, SqlState.INVALID_CATALOG_NAME, "no such database: " + database);
            done.accept(out);
            return;
        }
        List<Pool> affected = usher.pools().pause(database);
        completeWhen(() -> affected.stream().allMatch(p -> p.isDrained() || !p.isPaused()), "PAUSE", loop, out, done);
    }

    /** SET values may be written 'quoted', as PgBouncer allows. */
    private static String unquote(String v) {
        String t = v.trim();
        if (t.length() >= 2 && t.startsWith("'") && t.endsWith("'")) {
            return t.substring(1, t.length() - 1).replace("''", "'");
        }
        return t;
    }

    static void error(ByteBuf out, String sqlState, String message) {
        ByteBuf e = Messages.errorResponse(PgError.error(sqlState, message));
        try {
            out.writeBytes(e);
        } finally {
            e.release();
        }
    }

    static String version() {
        return "PgBouncer " + PGBOUNCER_VERSION + " (Usher " + Main.version() + ")";
    }
}

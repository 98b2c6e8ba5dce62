package io.usher.admin;

import io.netty.buffer.ByteBuf;
import io.usher.Usher;
import io.usher.config.DatabaseConfig;
import io.usher.config.SettingDef;
import io.usher.config.SettingDefs;
import io.usher.config.Settings;
import io.usher.config.UserConfig;
import io.usher.pool.Pool;
import io.usher.pool.PoolSettings;
import io.usher.protocol.Messages;
import io.usher.stats.DatabaseStats;

import java.util.List;
import java.util.Map;

/** The SHOW commands, with PgBouncer's column names, order and types (its doc/usage.md). */
final class ShowCommands {
    private static final int T = ResultSetWriter.TEXT;
    private static final int I = ResultSetWriter.INT8;

    private final Usher usher;

    ShowCommands(Usher usher) {
        this.usher = usher;
    }

    /** Writes the result of SHOW {@code what}; false if Usher has no such SHOW command (yet). */
    boolean run(String what, ByteBuf out) {
        switch (what) {
            case "VERSION": version(out); return true;
            case "HELP": help(out); return true;
            case "CONFIG": config(out); return true;
            case "DATABASES": databases(out); return true;
            case "POOLS": pools(out); return true;
            case "USERS": users(out); return true;
            case "STATE": state(out); return true;
            case "STATS": stats(out); return true;
            case "STATS_TOTALS": statsTable(out, false); return true;
            case "STATS_AVERAGES": statsTable(out, true); return true;
            case "TOTALS": totals(out); return true;
            case "CLIENTS": clients(out); return true;
            case "SERVERS": servers(out); return true;
            case "LISTS": lists(out); return true;
            case "SOCKETS": case "ACTIVE_SOCKETS": sockets(out); return true;
            case "PEERS": peers(out); return true;
            case "PEER_POOLS": peerPools(out); return true;
            case "DNS_HOSTS": dnsHosts(out); return true;
            case "DNS_ZONES": result(out, List.of("zonename", "serial", "count"), T, I, I).finish(); return true;
            case "MEM": mem(out); return true;
            case "FDS": fds(out); return true;
            default: return false;
        }
    }

    private static ResultSetWriter result(ByteBuf out, List<String> names, int... types) {
        return new ResultSetWriter(out, names, types);
    }

    private void version(ByteBuf out) {
        ResultSetWriter r = result(out, List.of("version"), T);
        r.row(AdminConsole.version());
        r.finish();
    }

    private void help(ByteBuf out) {
        String[] lines = {
            "Console usage",
            "\tSHOW HELP|CONFIG|DATABASES|POOLS|USERS|VERSION|STATE|STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS",
            "\tSHOW CLIENTS|SERVERS|LISTS|SOCKETS|ACTIVE_SOCKETS|PEERS|PEER_POOLS|DNS_HOSTS|DNS_ZONES|MEM|FDS",
            "\tPAUSE [<db>]|RESUME [<db>]|RELOAD|DISABLE <db>|ENABLE <db>|RECONNECT [<db>]|KILL [<db>]",
            "\tKILL_CLIENT <id>|WAIT_CLOSE [<db>]|SET <key> = <value>",
            "\tSHUTDOWN|SHUTDOWN WAIT_FOR_SERVERS|SHUTDOWN WAIT_FOR_CLIENTS",
            "\tSUSPEND is not supported (usher -R takes over without it; or use so_reuseport)",
        };
        for (String line : lines) {
            ByteBuf n = Messages.noticeResponse("00000", line);
            out.writeBytes(n);
            n.release();
        }
        ResultSetWriter.commandComplete(out, "SHOW");
    }

    private void config(ByteBuf out) {
        Settings s = usher.config().settings();
        ResultSetWriter r = result(out, List.of("key", "value", "default", "changeable"), T, T, T, T);
        Map<String, String> effective = s.effective();
        for (SettingDef def : SettingDefs.all().values()) {
            r.row(def.name(), effective.get(def.name()), def.defaultValue(), def.reloadable() ? "yes" : "no");
        }
        r.finish();
    }

    /**
     * SHOW DATABASES with PgBouncer 1.25's columns, then reserve_pool: the name PgBouncer up to
     * 1.18 gave reserve_pool_size, kept as a trailing column for exporters that read it by name.
     */
    private void databases(ByteBuf out) {
        Settings g = usher.config().settings();
        ResultSetWriter r = result(out, List.of("name", "host", "port", "database", "force_user", "pool_size",
                "min_pool_size", "reserve_pool_size", "server_lifetime", "pool_mode", "load_balance_hosts",
                "max_connections", "current_connections", "max_client_connections", "current_client_connections",
                "paused", "disabled", "reserve_pool"), T, T, I, T, T, I, I, I, I, T, T, I, I, I, I, I, I, I);
        for (DatabaseConfig db : usher.listedDatabases()) {
            PoolSettings ps = PoolSettings.resolve(g, db, null);
            r.row(db.name(), db.hosts().isEmpty() ? null : String.join(",", db.hosts()), db.port(),
                    db.dbname() != null ? db.dbname() : db.name(), db.user(), ps.poolSize(), ps.minPoolSize(),
                    ps.reservePoolSize(), ps.serverLifetimeNanos() / 1_000_000_000L,
                    db.poolMode() == null ? null : db.poolMode().configName(), db.loadBalanceHosts(),
                    ps.maxDbConnections(), usher.pools().databaseConnections(db.name()),
                    db.maxDbClientConnections() != null ? db.maxDbClientConnections() : g.getInt("max_db_client_connections"),
                    usher.clientsOfDatabase(db.name()), usher.pools().isPaused(db.name()) ? 1 : 0,
                    usher.pools().isDisabled(db.name()) ? 1 : 0, ps.reservePoolSize());
        }
        // the console itself, as PgBouncer lists it
        r.row(AdminConsole.DATABASE, null, g.getInt("listen_port"), AdminConsole.DATABASE, AdminConsole.DATABASE, 2, 0, 0,
                0, "statement", null, 0, 0, 0, 0, 0, 0, 0);
        r.finish();
    }

    private void pools(ByteBuf out) {
        ResultSetWriter r = result(out, List.of("database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
                "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used",
                "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode", "load_balance_hosts"),
                T, T, I, I, I, I, I, I, I, I, I, I, I, I, I, T, T);
        for (Pool p : usher.pools().pools()) {
            Pool.Snapshot s = p.snapshot();
            long waitUs = s.maxWaitNanos() / 1000;
            r.row(p.key().database(), p.key().user(), s.clientsActive(), s.clientsWaiting(), 0, 0, s.serversActive(),
                    0, 0, s.serversIdle(), s.serversUsed(), s.serversTested(), s.serversLogin(),
                    waitUs / 1_000_000, waitUs % 1_000_000, p.settings().mode().configName(), null);
        }
        r.finish();
    }

    private void users(ByteBuf out) {
        Settings g = usher.config().settings();
        ResultSetWriter r = result(out, List.of("name", "pool_size", "reserve_pool_size", "pool_mode",
                "max_user_connections", "current_connections", "max_user_client_connections",
                "current_client_connections"), T, I, I, T, I, I, I, I);
        java.util.Set<String> names = new java.util.TreeSet<>(usher.config().userList().entries().keySet());
        names.addAll(usher.config().users().keySet());
        for (Pool p : usher.pools().pools()) {
            names.add(p.key().user()); // users known from auth_query or forced by a database entry, as PgBouncer
        }
        for (String name : names) {
            UserConfig u = usher.config().users().get(name);
            r.row(name, u == null ? null : u.poolSize(), u == null ? null : u.reservePoolSize(),
                    u == null || u.poolMode() == null ? null : u.poolMode().configName(),
                    u != null && u.maxUserConnections() != null ? u.maxUserConnections() : g.getInt("max_user_connections"),
                    usher.pools().userConnections(name),
                    u != null && u.maxUserClientConnections() != null ? u.maxUserClientConnections()
                            : g.getInt("max_user_client_connections"),
                    usher.clientsOfUser(name));
        }
        r.finish();
    }

    private static Object[] figures(DatabaseStats.Totals t) {
        return new Object[] {t.serverAssignments(), t.transactions(), t.queries(), t.received(), t.sent(),
                t.transactionMicros(), t.queryMicros(), t.waitMicros(), t.clientParses(), t.serverParses(), t.binds()};
    }

    private static final List<String> FIGURES = List.of("server_assignment_count", "xact_count", "query_count",
            "received", "sent", "xact_time", "query_time", "wait_time", "client_parse_count", "server_parse_count",
            "bind_count");

    /**
     * SHOW STATS: per database, the totals (total_*) and the last period's averages (avg_*), then
     * total_requests, the name PgBouncer before 1.8 gave total_query_count: exporters of that era
     * (Debian's prometheus-pgbouncer-exporter) read it by name, and a trailing column leaves
     * readers of the current columns undisturbed.
     */
    private void stats(ByteBuf out) {
        List<String> names = new java.util.ArrayList<>();
        FIGURES.forEach(f -> names.add("total_" + f));
        FIGURES.forEach(f -> names.add("avg_" + (f.equals("received") ? "recv" : f)));
        names.add("total_requests");
        perDatabase(out, names, db -> concat(concat(figures(db.totals()), figures(db.averages())),
                new Object[] {db.totals().queries()}));
    }

    /** SHOW STATS_TOTALS and SHOW STATS_AVERAGES: the same figures without the total_/avg_ prefixes. */
    private void statsTable(ByteBuf out, boolean averages) {
        List<String> names = new java.util.ArrayList<>();
        FIGURES.forEach(f -> names.add(f.equals("received") ? "bytes_received" : f.equals("sent") ? "bytes_sent" : f));
        perDatabase(out, names, db -> figures(averages ? db.averages() : db.totals()));
    }

    /** A "database" column, then integer columns filled per database by {@code values}. */
    private void perDatabase(ByteBuf out, List<String> figureNames,
                             java.util.function.Function<DatabaseStats, Object[]> values) {
        List<String> names = new java.util.ArrayList<>();
        names.add("database");
        names.addAll(figureNames);
        int[] types = new int[names.size()];
        java.util.Arrays.fill(types, I);
        types[0] = T;
        ResultSetWriter r = result(out, names, types);
        for (DatabaseStats db : usher.stats().all()) {
            r.row(concat(new Object[] {db.database()}, values.apply(db)));
        }
        r.finish();
    }

    private static Object[] concat(Object[] a, Object[] b) {
        Object[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    /** SHOW TOTALS: SHOW STATS summed over all databases, as name/value rows. */
    private void totals(ByteBuf out) {
        ResultSetWriter r = result(out, List.of("name", "value"), T, I);
        Object[] total = figures(usher.stats().sum());
        for (int i = 0; i < FIGURES.size(); i++) {
            r.row("total_" + FIGURES.get(i), total[i]);
        }
        Object[] avg = figures(usher.stats().sumAverages());
        for (int i = 0; i < FIGURES.size(); i++) {
            r.row("avg_" + (FIGURES.get(i).equals("received") ? "recv" : FIGURES.get(i)), avg[i]);
        }
        r.finish();
    }

    private static final List<String> SOCKET_COLUMNS = List.of("type", "user", "database", "replication", "state",
            "addr", "port", "local_addr", "local_port", "connect_time", "request_time", "wait", "wait_us",
            "close_needed", "ptr", "link", "remote_pid", "tls", "application_name", "prepared_statements", "id");
    private static final int[] SOCKET_TYPES = {T, T, T, T, T, T, I, T, I, T, T, I, I, I, T, T, I, T, T, I, I};
    private static final java.time.format.DateTimeFormatter TIME =
            java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(java.time.ZoneOffset.UTC);

    private static String time(long millis) {
        return TIME.format(java.time.Instant.ofEpochMilli(millis));
    }

    /** A stable, unique handle for a connection object, shown as ptr/link (PgBouncer shows addresses). */
    static String ptr(Object o) {
        return o == null ? null : String.format("0x%08x", System.identityHashCode(o));
    }

    private static Object host(java.net.SocketAddress a) {
        return a instanceof java.net.InetSocketAddress ? ((java.net.InetSocketAddress) a).getAddress().getHostAddress() : "unix";
    }

    private static Object port(java.net.SocketAddress a) {
        return a instanceof java.net.InetSocketAddress ? ((java.net.InetSocketAddress) a).getPort() : 0;
    }

    private void clients(ByteBuf out) {
        ResultSetWriter r = result(out, SOCKET_COLUMNS, SOCKET_TYPES);
        clientRows(r);
        r.finish();
    }

    private void clientRows(ResultSetWriter r) {
        for (io.usher.client.ClientConnection c : usher.clients()) {
            io.usher.client.ClientConnection.ConsoleView v = c.consoleView();
            if (!v.loggedIn()) {
                continue;
            }
            long waitUs = v.waitNanos() / 1000;
            r.row("C", v.user(), v.database(), "none", v.state(), host(v.remote()), port(v.remote()), host(v.local()),
                    port(v.local()), time(v.connectedMillis()), time(v.requestMillis()), waitUs / 1_000_000,
                    waitUs % 1_000_000, 0, ptr(c), ptr(v.server()), 0, v.tls(), v.applicationName(),
                    c.preparedStatementCount(), c.cancelPid());
        }
    }

    private void servers(ByteBuf out) {
        ResultSetWriter r = result(out, SOCKET_COLUMNS, SOCKET_TYPES);
        serverRows(r);
        r.finish();
    }

    private void serverRows(ResultSetWriter r) {
        long now = System.nanoTime();
        long nowMillis = System.currentTimeMillis();
        for (Pool p : usher.pools().pools()) {
            for (io.usher.server.ServerConnection s : p.servers()) {
                io.netty.channel.Channel ch = s.channel();
                if (ch == null) {
                    continue;
                }
                Object owner = s.owner();
                String state;
                switch (s.state()) {
                    case ACTIVE: state = "active"; break;
                    case INTERNAL: state = "tested"; break;
                    case CONNECTING: case LOGIN: state = "new"; break;
                    default: state = s.needsCheck(p.settings()) ? "used" : "idle";
                }
                String app = owner instanceof io.usher.client.ClientConnection
                        ? ((io.usher.client.ClientConnection) owner).consoleView().applicationName() : "";
                long lastUse = nowMillis - (now - s.idleSinceNanos()) / 1_000_000;
                r.row("S", p.key().user(), p.key().database(), "none", state, host(ch.remoteAddress()),
                        port(ch.remoteAddress()), host(ch.localAddress()), port(ch.localAddress()),
                        time(s.createdMillis()), time(lastUse), 0, 0, s.endpoint() != p.endpoint() ? 1 : 0,
                        ptr(s), ptr(owner), s.backendPid(), s.tlsInfo(), app, s.preparedStatementCount(), s.backendPid());
            }
        }
    }

    private void lists(ByteBuf out) {
        ResultSetWriter r = result(out, List.of("list", "items"), T, I);
        int servers = 0;
        for (Pool p : usher.pools().pools()) {
            servers += p.serverCount();
        }
        int login = 0;
        for (io.usher.client.ClientConnection c : usher.clients()) {
            if (!c.consoleView().loggedIn()) {
                login++;
            }
        }
        r.row("databases", usher.config().databases().size());
        r.row("users", usher.config().userList().size());
        r.row("peers", usher.config().peers().size());
        r.row("pools", usher.pools().pools().size());
        r.row("peer_pools", usher.peers().pools().size());
        r.row("free_clients", 0);
        r.row("used_clients", usher.clients().size());
        r.row("login_clients", login);
        r.row("free_servers", 0);
        r.row("used_servers", servers);
        io.usher.server.DnsCache dns = usher.pools().network().dns();
        r.row("dns_names", dns.entries().size());
        r.row("dns_zones", 0);
        r.row("dns_queries", dns.pendingCount());
        r.row("dns_pending", 0); // "not used" in PgBouncer either
        r.finish();
    }

    /**
     * SHOW DNS_HOSTS: the host names of server addresses in the DNS cache, with the seconds until
     * the next lookup and the addresses (empty for a failed lookup). IP addresses are never cached.
     */
    private void dnsHosts(ByteBuf out) {
        ResultSetWriter r = result(out, List.of("hostname", "ttl", "addrs"), T, I, T);
        io.usher.server.DnsCache dns = usher.pools().network().dns();
        List<io.usher.server.DnsCache.Entry> entries = new java.util.ArrayList<>(dns.entries());
        entries.sort(java.util.Comparator.comparing(io.usher.server.DnsCache.Entry::host));
        for (io.usher.server.DnsCache.Entry e : entries) {
            StringBuilder addrs = new StringBuilder();
            for (java.net.InetAddress a : e.addresses()) {
                if (addrs.length() > 0) {
                    addrs.append(',');
                }
                addrs.append(a.getHostAddress());
            }
            r.row(e.host(), dns.secondsLeft(e), addrs.toString());
        }
        r.finish();
    }

    /** SHOW SOCKETS and ACTIVE_SOCKETS: client and server rows together (Usher has no lower-level buffer view). */
    private void sockets(ByteBuf out) {
        ResultSetWriter r = result(out, SOCKET_COLUMNS, SOCKET_TYPES);
        clientRows(r);
        serverRows(r);
        r.finish();
    }

    private void peers(ByteBuf out) {
        ResultSetWriter r = result(out, List.of("peer_id", "host", "port", "pool_size"), I, T, I, I);
        for (io.usher.config.PeerConfig p : usher.config().peers().values()) {
            r.row(p.peerId(), String.join(",", p.hosts()), p.port(), usher.peers().poolSize(p.peerId()));
        }
        r.finish();
    }

    /** SHOW PEER_POOLS: PgBouncer 1.25's columns, for the peers a cancel request has been forwarded to. */
    private void peerPools(ByteBuf out) {
        ResultSetWriter r = result(out, List.of("peer_id", "cl_active_cancel_req", "cl_waiting_cancel_req",
                "sv_active_cancel", "sv_login"), I, I, I, I, I);
        for (io.usher.peers.PeerPool p : usher.peers().pools()) {
            io.usher.peers.PeerPool.Counts n = p.counts();
            r.row(p.peerId(), n.activeRequests(), n.waitingRequests(), n.activeConnections(), n.loginConnections());
        }
        r.finish();
    }

    /** SHOW MEM: PgBouncer lists its slab caches; the JVM's counterparts are its memory pools. */
    private void mem(ByteBuf out) {
        ResultSetWriter r = result(out, List.of("name", "size", "used", "free", "memtotal"), T, I, I, I, I);
        for (java.lang.management.MemoryPoolMXBean pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
            java.lang.management.MemoryUsage u = pool.getUsage();
            long committed = Math.max(0, u.getCommitted());
            r.row(pool.getName(), 1, u.getUsed(), Math.max(0, committed - u.getUsed()), committed);
        }
        for (java.lang.management.BufferPoolMXBean b
                : java.lang.management.ManagementFactory.getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class)) {
            r.row("buffers " + b.getName(), b.getCount(), b.getMemoryUsed(), 0, b.getTotalCapacity());
        }
        r.finish();
    }

    private static Object fd(io.netty.channel.Channel ch) {
        return ch instanceof io.netty.channel.unix.UnixChannel ? ((io.netty.channel.unix.UnixChannel) ch).fd().intValue() : null;
    }

    private void fds(ByteBuf out) {
        ResultSetWriter r = result(out, List.of("fd", "task", "user", "database", "addr", "port", "cancel", "link"),
                I, T, T, T, T, I, I, I);
        for (io.usher.client.ClientConnection c : usher.clients()) {
            io.usher.client.ClientConnection.ConsoleView v = c.consoleView();
            r.row(fd(c.channel()), "client", v.user(), v.database(), host(v.remote()), port(v.remote()), c.cancelKey(),
                    v.server() == null || v.server().channel() == null ? null : fd(v.server().channel()));
        }
        for (Pool p : usher.pools().pools()) {
            for (io.usher.server.ServerConnection s : p.servers()) {
                if (s.channel() != null) {
                    r.row(fd(s.channel()), "server", p.key().user(), p.key().database(), host(s.channel().remoteAddress()),
                            port(s.channel().remoteAddress()), s.backendKey(), null);
                }
            }
        }
        r.finish();
    }

    private void state(ByteBuf out) {
        ResultSetWriter r = result(out, List.of("key", "value"), T, T);
        r.row("active", "yes");
        r.row("paused", usher.pools().isPaused(null) ? "yes" : "no");
        r.row("suspended", "no");
        r.finish();
    }
}

package io.usher.pool;

import io.netty.channel.EventLoop;
import io.usher.auth.StoredSecret;
import io.usher.config.DatabaseConfig;
import io.usher.config.Settings;
import io.usher.config.UserConfig;
import io.usher.config.UsherConfig;
import io.usher.server.ServerConnection;
import io.usher.server.ServerCredentials;
import io.usher.server.ServerEndpoint;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * All pools, created on first use, and the connection counts they share per database and per
 * user (max_db_connections, max_user_connections).
 */
public final class PoolManager implements Pool.Evictor {
    private final UsherConfig config;
    private final Map<PoolKey, Pool> pools = new ConcurrentHashMap<>();
    private final Map<String, Counter> databaseCounts = new ConcurrentHashMap<>();
    private final Map<String, Counter> userCounts = new ConcurrentHashMap<>();
    private final Map<String, ServerCredentials> credentials = new ConcurrentHashMap<>();

    public PoolManager(UsherConfig config) {
        this.config = config;
    }

    /** The user server connections log in as: the entry's forced user, else the client's own. */
    public static String serverUser(DatabaseConfig db, String clientUser) {
        return db.user() != null ? db.user() : clientUser;
    }

    /** The pool serving {@code clientUser} on database entry {@code db}, created on first use. */
    public Pool poolFor(DatabaseConfig db, String clientUser) {
        String user = serverUser(db, clientUser);
        return pools.computeIfAbsent(new PoolKey(db.name(), user), k -> createPool(k, db, user));
    }

    private Pool createPool(PoolKey key, DatabaseConfig db, String user) {
        Settings g = config.settings();
        UserConfig userConfig = config.users().get(user);
        PoolSettings settings = PoolSettings.resolve(g, db, userConfig);
        ServerEndpoint endpoint = new ServerEndpoint(db.hosts(), db.port(), db.dbname() != null ? db.dbname() : db.name(),
                credentialsFor(db, user), startupParameters(db), defaultSocketDir(g));
        return new Pool(key, endpoint, settings,
                databaseCounts.computeIfAbsent(db.name(), n -> new Counter()),
                userCounts.computeIfAbsent(user, n -> new Counter()), this);
    }

    @Override
    public void evictFor(Pool starving, Pool.Limit limit) {
        for (Pool other : pools.values()) {
            if (other == starving) {
                continue;
            }
            boolean shares = limit == Pool.Limit.DATABASE
                    ? other.key().database().equals(starving.key().database())
                    : other.key().user().equals(starving.key().user());
            if (shares) {
                ServerConnection victim = other.takeIdleForEviction();
                if (victim != null) {
                    victim.close("evicted");
                    return;
                }
            }
        }
    }

    /** Credentials are per login user (and per forced password), shared by that user's pools. */
    public ServerCredentials credentialsFor(DatabaseConfig db, String user) {
        if (db.user() != null && db.password() != null) {
            return credentials.computeIfAbsent(db.name() + "\0" + user,
                    k -> new ServerCredentials(user, StoredSecret.parse(db.password())));
        }
        return credentials.computeIfAbsent(user, u -> new ServerCredentials(u,
                config.userList().secret(u).map(StoredSecret::parse).orElse(null)));
    }

    private static Map<String, String> startupParameters(DatabaseConfig db) {
        Map<String, String> p = new LinkedHashMap<>();
        if (db.clientEncoding() != null) {
            p.put("client_encoding", db.clientEncoding());
        }
        if (db.datestyle() != null) {
            p.put("DateStyle", db.datestyle());
        }
        if (db.timezone() != null) {
            p.put("TimeZone", db.timezone());
        }
        if (db.applicationName() != null) {
            p.put("application_name", db.applicationName());
        }
        return p;
    }

    private static String defaultSocketDir(Settings g) {
        String dir = g.getString("unix_socket_dir");
        return dir.isEmpty() ? "/tmp" : dir;
    }

    public Collection<Pool> pools() {
        return pools.values();
    }

    /** Server connections open (or opening) to a database, over all its pools. */
    public int databaseConnections(String database) {
        Counter c = databaseCounts.get(database);
        return c == null ? 0 : c.get();
    }

    /** Server connections open (or opening) for a user, over all its pools. */
    public int userConnections(String user) {
        Counter c = userCounts.get(user);
        return c == null ? 0 : c.get();
    }

    /** Periodic upkeep of every pool; new servers open on {@code loop}. */
    public void maintain(EventLoop loop) {
        for (Pool p : pools.values()) {
            p.maintain(loop);
        }
    }

    /** Creates the pools of databases with a forced user and min_pool_size, so they fill at start. */
    public void prewarm() {
        for (DatabaseConfig db : config.databases().values()) {
            if (db.user() != null && !"*".equals(db.name())) {
                Pool p = poolFor(db, db.user());
                if (p.settings().minPoolSize() == 0) {
                    pools.remove(p.key());
                }
            }
        }
    }

    public void close() {
        List.copyOf(pools.values()).forEach(Pool::close);
    }
}

package io.usher.pool;

import io.netty.channel.EventLoop;
import io.usher.auth.StoredSecret;
import io.usher.config.DatabaseConfig;
import io.usher.config.Settings;
import io.usher.config.TargetSessionAttrs;
import io.usher.config.UserConfig;
import io.usher.config.UsherConfig;
import io.usher.server.ServerConnection;
import io.usher.stats.StatsRegistry;
import io.usher.server.ServerCredentials;
import io.usher.server.ServerEndpoint;
import io.usher.server.ServerNetwork;

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
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PoolManager.class);
    private volatile UsherConfig config;
    private final Map<PoolKey, Pool> pools = new ConcurrentHashMap<>();
    private final Map<String, Counter> databaseCounts = new ConcurrentHashMap<>();
    private final Map<String, Counter> userCounts = new ConcurrentHashMap<>();
    private final Map<String, ServerCredentials> credentials = new ConcurrentHashMap<>();
    /** Users not in auth_file, per database entry and user: secrets from auth_query. */
    private final Map<String, ServerCredentials> dynamicCredentials = new ConcurrentHashMap<>();

    private final StatsRegistry stats;
    private final ServerNetwork network;

    public PoolManager(UsherConfig config, StatsRegistry stats) {
        this.config = config;
        this.stats = stats;
        this.network = new ServerNetwork(config.settings());
    }

    /** The DNS cache and socket options of server connections. */
    public ServerNetwork network() {
        return network;
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

    /**
     * The pool of {@code loginUser} on database entry {@code db} even when the entry forces another
     * user: auth_query runs as auth_user on the auth database.
     */
    public Pool poolForLogin(DatabaseConfig db, String loginUser) {
        return pools.computeIfAbsent(new PoolKey(db.name(), loginUser), k -> createPool(k, db, loginUser));
    }

    /**
     * The pool for a client that has logged in, with the client counted in it. A pool that was
     * dropped meanwhile (autodb_idle_timeout) is replaced by a new one.
     */
    public Pool attach(DatabaseConfig db, String clientUser) {
        while (true) {
            Pool p = poolFor(db, clientUser);
            if (p.clientAttached()) {
                return p;
            }
            pools.remove(p.key(), p);
        }
    }

    private Pool createPool(PoolKey key, DatabaseConfig db, String user) {
        PoolSettings settings = settingsFor(db, user);
        ServerEndpoint endpoint = endpointFor(db, user);
        Pool pool = new Pool(key, endpoint, settings,
                databaseCounts.computeIfAbsent(db.name(), n -> new Counter()),
                userCounts.computeIfAbsent(user, n -> new Counter()), this, stats.forDatabase(key.database()));
        if (pausedAll || pausedDatabases.contains(key.database())) {
            pool.pause();
        }
        return pool;
    }

    private PoolSettings settingsFor(DatabaseConfig db, String user) {
        return PoolSettings.resolve(config.settings(), db, config.users().get(user));
    }

    private ServerEndpoint endpointFor(DatabaseConfig db, String user) {
        return new ServerEndpoint(db.hosts(), db.port(), db.dbname() != null ? db.dbname() : db.name(),
                credentialsFor(db, user), startupParameters(db), defaultSocketDir(config.settings()),
                !"disable".equals(db.loadBalanceHosts()),
                db.targetSessionAttrs() == null ? TargetSessionAttrs.ANY : db.targetSessionAttrs(), network);
    }

    /**
     * RELOAD: new settings apply to existing pools at once; a pool whose server address, database
     * or login changed gets a new endpoint, and its old servers are closed as they come back
     * (clients mid-transaction keep theirs until then). Pools of removed databases are closed.
     */
    public void reconfigure(UsherConfig next) {
        UsherConfig previous = config;
        config = next;
        boolean tlsChanged = network.configure(next.settings());
        if (tlsChanged) {
            log.info("server TLS settings changed: reconnecting all pools");
        }
        if (!next.userList().entries().equals(previous.userList().entries())) {
            credentials.clear();
        }
        for (Pool pool : pools.values()) {
            java.util.Optional<DatabaseConfig> db = next.database(pool.key().database());
            if (db.isEmpty()) {
                pools.remove(pool.key());
                pool.close();
                continue;
            }
            String user = pool.key().user();
            pool.updateSettings(settingsFor(db.get(), user));
            ServerEndpoint endpoint = endpointFor(db.get(), user);
            if (!endpoint.sameTarget(pool.endpoint()) || tlsChanged) {
                pool.updateEndpoint(endpoint);
            }
        }
    }

    // ---- PAUSE / RESUME ----

    private final java.util.Set<String> pausedDatabases = ConcurrentHashMap.newKeySet();
    private volatile boolean pausedAll;

    /** Pauses one database's pools (or all with null); servers are closed as clients release them. */
    public List<Pool> pause(String database) {
        if (database == null) {
            pausedAll = true;
        } else {
            pausedDatabases.add(database);
        }
        List<Pool> affected = new java.util.ArrayList<>();
        for (Pool p : pools.values()) {
            if (database == null || p.key().database().equals(database)) {
                p.pause();
                affected.add(p);
            }
        }
        return affected;
    }

    public void resume(String database) {
        if (database == null) {
            pausedAll = false;
            pausedDatabases.clear();
        } else {
            pausedDatabases.remove(database);
        }
        for (Pool p : pools.values()) {
            if (database == null || (!pausedAll && p.key().database().equals(database))) {
                p.resume();
            }
        }
    }

    private final java.util.Set<String> disabledDatabases = ConcurrentHashMap.newKeySet();

    /** DISABLE db / ENABLE db: new clients of a disabled database are refused. */
    public void setDisabled(String database, boolean disabled) {
        if (disabled) {
            disabledDatabases.add(database);
        } else {
            disabledDatabases.remove(database);
        }
    }

    public boolean isDisabled(String database) {
        return disabledDatabases.contains(database);
    }

    /** The pools of one database, or all with null. */
    public List<Pool> poolsOf(String database) {
        List<Pool> out = new java.util.ArrayList<>();
        for (Pool p : pools.values()) {
            if (database == null || p.key().database().equals(database)) {
                out.add(p);
            }
        }
        return out;
    }

    /** Whether a database (or, with null, everything) is paused. */
    public boolean isPaused(String database) {
        return pausedAll || (database != null && pausedDatabases.contains(database));
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

    /**
     * Credentials are per login user (and per forced password), shared by that user's pools. A user
     * that auth_file does not know has credentials per database entry, filled by auth_query at its
     * logins ({@link #learnSecret}), as PgBouncer keeps such users per database.
     */
    public ServerCredentials credentialsFor(DatabaseConfig db, String user) {
        if (db.user() != null && db.password() != null && user.equals(db.user())) {
            return credentials.computeIfAbsent(db.name() + "\0" + user,
                    k -> new ServerCredentials(user, StoredSecret.parse(db.password())));
        }
        UsherConfig c = config;
        if (c.serverPassword(user).isEmpty() && c.userList().secret(user).isEmpty()) {
            return dynamicCredentials.computeIfAbsent(db.name() + "\0" + user, k -> new ServerCredentials(user, null));
        }
        // a password from the environment (DATABASE_URL ...) logs in with any server auth method;
        // the auth_file entry made from it is only a hash
        return credentials.computeIfAbsent(user, u -> new ServerCredentials(u, config.serverPassword(u)
                .<StoredSecret>map(StoredSecret.Plain::new)
                .orElseGet(() -> config.userList().secret(u).map(StoredSecret::parse).orElse(null))));
    }

    /**
     * What auth_query returned for {@code clientUser} of database entry {@code db} at a successful
     * login: the secret server connections of the user's pool log in with from now on. Nothing to do
     * when the entry forces a user (the pool logs in as that one) or auth_file knows the user.
     */
    public void learnSecret(DatabaseConfig db, String clientUser, StoredSecret secret) {
        if (db.user() != null) {
            return;
        }
        ServerCredentials c = credentialsFor(db, clientUser);
        if (c == dynamicCredentials.get(db.name() + "\0" + clientUser)) {
            c.update(secret);
        }
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
        dropIdleAutodatabases();
    }

    /** Databases made from the "*" entry: nanoTime since when all their pools are unused (absent = in use). */
    private final Map<String, Long> autodbIdleSince = new java.util.HashMap<>();

    /**
     * autodb_idle_timeout, as PgBouncer: a database made from the "*" entry whose pools have had no
     * client and no server connection for this long is dropped, pools and statistics. Runs on the
     * janitor only.
     */
    private void dropIdleAutodatabases() {
        UsherConfig c = config;
        long timeout = c.databases().containsKey(DatabaseConfig.FALLBACK)
                ? c.settings().getDuration("autodb_idle_timeout").toNanos() : 0;
        if (timeout <= 0) {
            autodbIdleSince.clear();
            return;
        }
        Map<String, Boolean> unused = new java.util.HashMap<>();
        for (Pool p : pools.values()) {
            String db = p.key().database();
            if (!c.databases().containsKey(db) && !isPaused(db)) {
                unused.merge(db, p.isUnused(), Boolean::logicalAnd);
            }
        }
        autodbIdleSince.keySet().retainAll(unused.keySet());
        long now = System.nanoTime();
        for (Map.Entry<String, Boolean> e : unused.entrySet()) {
            String db = e.getKey();
            if (!e.getValue()) {
                autodbIdleSince.remove(db);
                continue;
            }
            Long since = autodbIdleSince.putIfAbsent(db, now);
            if (since != null && now - since > timeout) {
                dropDatabase(db);
            }
        }
    }

    private void dropDatabase(String database) {
        boolean all = true;
        for (Pool p : poolsOf(database)) {
            if (p.closeIfUnused()) {
                pools.remove(p.key(), p);
            } else {
                all = false; // a client came meanwhile
            }
        }
        autodbIdleSince.remove(database);
        if (all) {
            stats.forget(database);
            poolsOf(database).forEach(p -> stats.keep(p.stats())); // a client just made a new one
            log.info("dropping database '{}' as it does not exist anymore or inactive auto-database", database);
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
        network.close();
    }
}

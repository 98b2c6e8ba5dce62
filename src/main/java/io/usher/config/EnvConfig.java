package io.usher.config;

import io.usher.auth.Md5Password;
import io.usher.auth.ScramVerifier;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Configuration from environment variables (and {@code --database-url}), for containers: an
 * immutable layer that {@link UsherConfig} lays over or under a pgbouncer.ini. Read once at
 * startup; a RELOAD re-reads the file but keeps this layer (a process's environment does not change).
 *
 * <p>Three kinds of variables, from the highest precedence to the lowest:
 * <ol>
 *   <li>{@code USHER_<SETTING>}: one per {@code [pgbouncer]} key, the key in capitals
 *       ({@code USHER_POOL_MODE}, {@code USHER_LISTEN_PORT}). They win over the file. An
 *       {@code USHER_} variable that names no setting (and is not one of {@link #RESERVED}) is an
 *       error, so a typo does not go unnoticed.</li>
 *   <li>the file, if any (not read here).</li>
 *   <li>the names the edoburu/pgbouncer image reads: {@code DATABASE_URL}, {@code DATABASE_URLS},
 *       {@code DB_HOST}, {@code DB_PORT}, {@code DB_USER}, {@code DB_PASSWORD}, {@code DB_NAME},
 *       {@code POOL_MODE}, {@code MAX_CLIENT_CONN}, ... (see {@link #COMPAT_SETTINGS}). They only
 *       fill in what the file leaves unset. Without a file, the image's own defaults apply below
 *       them too: listen on 0.0.0.0:5432, no Unix socket, {@code auth_type = md5},
 *       {@code ignore_startup_parameters = extra_float_digits}, {@code admin_users = postgres}.</li>
 * </ol>
 * The command line ({@code --database-url}) is above all of them.
 *
 * <p>Databases and users, as the image makes them: the URL (or {@code DB_HOST}, {@code DB_PORT},
 * {@code DB_NAME}) becomes a {@code [databases]} entry named after the URL's database (the
 * fallback {@code *} when the URL names none), and the URL's user and password become an
 * auth_file entry kept in memory only, hashed (md5 for {@code auth_type = md5}, as the image does,
 * else a SCRAM-SHA-256 verifier). Server connections of that user log in with the password, so
 * the server may use md5, SCRAM or cleartext. {@code ADMIN_USERS}/{@code ADMIN_PASSWORDS} and
 * {@code STATS_USERS}/{@code STATS_PASSWORDS} add users the same way. Entries of a file's
 * auth_file and [databases] win over these.
 */
public final class EnvConfig {
    /** The prefix of Usher's own variables. */
    public static final String PREFIX = "USHER_";

    /** USHER_ variables that are not settings: read by the launcher, the CLI or the tests. */
    public static final Set<String> RESERVED = Set.of("USHER_HTTP_LISTEN", "USHER_MAX_HEAP", "USHER_JAR",
            "USHER_PG_BIN", "USHER_DEMO_CACHE", "USHER_LOG_FORMAT", "USHER_THREADS", "USHER_CDS");

    /**
     * The edoburu image's variables that set a [pgbouncer] key of the same name in lower case.
     * (Its POOL_SIZE, TIMEZONE and CLIENT_ENCODING go to the database entry, where PgBouncer
     * knows them; the image writes them where PgBouncer refuses them.)
     */
    public static final List<String> COMPAT_SETTINGS = List.of(
            "LISTEN_ADDR", "LISTEN_PORT", "UNIX_SOCKET_DIR", "AUTH_FILE", "AUTH_HBA_FILE", "AUTH_TYPE",
            "AUTH_USER", "AUTH_QUERY", "AUTH_DBNAME", "POOL_MODE", "MAX_CLIENT_CONN", "DEFAULT_POOL_SIZE",
            "MIN_POOL_SIZE", "RESERVE_POOL_SIZE", "RESERVE_POOL_TIMEOUT", "MAX_DB_CONNECTIONS",
            "MAX_USER_CONNECTIONS", "SERVER_ROUND_ROBIN", "IGNORE_STARTUP_PARAMETERS", "DISABLE_PQEXEC",
            "APPLICATION_NAME_ADD_HOST", "MAX_PREPARED_STATEMENTS", "LOG_CONNECTIONS", "LOG_DISCONNECTIONS",
            "LOG_POOLER_ERRORS", "LOG_STATS", "STATS_PERIOD", "VERBOSE", "ADMIN_USERS", "STATS_USERS",
            "LOGFILE", "SERVER_RESET_QUERY", "SERVER_RESET_QUERY_ALWAYS", "SERVER_CHECK_DELAY",
            "SERVER_CHECK_QUERY", "SERVER_LIFETIME", "SERVER_IDLE_TIMEOUT", "SERVER_CONNECT_TIMEOUT",
            "SERVER_LOGIN_RETRY", "CLIENT_LOGIN_TIMEOUT", "AUTODB_IDLE_TIMEOUT", "DNS_MAX_TTL",
            "DNS_NXDOMAIN_TTL", "CLIENT_TLS_SSLMODE", "CLIENT_TLS_KEY_FILE", "CLIENT_TLS_CERT_FILE",
            "CLIENT_TLS_CA_FILE", "CLIENT_TLS_PROTOCOLS", "CLIENT_TLS_CIPHERS", "CLIENT_TLS_ECDHCURVE",
            "CLIENT_TLS_DHEPARAMS", "SERVER_TLS_SSLMODE", "SERVER_TLS_CA_FILE", "SERVER_TLS_KEY_FILE",
            "SERVER_TLS_CERT_FILE", "SERVER_TLS_PROTOCOLS", "SERVER_TLS_CIPHERS", "QUERY_TIMEOUT",
            "QUERY_WAIT_TIMEOUT", "CLIENT_IDLE_TIMEOUT", "IDLE_TRANSACTION_TIMEOUT", "PKT_BUF",
            "MAX_PACKET_SIZE", "LISTEN_BACKLOG", "SBUF_LOOPCNT", "SUSPEND_TIMEOUT", "TCP_DEFER_ACCEPT",
            "TCP_KEEPALIVE", "TCP_KEEPCNT", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_USER_TIMEOUT");

    /** The edoburu image's variables that shape the database entry and the users. */
    public static final List<String> COMPAT_DATABASE = List.of("DATABASE_URL", "DATABASE_URLS", "DB_HOST",
            "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME", "POOL_SIZE", "CLIENT_ENCODING", "TIMEZONE",
            "ADMIN_PASSWORDS", "ADMIN_PASSWORD", "STATS_PASSWORDS");

    /** The image's settings when it writes the config itself (no file). */
    private static final List<String[]> FILELESS_DEFAULTS = List.of(
            new String[] {"listen_addr", "0.0.0.0"},
            new String[] {"listen_port", "5432"},
            new String[] {"unix_socket_dir", ""},
            new String[] {"auth_type", "md5"},
            new String[] {"ignore_startup_parameters", "extra_float_digits"},
            new String[] {"admin_users", "postgres"});

    /** Where the file-less defaults come from, as shown by {@code usher config check}. */
    public static final String FILELESS_DEFAULT_ORIGIN = "default without a config file (as edoburu/pgbouncer)";

    /** URL parameters that configure the pooler's server side; the others are for client libraries. */
    private static final Map<String, String> URL_PARAM_SETTINGS = Map.of(
            "sslmode", "server_tls_sslmode",
            "sslrootcert", "server_tls_ca_file",
            "sslcert", "server_tls_cert_file",
            "sslkey", "server_tls_key_file",
            "connect_timeout", "server_connect_timeout");
    private static final Set<String> URL_PARAM_ENTRY = Set.of("application_name", "client_encoding");

    /** One setting from one variable. */
    public record Value(String key, String value, String origin) {
    }

    /** A database entry: its name and connection string (never with a password in it). */
    public record Database(String name, String connectionString, String origin) {
    }

    /**
     * A user whose password came from the environment. The password stays in memory for server
     * logins; the auth_file entry made from it is a hash, computed once so a RELOAD sees the same one.
     */
    public static final class User {
        private final String name;
        private final String password;
        private final String origin;
        private final String md5Secret;
        private final String scramSecret;

        User(String name, String password, String origin, SecureRandom random) {
            this.name = name;
            this.password = password;
            this.origin = origin;
            this.md5Secret = Md5Password.encrypt(name, password);
            this.scramSecret = ScramVerifier.encode(ScramVerifier.generate(password, 4096, random));
        }

        public String name() {
            return name;
        }

        /** The password in clear, for server logins only. */
        public String password() {
            return password;
        }

        public String origin() {
            return origin;
        }

        /** The auth_file secret for this auth type: md5 for md5 (as the image writes it), else SCRAM. */
        public String secretFor(AuthType authType) {
            return authType == AuthType.MD5 ? md5Secret : scramSecret;
        }

        @Override
        public String toString() {
            return "User[" + name + ", " + origin + "]";
        }
    }

    private static final EnvConfig NONE = new EnvConfig(List.of(), List.of(), List.of(), List.of(), List.of(),
            List.of(), List.of());

    private final List<Value> filelessDefaults;
    private final List<Value> compat;
    private final List<Value> usher;
    private final List<Value> commandLine;
    private final List<Database> databases;
    private final List<User> users;
    private final List<String> notes;

    private EnvConfig(List<Value> filelessDefaults, List<Value> compat, List<Value> usher, List<Value> commandLine,
            List<Database> databases, List<User> users, List<String> notes) {
        this.filelessDefaults = List.copyOf(filelessDefaults);
        this.compat = List.copyOf(compat);
        this.usher = List.copyOf(usher);
        this.commandLine = List.copyOf(commandLine);
        this.databases = List.copyOf(databases);
        this.users = List.copyOf(users);
        this.notes = List.copyOf(notes);
    }

    /** No variables at all: a file alone, as PgBouncer reads it. */
    public static EnvConfig none() {
        return NONE;
    }

    /** Reads the process environment. */
    public static EnvConfig fromEnvironment(String databaseUrlOption) throws ConfigException {
        return from(System.getenv(), databaseUrlOption);
    }

    /**
     * @param env               the variables (e.g. {@link System#getenv()})
     * @param databaseUrlOption {@code --database-url} from the command line, or null; it replaces
     *                          {@code DATABASE_URL} and {@code DATABASE_URLS}
     * @throws ConfigException naming the variable that is wrong (never showing a password)
     */
    public static EnvConfig from(Map<String, String> env, String databaseUrlOption) throws ConfigException {
        Map<String, String> sorted = new TreeMap<>(env);
        List<Value> usher = new ArrayList<>();
        List<Value> compat = new ArrayList<>();
        List<Value> commandLine = new ArrayList<>();
        List<Database> databases = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        Map<String, User> users = new LinkedHashMap<>();
        SecureRandom random = new SecureRandom();

        for (Map.Entry<String, String> e : sorted.entrySet()) {
            String var = e.getKey();
            if (!var.startsWith(PREFIX) || RESERVED.contains(var)) {
                continue;
            }
            String key = var.substring(PREFIX.length()).toLowerCase(Locale.ROOT);
            if (!SettingDefs.all().containsKey(key) || !var.substring(PREFIX.length()).equals(key.toUpperCase(Locale.ROOT))) {
                throw new ConfigException("env " + var, 0, "unknown environment variable " + var
                        + ": Usher's variables are USHER_ and a [pgbouncer] setting in capitals" + suggestion(var));
            }
            usher.add(checked(key, e.getValue(), "env " + var));
        }
        for (String var : COMPAT_SETTINGS) {
            String value = nonEmpty(env, var);
            if (value != null) {
                compat.add(checked(var.toLowerCase(Locale.ROOT), value, "env " + var));
            }
        }

        // the database entries and their users
        List<Value> urlSettings = databaseUrlOption != null ? commandLine : compat;
        List<String[]> urls = new ArrayList<>();
        if (databaseUrlOption != null) {
            urls.add(new String[] {databaseUrlOption, "command line --database-url"});
        } else if (nonEmpty(env, "DATABASE_URL") != null) {
            urls.add(new String[] {env.get("DATABASE_URL"), "env DATABASE_URL"});
        } else if (nonEmpty(env, "DATABASE_URLS") != null) {
            for (String u : env.get("DATABASE_URLS").split(",")) {
                if (!u.isBlank()) {
                    urls.add(new String[] {u.trim(), "env DATABASE_URLS"});
                }
            }
        }
        Map<String, String> extraPairs = new LinkedHashMap<>();
        putIfSet(extraPairs, "pool_size", nonEmpty(env, "POOL_SIZE"));
        putIfSet(extraPairs, "client_encoding", nonEmpty(env, "CLIENT_ENCODING"));
        putIfSet(extraPairs, "timezone", nonEmpty(env, "TIMEZONE"));
        if (!urls.isEmpty()) {
            for (String[] u : urls) {
                DatabaseUrl url = DatabaseUrl.parse(u[0], u[1]);
                Map<String, String> pairs = new LinkedHashMap<>();
                pairs.put("host", String.join(",", url.hosts()));
                pairs.put("port", String.valueOf(url.port()));
                for (Map.Entry<String, String> p : url.params().entrySet()) {
                    String setting = URL_PARAM_SETTINGS.get(p.getKey());
                    if (setting != null) {
                        urlSettings.add(checked(setting, p.getValue(), u[1] + " (" + p.getKey() + ")"));
                    } else if (URL_PARAM_ENTRY.contains(p.getKey())) {
                        pairs.put(p.getKey(), p.getValue());
                    } else {
                        notes.add(u[1] + ": parameter " + p.getKey() + " is for client libraries; ignored");
                    }
                }
                pairs.putAll(extraPairs);
                addDatabase(databases, url.database(), pairs, u[1]);
                if (url.user() != null && url.password() != null) {
                    users.putIfAbsent(url.user(), new User(url.user(), url.password(), u[1], random));
                } else if (url.user() != null) {
                    notes.add(u[1] + ": no password for user " + url.user()
                            + "; clients log in as that user only with an auth_file entry (or auth_type trust)");
                }
            }
        } else if (nonEmpty(env, "DB_HOST") != null) {
            Map<String, String> pairs = new LinkedHashMap<>();
            pairs.put("host", env.get("DB_HOST"));
            pairs.put("port", nonEmpty(env, "DB_PORT") != null ? env.get("DB_PORT") : "5432");
            pairs.putAll(extraPairs);
            addDatabase(databases, nonEmpty(env, "DB_NAME"), pairs, "env DB_HOST");
            String user = nonEmpty(env, "DB_USER");
            String password = nonEmpty(env, "DB_PASSWORD");
            if (user != null && password != null) {
                users.putIfAbsent(user, new User(user, password, "env DB_USER/DB_PASSWORD", random));
            }
        }
        addUserList(env, users, "ADMIN_USERS", "ADMIN_PASSWORDS", random);
        addUserList(env, users, "STATS_USERS", "STATS_PASSWORDS", random);
        String adminPassword = nonEmpty(env, "ADMIN_PASSWORD");
        if (adminPassword != null && nonEmpty(env, "ADMIN_PASSWORDS") == null) {
            String admin = nonEmpty(env, "ADMIN_USERS") != null ? env.get("ADMIN_USERS").trim() : "postgres";
            if (admin.contains(",")) {
                throw new ConfigException("env ADMIN_PASSWORD", 0,
                        "ADMIN_PASSWORD is for a single admin user; use ADMIN_PASSWORDS for a list");
            }
            users.putIfAbsent(admin, new User(admin, adminPassword, "env ADMIN_PASSWORD", random));
        }

        List<Value> fileless = new ArrayList<>();
        for (String[] d : FILELESS_DEFAULTS) {
            fileless.add(new Value(d[0], d[1], FILELESS_DEFAULT_ORIGIN));
        }
        return new EnvConfig(fileless, compat, usher, commandLine, databases, new ArrayList<>(users.values()), notes);
    }

    /** Whether the variables name a database server (DATABASE_URL, DATABASE_URLS or DB_HOST). */
    public boolean hasDatabases() {
        return !databases.isEmpty();
    }

    /** The image's defaults, for a configuration without a file. */
    public List<Value> filelessDefaults() {
        return filelessDefaults;
    }

    /** Settings from the edoburu image's variables (and a DATABASE_URL's parameters). */
    public List<Value> compatSettings() {
        return compat;
    }

    /** Settings from USHER_ variables. */
    public List<Value> usherSettings() {
        return usher;
    }

    /** Settings from the command line (the parameters of --database-url). */
    public List<Value> commandLineSettings() {
        return commandLine;
    }

    public List<Database> databases() {
        return databases;
    }

    public List<User> users() {
        return users;
    }

    /** Things worth a log line: ignored URL parameters, users without a password. */
    public List<String> notes() {
        return notes;
    }

    @Override
    public String toString() {
        return "EnvConfig[usher=" + usher.size() + ", compat=" + compat.size() + ", databases="
                + databases.stream().map(Database::name).toList() + ", users=" + users.stream().map(User::name).toList() + "]";
    }

    private static void addDatabase(List<Database> databases, String name, Map<String, String> pairs, String origin)
            throws ConfigException {
        String entryName = name == null ? DatabaseConfig.FALLBACK : name;
        for (Database d : databases) {
            if (d.name().equals(entryName)) {
                throw new ConfigException(origin, 0, "two URLs for database \"" + entryName + "\"");
            }
        }
        StringBuilder connstr = new StringBuilder();
        for (Map.Entry<String, String> p : pairs.entrySet()) {
            if (connstr.length() > 0) {
                connstr.append(' ');
            }
            connstr.append(p.getKey()).append('=').append(quote(p.getValue()));
        }
        // checked now, so a bad value is reported against the variable
        DatabaseEntries.parse(entryName, connstr.toString(), origin, 0);
        databases.add(new Database(entryName, connstr.toString(), origin));
    }

    private static void addUserList(Map<String, String> env, Map<String, User> users, String namesVar,
            String passwordsVar, SecureRandom random) throws ConfigException {
        String names = nonEmpty(env, namesVar);
        String passwords = nonEmpty(env, passwordsVar);
        if (names == null || passwords == null) {
            return;
        }
        String[] n = names.split(",");
        String[] p = passwords.split(",", -1);
        if (n.length != p.length) {
            throw new ConfigException("env " + passwordsVar, 0, passwordsVar + " has " + p.length
                    + " passwords for " + n.length + " users in " + namesVar);
        }
        for (int i = 0; i < n.length; i++) {
            String user = n[i].trim();
            if (!user.isEmpty() && !p[i].isEmpty()) {
                users.putIfAbsent(user, new User(user, p[i], "env " + passwordsVar, random));
            }
        }
    }

    private static Value checked(String key, String value, String origin) throws ConfigException {
        String problem = SettingValues.validate(SettingDefs.all().get(key), value);
        if (problem != null) {
            throw new ConfigException(origin, 0, "invalid value \"" + value + "\" for parameter " + key + ": " + problem);
        }
        return new Value(key, value, origin);
    }

    private static String nonEmpty(Map<String, String> env, String var) {
        String v = env.get(var);
        return v == null || v.isEmpty() ? null : v;
    }

    private static void putIfSet(Map<String, String> m, String key, String value) {
        if (value != null) {
            m.put(key, value);
        }
    }

    /** A connection string value, single-quoted when it holds whitespace or quotes. */
    private static String quote(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isWhitespace(c) || c == '\'') {
                return "'" + value.replace("'", "''") + "'";
            }
        }
        return value;
    }

    /** " (did you mean USHER_X?)" for the setting closest to a mistyped variable, if one is close. */
    private static String suggestion(String var) {
        String wanted = var.substring(PREFIX.length()).toLowerCase(Locale.ROOT);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String key : new LinkedHashSet<>(SettingDefs.all().keySet())) {
            int d = distance(wanted, key);
            if (d < bestDistance) {
                bestDistance = d;
                best = key;
            }
        }
        return best != null && bestDistance <= 3 ? " (did you mean " + PREFIX + best.toUpperCase(Locale.ROOT) + "?)" : "";
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}

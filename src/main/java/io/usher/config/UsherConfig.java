package io.usher.config;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The whole configuration: a pgbouncer.ini with its {@code %include}s and the {@code auth_file}
 * it names. Immutable; a reload builds a new one.
 *
 * <p>Loading follows PgBouncer 1.25: the same syntax, keys, types and defaults, and the same
 * things are errors (unknown keys and sections, bad values, malformed lines, a missing
 * {@code [pgbouncer]} section). Relative paths in {@code %include} and {@code auth_file} are
 * resolved against the process working directory, as PgBouncer does.
 */
public final class UsherConfig {
    private final Path file;
    private final EnvConfig env;
    private final Settings settings;
    private final Map<String, DatabaseConfig> databases;
    private final Map<String, String> databaseOrigins;
    private final Map<String, UserConfig> users;
    private final Map<Integer, PeerConfig> peers;
    private final UserList userList;
    /** Passwords from the environment of users whose auth_file entry was made from them. */
    private final Map<String, String> serverPasswords;

    private UsherConfig(Path file, EnvConfig env, Settings settings, Map<String, DatabaseConfig> databases,
            Map<String, String> databaseOrigins, Map<String, UserConfig> users, Map<Integer, PeerConfig> peers,
            UserList userList, Map<String, String> serverPasswords) {
        this.file = file;
        this.env = env;
        this.settings = settings;
        this.databases = Collections.unmodifiableMap(new LinkedHashMap<>(databases));
        this.databaseOrigins = Map.copyOf(databaseOrigins);
        this.users = Collections.unmodifiableMap(new LinkedHashMap<>(users));
        this.peers = Collections.unmodifiableMap(new LinkedHashMap<>(peers));
        this.userList = userList;
        this.serverPasswords = Map.copyOf(serverPasswords);
    }

    /** Reads an ini file, its includes and its auth_file. */
    public static UsherConfig load(Path iniFile) throws ConfigException {
        return load(iniFile, EnvConfig.none());
    }

    /**
     * Reads an ini file, its includes and its auth_file, with the environment's layers over and
     * under it (see {@link EnvConfig}).
     */
    public static UsherConfig load(Path iniFile, EnvConfig env) throws ConfigException {
        return assemble(TextFiles.read(iniFile, "config file"), iniFile, env);
    }

    /**
     * A configuration without a file: the edoburu image's defaults, then its variables, then
     * USHER_ variables, then the command line.
     *
     * @throws ConfigException when the environment names no database (no DATABASE_URL, DATABASE_URLS or DB_HOST)
     */
    public static UsherConfig fromEnvironment(EnvConfig env) throws ConfigException {
        if (!env.hasDatabases()) {
            throw new ConfigException("environment", 0, "no config file given, and no DATABASE_URL, DATABASE_URLS "
                    + "or DB_HOST in the environment to build one from");
        }
        return assemble(null, null, env);
    }

    /**
     * Parses ini text as if it were the contents of {@code fileForErrorsAndIncludes}: that path
     * names the file in errors and is the default of {@code conffile}. Includes and auth_file are
     * read from disk (relative paths against the working directory, as in PgBouncer).
     */
    public static UsherConfig parse(String text, Path fileForErrorsAndIncludes) throws ConfigException {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(fileForErrorsAndIncludes, "fileForErrorsAndIncludes");
        return assemble(text, fileForErrorsAndIncludes, EnvConfig.none());
    }

    /**
     * RELOAD: the same sources read again (the file, if any, and its auth_file; the environment
     * layer is the one read at startup).
     */
    public UsherConfig reload() throws ConfigException {
        return file == null ? fromEnvironment(env) : load(file, env);
    }

    /**
     * Layers, lowest first: PgBouncer's defaults; without a file the edoburu image's defaults; the
     * image's variables; the file; USHER_ variables; the command line.
     */
    private static UsherConfig assemble(String text, Path file, EnvConfig env) throws ConfigException {
        Path workingDir = Path.of("").toAbsolutePath();
        Settings.Builder settings = Settings.builder();
        if (file == null) {
            setAll(settings, env.filelessDefaults());
        }
        setAll(settings, env.compatSettings());

        Map<String, DatabaseConfig> databases = new LinkedHashMap<>();
        Map<String, String> databaseOrigins = new LinkedHashMap<>();
        Map<String, UserConfig> users = Map.of();
        Map<Integer, PeerConfig> peers = Map.of();
        if (file != null) {
            String fileName = file.toString();
            ConfigAssembler assembler = new ConfigAssembler();
            new IniParser(workingDir, assembler).parse(text, fileName);
            if (!assembler.sawMainSection()) {
                throw new ConfigException(fileName, 0, "main section [pgbouncer] missing from config file");
            }
            settings.overlay(assembler.settings());
            settings.defaultValue("conffile", fileName);
            databases.putAll(assembler.databases());
            databaseOrigins.putAll(assembler.databaseOrigins());
            users = assembler.users();
            peers = assembler.peers();
        }
        setAll(settings, env.usherSettings());
        setAll(settings, env.commandLineSettings());
        Settings built = settings.build();

        // the environment's database entries fill in names the file does not have
        for (EnvConfig.Database d : env.databases()) {
            if (!databases.containsKey(d.name())) {
                databases.put(d.name(), DatabaseEntries.parse(d.name(), d.connectionString(), d.origin(), 0));
                databaseOrigins.put(d.name(), d.origin());
            }
        }

        UserList fromFile = loadUserList(built, workingDir);
        Map<String, String> extra = new LinkedHashMap<>();
        Map<String, String> extraOrigins = new LinkedHashMap<>();
        Map<String, String> serverPasswords = new LinkedHashMap<>();
        for (EnvConfig.User u : env.users()) {
            if (fromFile.secret(u.name()).isEmpty()) {
                extra.put(u.name(), u.secretFor(built.authType()));
                extraOrigins.put(u.name(), u.origin());
                serverPasswords.put(u.name(), u.password());
            }
        }
        UserList userList = extra.isEmpty() ? fromFile : fromFile.withDefaults(extra, extraOrigins);
        return new UsherConfig(file, env, built, databases, databaseOrigins, users, peers, userList, serverPasswords);
    }

    private static void setAll(Settings.Builder settings, List<EnvConfig.Value> values) throws ConfigException {
        for (EnvConfig.Value v : values) {
            settings.set(v.key(), v.value(), v.origin(), 0);
        }
    }

    /** Like PgBouncer, reads auth_file only when it is set and the auth type uses it (not any, not pam). */
    private static UserList loadUserList(Settings settings, Path workingDir) throws ConfigException {
        String authFile = settings.getString("auth_file");
        if (authFile.isEmpty() || !settings.authType().usesAuthFile()) {
            return UserList.empty();
        }
        Path path;
        try {
            path = workingDir.resolve(authFile);
        } catch (InvalidPathException e) {
            throw new ConfigException(authFile, 0, "invalid auth_file name", e);
        }
        // PgBouncer only logs a missing auth_file and runs without users; here it is an error.
        return UserList.load(path);
    }

    /** This configuration with one [pgbouncer] setting changed (the console's SET key = value). */
    public UsherConfig withSetting(String key, String value) throws ConfigException {
        return new UsherConfig(file, env, settings.with(key, value, "SET"), databases, databaseOrigins, users, peers,
                userList, serverPasswords);
    }

    /** The file this config was loaded from (or named by {@link #parse}); null when built from the environment alone. */
    public Path file() {
        return file;
    }

    public Settings settings() {
        return settings;
    }

    /** The [databases] entries in file order; may contain the {@code "*"} fallback. */
    public Map<String, DatabaseConfig> databases() {
        return databases;
    }

    /** The [users] entries in file order. */
    public Map<String, UserConfig> users() {
        return users;
    }

    /** The [peers] entries in file order, by peer id. */
    public Map<Integer, PeerConfig> peers() {
        return peers;
    }

    /**
     * Loaded from auth_file when it is set (and auth_type is not any or pam), else empty; plus the
     * users whose passwords came from the environment (hashed), where auth_file lacks them.
     */
    public UserList userList() {
        return userList;
    }

    /**
     * The password a server login of {@code user} may use, when the user's auth_file entry was made
     * from a password in the environment (DATABASE_URL, DB_PASSWORD, ...). Empty otherwise.
     */
    public Optional<String> serverPassword(String user) {
        return Optional.ofNullable(serverPasswords.get(user));
    }

    /** Where a [databases] entry came from: "file:line" or "env VAR". */
    public String databaseOrigin(String name) {
        return databaseOrigins.getOrDefault(name, "?");
    }

    /** The environment layer this configuration was built with ({@link EnvConfig#none()} for a file alone). */
    public EnvConfig env() {
        return env;
    }

    /** "FILE" or "FILE + environment" or "environment": what a RELOAD reads. */
    public String describeSources() {
        boolean usesEnv = env != EnvConfig.none();
        if (file == null) {
            return "the environment";
        }
        return usesEnv ? file + " and the environment" : file.toString();
    }

    /**
     * Keys set in the [pgbouncer] section that Usher accepts but does not act on yet
     * ({@link SettingDef#implemented()} false), in file order, as written; for a one-time warning.
     */
    public List<String> notImplementedKeys() {
        List<String> keys = new ArrayList<>();
        for (String key : settings.explicitKeys()) {
            if (!SettingDefs.all().get(key).implemented()) {
                keys.add(key);
            }
        }
        return List.copyOf(keys);
    }

    /**
     * The entry for a database a client asks for: its own entry if it has one (names are
     * case-sensitive), else the {@code "*"} fallback bound to that name (dbname = the name unless
     * the fallback sets dbname), else empty. {@code "pgbouncer"} is the admin console and never
     * has an entry.
     */
    public Optional<DatabaseConfig> database(String name) {
        DatabaseConfig exact = databases.get(name);
        if (exact != null) {
            return Optional.of(exact);
        }
        DatabaseConfig fallback = databases.get(DatabaseConfig.FALLBACK);
        if (fallback == null || DatabaseEntries.RESERVED_NAME.equals(name)) {
            return Optional.empty();
        }
        return Optional.of(fallback.boundTo(name));
    }

    @Override
    public String toString() {
        return "UsherConfig[" + describeSources() + ", databases=" + databases.keySet() + ", users=" + users.keySet()
                + ", peers=" + peers.keySet() + "]";
    }
}

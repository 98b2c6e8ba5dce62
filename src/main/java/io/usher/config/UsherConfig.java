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
    private final Settings settings;
    private final Map<String, DatabaseConfig> databases;
    private final Map<String, UserConfig> users;
    private final Map<Integer, PeerConfig> peers;
    private final UserList userList;

    private UsherConfig(Path file, Settings settings, Map<String, DatabaseConfig> databases,
            Map<String, UserConfig> users, Map<Integer, PeerConfig> peers, UserList userList) {
        this.file = file;
        this.settings = settings;
        this.databases = Collections.unmodifiableMap(new LinkedHashMap<>(databases));
        this.users = Collections.unmodifiableMap(new LinkedHashMap<>(users));
        this.peers = Collections.unmodifiableMap(new LinkedHashMap<>(peers));
        this.userList = userList;
    }

    /** Reads an ini file, its includes and its auth_file. */
    public static UsherConfig load(Path iniFile) throws ConfigException {
        return parse(TextFiles.read(iniFile, "config file"), iniFile);
    }

    /**
     * Parses ini text as if it were the contents of {@code fileForErrorsAndIncludes}: that path
     * names the file in errors and is the default of {@code conffile}. Includes and auth_file are
     * read from disk (relative paths against the working directory, as in PgBouncer).
     */
    public static UsherConfig parse(String text, Path fileForErrorsAndIncludes) throws ConfigException {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(fileForErrorsAndIncludes, "fileForErrorsAndIncludes");
        Path workingDir = Path.of("").toAbsolutePath();
        String fileName = fileForErrorsAndIncludes.toString();

        ConfigAssembler assembler = new ConfigAssembler();
        new IniParser(workingDir, assembler).parse(text, fileName);
        if (!assembler.sawMainSection()) {
            throw new ConfigException(fileName, 0, "main section [pgbouncer] missing from config file");
        }
        Settings settings = assembler.settings().defaultValue("conffile", fileName).build();
        UserList userList = loadUserList(settings, workingDir);
        return new UsherConfig(fileForErrorsAndIncludes, settings, assembler.databases(), assembler.users(),
                assembler.peers(), userList);
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

    /** The file this config was loaded from (or named by {@link #parse}). */
    /** This configuration with one [pgbouncer] setting changed (the console's SET key = value). */
    public UsherConfig withSetting(String key, String value) throws ConfigException {
        return new UsherConfig(file, settings.with(key, value, "SET"), databases, users, peers, userList);
    }

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

    /** Loaded from auth_file when it is set (and auth_type is not any or pam), else empty. */
    public UserList userList() {
        return userList;
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
        return "UsherConfig[" + file + ", databases=" + databases.keySet() + ", users=" + users.keySet()
                + ", peers=" + peers.keySet() + "]";
    }
}

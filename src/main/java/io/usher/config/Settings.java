package io.usher.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@code [pgbouncer]} section: every key PgBouncer 1.25 knows, with its default. Immutable.
 *
 * <p>Values are kept as written in the file and interpreted on access, so {@link #getString} shows
 * what the user wrote (e.g. {@code unix_socket_mode = 0777}) while {@link #getInt} gives its value
 * (511). Keys are case-sensitive, as in PgBouncer.
 */
public final class Settings {
    private static final Settings DEFAULTS = new Settings(Map.of(), Set.of(), Map.of(), Map.of());

    /**
     * Values set in the file, as written. An alias (service_name) is stored under the key it
     * aliases (job_name): in PgBouncer both write one variable, so the last one written wins.
     */
    private final Map<String, String> explicit;
    /** The keys as the user wrote them, in the order they first appeared. */
    private final Set<String> written;
    /** Defaults that depend on how the config was loaded (conffile = the file loaded). */
    private final Map<String, String> defaultOverrides;
    /** Where each explicit value came from ("file:line", "env VAR", "SET"), by the key it is stored under. */
    private final Map<String, String> origins;
    /**
     * Parsed values by key (Long, Duration, List): the data path asks for settings per connection
     * and parsing their text each time showed in profiles of connection churn. Settings are
     * immutable, so a value once parsed stays right; races only parse twice.
     */
    private final Map<String, Object> parsed = new ConcurrentHashMap<>();

    private Settings(Map<String, String> explicit, Set<String> written, Map<String, String> defaultOverrides,
            Map<String, String> origins) {
        this.explicit = Map.copyOf(explicit);
        this.written = Collections.unmodifiableSet(new LinkedHashSet<>(written));
        this.defaultOverrides = Map.copyOf(defaultOverrides);
        this.origins = Map.copyOf(origins);
    }

    /** All keys at PgBouncer's defaults. */
    public static Settings defaults() {
        return DEFAULTS;
    }

    static Builder builder() {
        return new Builder();
    }

    /**
     * These settings with one key changed, validated as a line in the file would be (the console's
     * SET). {@code source} names where the value came from in an error.
     */
    public Settings with(String key, String value, String source) throws ConfigException {
        Builder b = new Builder();
        b.explicit.putAll(explicit);
        b.written.addAll(written);
        b.defaultOverrides.putAll(defaultOverrides);
        b.origins.putAll(origins);
        b.set(key, value, source, 0);
        return b.build();
    }

    /**
     * Where the effective value of {@code key} came from: {@code "FILE:LINE"} for a line of a file,
     * {@code "env VAR"} for an environment variable, {@code "SET"} for the console, the command-line
     * option, or {@code "default"}.
     */
    public String origin(String key) {
        def(key);
        String target = SettingDefs.aliasTarget(key);
        String stored = target != null ? target : key;
        if (!explicit.containsKey(stored)) {
            return "default";
        }
        return origins.getOrDefault(stored, "default");
    }

    /**
     * The effective value as written (the default if not set; "" for keys PgBouncer leaves unset).
     *
     * @throws IllegalArgumentException for a key PgBouncer does not know
     */
    public String getString(String key) {
        def(key);
        String target = SettingDefs.aliasTarget(key);
        if (target != null) {
            return getString(target);
        }
        String value = explicit.get(key);
        if (value != null) {
            return value;
        }
        return defaultOverrides.getOrDefault(key, SettingDefs.all().get(key).defaultValue());
    }

    /**
     * The value of an INT, UINT or BOOL key.
     *
     * @throws IllegalArgumentException for unknown keys, keys of other types, or a UINT value beyond int range
     */
    public int getInt(String key) {
        long v = getLong(key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(key + " = " + v + " does not fit an int; use getLong");
        }
        return (int) v;
    }

    /** The value of an INT, UINT or BOOL key. */
    public long getLong(String key) {
        return parsed(key, Long.class, this::parseLong);
    }

    /** The value of {@code key} parsed by {@code parse} the first time it is asked for as a {@code type}. */
    private <T> T parsed(String key, Class<T> type, java.util.function.Function<String, T> parse) {
        Object cached = parsed.get(key);
        if (type.isInstance(cached)) {
            return type.cast(cached);
        }
        T v = parse.apply(key);
        parsed.put(key, v);
        return v;
    }

    private Long parseLong(String key) {
        SettingType type = requireType(key, SettingType.INT, SettingType.UINT, SettingType.BOOL);
        String value = getString(key);
        return (type == SettingType.UINT ? SettingValues.parseUInt(value) : SettingValues.parseInt(value))
                .orElseThrow(() -> new IllegalStateException("unparsable value for " + key + ": " + value));
    }

    /**
     * The value of a BOOL key. PgBouncer's switches are integers: 0 is off, any other integer on
     * (it does not accept yes/no, on/off or true/false in the file, and neither does Usher).
     */
    public boolean getBool(String key) {
        requireType(key, SettingType.BOOL);
        return getLong(key) != 0;
    }

    /** The value of a TIME key (seconds, fractions allowed); 0 is {@link Duration#ZERO}. */
    public Duration getDuration(String key) {
        return parsed(key, Duration.class, this::parseDuration);
    }

    private Duration parseDuration(String key) {
        requireType(key, SettingType.TIME);
        String value = getString(key);
        Duration d = SettingValues.parseSeconds(value);
        if (d == null) {
            throw new IllegalStateException("unparsable value for " + key + ": " + value);
        }
        return d;
    }

    /**
     * The value of a LIST or STRING key split at commas and whitespace, items trimmed and empty
     * items dropped ({@code listen_addr = *} gives {@code ["*"]}; unset gives an empty list).
     */
    @SuppressWarnings("unchecked")
    public List<String> getList(String key) {
        return parsed(key, List.class, this::parseList);
    }

    private List<String> parseList(String key) {
        requireType(key, SettingType.LIST, SettingType.STRING);
        List<String> items = new ArrayList<>();
        for (String item : getString(key).split("[,\\s]+")) {
            if (!item.isEmpty()) {
                items.add(item);
            }
        }
        return List.copyOf(items);
    }

    public AuthType authType() {
        return AuthType.parse(getString("auth_type"));
    }

    public PoolMode poolMode() {
        return PoolMode.parse(getString("pool_mode"));
    }

    /** Whether the key is explicitly present in the file (after the last {@code [pgbouncer]} header). */
    public boolean isSet(String key) {
        def(key);
        String target = SettingDefs.aliasTarget(key);
        return explicit.containsKey(target != null ? target : key);
    }

    /** All keys mapped to their effective string value, sorted by key. */
    public Map<String, String> effective() {
        Map<String, String> all = new TreeMap<>();
        for (String key : SettingDefs.all().keySet()) {
            all.put(key, getString(key));
        }
        return Collections.unmodifiableMap(all);
    }

    /** The explicitly set keys, in the order they first appeared. */
    Set<String> explicitKeys() {
        return written;
    }

    @Override
    public String toString() {
        return "Settings" + new TreeMap<>(explicit);
    }

    private static SettingDef def(String key) {
        SettingDef def = SettingDefs.all().get(key);
        if (def == null) {
            throw new IllegalArgumentException("unknown parameter: " + key);
        }
        return def;
    }

    private static SettingType requireType(String key, SettingType... allowed) {
        SettingType type = def(key).type();
        for (SettingType t : allowed) {
            if (t == type) {
                return type;
            }
        }
        throw new IllegalArgumentException(key + " has type " + type + ", not " + Arrays.toString(allowed));
    }

    /** Collects the {@code [pgbouncer]} section while a file is read. */
    static final class Builder {
        private final Map<String, String> explicit = new LinkedHashMap<>();
        private final Set<String> written = new LinkedHashSet<>();
        private final Map<String, String> defaultOverrides = new LinkedHashMap<>();
        private final Map<String, String> origins = new LinkedHashMap<>();

        private Builder() {
        }

        /**
         * Sets a key as written in the file, after checking that PgBouncer knows the key (exact
         * case) and would accept the value.
         */
        Builder set(String key, String value, String file, int line) throws ConfigException {
            SettingDef def = SettingDefs.all().get(key);
            if (def == null) {
                throw new ConfigException(file, line, "unknown parameter: pgbouncer/" + key);
            }
            String problem = SettingValues.validate(def, value);
            if (problem != null) {
                throw new ConfigException(file, line,
                        "invalid value \"" + value + "\" for parameter " + key + ": " + problem);
            }
            String target = SettingDefs.aliasTarget(key);
            String stored = target != null ? target : key;
            explicit.put(stored, value);
            origins.put(stored, line > 0 ? file + ":" + line : file);
            written.add(key);
            return this;
        }

        /**
         * Lays the values set in {@code upper} over these (each keeps its origin): the next layer of
         * a configuration built from several sources.
         */
        Builder overlay(Builder upper) {
            explicit.putAll(upper.explicit);
            origins.putAll(upper.origins);
            written.addAll(upper.written);
            return this;
        }

        /**
         * Forgets every value set so far. PgBouncer refills all keys with their defaults each time a
         * {@code [pgbouncer]} header is read, so a second header (e.g. in an included file) undoes
         * the settings above it.
         */
        Builder resetToDefaults() {
            explicit.clear();
            written.clear();
            origins.clear();
            return this;
        }

        /** Replaces a key's default (used for conffile, whose default is the file loaded). */
        Builder defaultValue(String key, String value) {
            def(key);
            defaultOverrides.put(key, value);
            return this;
        }

        Settings build() {
            return new Settings(explicit, written, defaultOverrides, origins);
        }
    }
}

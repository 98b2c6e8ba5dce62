package io.usher.config;

import java.util.Locale;

/** When a server connection goes back to the pool ({@code pool_mode}). */
public enum PoolMode {
    SESSION("session"),
    TRANSACTION("transaction"),
    STATEMENT("statement");

    private final String configName;

    PoolMode(String configName) {
        this.configName = configName;
    }

    /**
     * Parses a pool mode as PgBouncer does: case-insensitively.
     *
     * @throws IllegalArgumentException for anything else
     */
    public static PoolMode parse(String s) {
        if (s != null) {
            String wanted = s.toLowerCase(Locale.ROOT);
            for (PoolMode mode : values()) {
                if (mode.configName.equals(wanted)) {
                    return mode;
                }
            }
        }
        throw new IllegalArgumentException("invalid pool mode: " + s);
    }

    /** The name used in pgbouncer.ini, e.g. {@code "session"}. */
    public String configName() {
        return configName;
    }
}

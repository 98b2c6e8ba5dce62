package io.usher.config;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * {@code target_session_attrs} of a {@code [databases]} entry, with libpq's values and meaning:
 * which servers of a {@code host=a,b,c} list new server connections may stay on. An Usher
 * extension; PgBouncer has no such key.
 */
public enum TargetSessionAttrs {
    /** Any server that accepts the login (PgBouncer's behaviour, the default). */
    ANY("any"),
    /** A server whose sessions accept writes by default (default_transaction_read_only off, not in recovery). */
    READ_WRITE("read-write"),
    /** The opposite of read-write: a standby, or a primary with default_transaction_read_only on. */
    READ_ONLY("read-only"),
    /** A server that is not in recovery. */
    PRIMARY("primary"),
    /** A server in recovery (hot standby). */
    STANDBY("standby"),
    /** A standby if one answers, else any server. */
    PREFER_STANDBY("prefer-standby");

    private final String configName;

    TargetSessionAttrs(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    /** @throws IllegalArgumentException for a value libpq would not accept either */
    public static TargetSessionAttrs parse(String value) {
        String lower = value.toLowerCase(Locale.ROOT);
        for (TargetSessionAttrs t : values()) {
            if (t.configName.equals(lower)) {
                return t;
            }
        }
        throw new IllegalArgumentException("invalid target_session_attrs: " + value);
    }

    /** The accepted values, for error messages. */
    static String names() {
        return Arrays.stream(values()).map(TargetSessionAttrs::configName).collect(Collectors.joining(", "));
    }
}

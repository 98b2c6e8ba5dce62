package io.usher.tls;

import java.util.Locale;

/** client_tls_sslmode and server_tls_sslmode: libpq's six modes, weakest first. */
public enum SslMode {
    DISABLE("disable"),
    ALLOW("allow"),
    PREFER("prefer"),
    REQUIRE("require"),
    VERIFY_CA("verify-ca"),
    VERIFY_FULL("verify-full");

    private final String configName;

    SslMode(String configName) {
        this.configName = configName;
    }

    public static SslMode parse(String s) {
        String wanted = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        for (SslMode m : values()) {
            if (m.configName.equals(wanted)) {
                return m;
            }
        }
        throw new IllegalArgumentException("invalid sslmode: " + s);
    }

    public String configName() {
        return configName;
    }

    /** Whether this mode is at least as strict as {@code other}. */
    public boolean atLeast(SslMode other) {
        return compareTo(other) >= 0;
    }
}

package io.usher.config;

import java.util.Locale;

/**
 * How clients authenticate ({@code auth_type}).
 *
 * <p>PgBouncer accepts {@code ldap} and {@code pam} only when built with them; the values are
 * accepted here so that any 1.25 config loads.
 */
public enum AuthType {
    CERT("cert"),
    MD5("md5"),
    SCRAM_SHA_256("scram-sha-256"),
    PLAIN("plain"),
    TRUST("trust"),
    ANY("any"),
    HBA("hba"),
    PAM("pam"),
    LDAP("ldap");

    private final String configName;

    AuthType(String configName) {
        this.configName = configName;
    }

    /**
     * Parses an auth type as PgBouncer does: case-insensitively ({@code "scram-sha-256"}, {@code "md5"}, ...).
     *
     * @throws IllegalArgumentException for anything else
     */
    public static AuthType parse(String s) {
        if (s != null) {
            String wanted = s.toLowerCase(Locale.ROOT);
            for (AuthType type : values()) {
                if (type.configName.equals(wanted)) {
                    return type;
                }
            }
        }
        throw new IllegalArgumentException("invalid auth_type: " + s);
    }

    /** The name used in pgbouncer.ini, e.g. {@code "scram-sha-256"}. */
    public String configName() {
        return configName;
    }

    /**
     * Whether PgBouncer reads {@code auth_file} for this auth type. It does not for {@code any}
     * (user names are ignored) nor for {@code pam} (PAM checks the passwords).
     */
    public boolean usesAuthFile() {
        return this != ANY && this != PAM;
    }
}

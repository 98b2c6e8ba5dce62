package io.usher.testing;

import java.util.List;
import java.util.Map;

/**
 * The roles and databases that every {@link PostgresCluster} creates, with their passwords and the pg_hba.conf
 * method each role must authenticate with (the same method for TCP on 127.0.0.1 and for the unix socket).
 */
public final class TestRoles {
    public static final String SUPERUSER = "postgres";

    public static final String TRUST = "u_trust";
    public static final String MD5 = "u_md5";
    public static final String SCRAM = "u_scram";
    public static final String SCRAM2 = "u_scram2";
    public static final String PLAIN = "u_plain";

    /** The non-superuser fixture roles, in the order their pg_hba.conf lines are written. */
    public static final List<String> ROLES = List.of(TRUST, MD5, SCRAM, SCRAM2, PLAIN);

    public static final String APPDB = "appdb";
    public static final String OTHERDB = "otherdb";
    public static final List<String> DATABASES = List.of(APPDB, OTHERDB);

    /** Role -> cleartext password. */
    public static final Map<String, String> PASSWORDS = Map.of(
            TRUST, "trust_pw",
            MD5, "md5_pw",
            SCRAM, "scram_pw",
            SCRAM2, "scram2_pw",
            PLAIN, "plain_pw");

    /** Role -> pg_hba.conf auth method. */
    public static final Map<String, String> HBA_METHODS = Map.of(
            TRUST, "trust",
            MD5, "md5",
            SCRAM, "scram-sha-256",
            SCRAM2, "scram-sha-256",
            PLAIN, "password");

    /** The superuser's method; its password is per cluster, see {@link PostgresCluster#superuserPassword()}. */
    public static final String SUPERUSER_HBA_METHOD = "scram-sha-256";

    public static String password(String role) {
        return lookup(PASSWORDS, role);
    }

    public static String hbaMethod(String role) {
        return lookup(HBA_METHODS, role);
    }

    private static String lookup(Map<String, String> map, String role) {
        String value = map.get(role);
        if (value == null) {
            throw new IllegalArgumentException("not a fixture role: " + role);
        }
        return value;
    }

    private TestRoles() {}
}

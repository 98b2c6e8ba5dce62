package io.usher.client;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The session parameters a client owns and gets back on whichever server it is given:
 * PgBouncer's fixed set plus track_extra_parameters. Names are matched case-insensitively, as
 * PostgreSQL matches setting names, and kept in the spelling PostgreSQL reports.
 */
public final class TrackedParameters {
    private static final List<String> ALWAYS = List.of(
            "client_encoding", "DateStyle", "TimeZone", "standard_conforming_strings", "application_name");

    private final Map<String, String> canonicalByLowerCase = new LinkedHashMap<>();

    public TrackedParameters(List<String> extra) {
        for (String n : ALWAYS) {
            canonicalByLowerCase.put(n.toLowerCase(Locale.ROOT), n);
        }
        for (String n : extra) {
            canonicalByLowerCase.putIfAbsent(n.toLowerCase(Locale.ROOT), n);
        }
    }

    /** The name as PostgreSQL spells it, or null if the parameter is not tracked. */
    public String canonical(String name) {
        return canonicalByLowerCase.get(name.toLowerCase(Locale.ROOT));
    }

    public Iterable<String> names() {
        return canonicalByLowerCase.values();
    }

    /** SET statements that make a server with {@code server} values match {@code wanted}; "" if none. */
    public String restoreSql(Map<String, String> wanted, Map<String, String> server) {
        // set_config takes the value as PostgreSQL reads it from a startup packet or postgresql.conf, so list
        // settings (search_path = 'a, public') keep their elements, where SET name = 'a, public' would make one
        StringBuilder sql = new StringBuilder();
        for (Map.Entry<String, String> e : wanted.entrySet()) {
            String have = server.get(e.getKey());
            if (have != null && have.equals(e.getValue())) {
                continue;
            }
            sql.append(sql.length() == 0 ? "SELECT " : ", ").append("pg_catalog.set_config(")
                    .append(quoteLiteral(e.getKey())).append(", ").append(quoteLiteral(e.getValue())).append(", false)");
        }
        return sql.toString();
    }

    /** An E'' literal is read the same whatever standard_conforming_strings is. */
    static String quoteLiteral(String value) {
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'";
    }
}

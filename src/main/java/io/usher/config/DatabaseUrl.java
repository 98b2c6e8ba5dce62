package io.usher.config;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A libpq connection URI as apps and container images pass it around ({@code DATABASE_URL}):
 * {@code postgres[ql]://[user[:password]@]host[:port][,host2[:port]...][/database][?key=value&...]}.
 * User, password, database and parameter values are percent-decoded. A host may be an IPv6
 * address in brackets. Query parameters named {@code host}, {@code port}, {@code dbname},
 * {@code user} and {@code password} override the parts of the URI, as in libpq.
 *
 * <p>The password is split off at the last {@code @}, so a password with an unencoded {@code @}
 * still works (as in the edoburu image); percent-encoding it ({@code %40}) is the safe way.
 *
 * @param user     null when the URI names none
 * @param password null when the URI has none
 * @param hosts    at least one host (a name, an address, or a Unix socket directory starting with /)
 * @param port     the port (5432 if not given); all hosts share it
 * @param database null when the URI has no path (the edoburu image then serves every database: {@code *})
 * @param params   the other query parameters, in order
 */
public record DatabaseUrl(String user, String password, List<String> hosts, int port, String database,
        Map<String, String> params) {

    public DatabaseUrl {
        hosts = List.copyOf(hosts);
        params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
    }

    /**
     * @param origin names the URL in errors, e.g. "env DATABASE_URL"; errors never include the URL
     *               itself, which holds a password
     */
    public static DatabaseUrl parse(String url, String origin) throws ConfigException {
        String rest = url.trim();
        int schemeEnd = rest.indexOf("://");
        String scheme = schemeEnd < 0 ? "" : rest.substring(0, schemeEnd).toLowerCase(Locale.ROOT);
        if (!scheme.equals("postgres") && !scheme.equals("postgresql")) {
            throw new ConfigException(origin, 0, "expected a URL starting with postgres:// or postgresql://");
        }
        rest = rest.substring(schemeEnd + 3);

        String user = null;
        String password = null;
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            String userinfo = rest.substring(0, at);
            rest = rest.substring(at + 1);
            int colon = userinfo.indexOf(':');
            if (colon >= 0) {
                user = decode(userinfo.substring(0, colon), origin, "user name");
                password = decode(userinfo.substring(colon + 1), origin, "password");
            } else {
                user = decode(userinfo, origin, "user name");
            }
        }

        String query = "";
        int q = rest.indexOf('?');
        if (q >= 0) {
            query = rest.substring(q + 1);
            rest = rest.substring(0, q);
        }
        String database = null;
        int slash = rest.indexOf('/');
        String hostspec = rest;
        if (slash >= 0) {
            hostspec = rest.substring(0, slash);
            database = decode(rest.substring(slash + 1), origin, "database name");
        }

        Map<String, String> params = new LinkedHashMap<>();
        for (String pair : query.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException(origin, 0, "invalid URL parameter \"" + pair + "\": expected key=value");
            }
            params.put(decode(pair.substring(0, eq), origin, "parameter name"),
                    decode(pair.substring(eq + 1), origin, "parameter value"));
        }

        List<String> hosts = new ArrayList<>();
        Integer port = null;
        for (String item : hostspec.split(",", -1)) {
            if (item.isEmpty()) {
                if (hostspec.isEmpty()) {
                    break;
                }
                throw new ConfigException(origin, 0, "empty host in the host list");
            }
            String host;
            String portText = null;
            if (item.startsWith("[")) {
                int close = item.indexOf(']');
                if (close < 0) {
                    throw new ConfigException(origin, 0, "missing ']' after an IPv6 address");
                }
                host = item.substring(1, close);
                String after = item.substring(close + 1);
                if (after.startsWith(":")) {
                    portText = after.substring(1);
                } else if (!after.isEmpty()) {
                    throw new ConfigException(origin, 0, "unexpected text after an IPv6 address");
                }
            } else {
                int colon = item.lastIndexOf(':');
                host = colon >= 0 ? item.substring(0, colon) : item;
                portText = colon >= 0 ? item.substring(colon + 1) : null;
            }
            host = decode(host, origin, "host");
            if (host.isEmpty()) {
                throw new ConfigException(origin, 0, "empty host name");
            }
            hosts.add(host);
            if (portText != null && !portText.isEmpty()) {
                int p = port(portText, origin);
                if (port != null && port != p) {
                    throw new ConfigException(origin, 0, "the hosts have different ports; Usher (like PgBouncer) "
                            + "takes one port for all hosts of a database");
                }
                port = p;
            }
        }

        // libpq lets query parameters stand in for the parts of the URI
        String v;
        if ((v = params.remove("host")) != null) {
            hosts = new ArrayList<>(List.of(v.split(",")));
        }
        if ((v = params.remove("port")) != null) {
            port = port(v, origin);
        }
        if ((v = params.remove("dbname")) != null) {
            database = v;
        }
        if ((v = params.remove("user")) != null) {
            user = v;
        }
        if ((v = params.remove("password")) != null) {
            password = v;
        }
        if (hosts.isEmpty()) {
            throw new ConfigException(origin, 0, "the URL names no host");
        }
        if (database != null && database.isEmpty()) {
            database = null;
        }
        if (user != null && user.isEmpty()) {
            user = null;
        }
        if (password != null && password.isEmpty()) {
            password = null;
        }
        return new DatabaseUrl(user, password, hosts, port == null ? DatabaseConfig.DEFAULT_PORT : port, database, params);
    }

    private static int port(String text, String origin) throws ConfigException {
        try {
            int p = Integer.parseInt(text);
            if (p >= 1 && p <= 65535) {
                return p;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new ConfigException(origin, 0, "invalid port \"" + text + "\"");
    }

    /** Percent-decoding as in RFC 3986 (a '+' stays a '+', as libpq has it), as UTF-8. */
    static String decode(String s, String origin, String what) throws ConfigException {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                if (i + 2 >= s.length() || Character.digit(s.charAt(i + 1), 16) < 0
                        || Character.digit(s.charAt(i + 2), 16) < 0) {
                    throw new ConfigException(origin, 0, "invalid percent-encoding in the " + what);
                }
                out.write(Character.digit(s.charAt(i + 1), 16) * 16 + Character.digit(s.charAt(i + 2), 16));
                i += 2;
            } else {
                int end = s.indexOf('%', i);
                end = end < 0 ? s.length() : end;
                byte[] b = s.substring(i, end).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
                i = end - 1;
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Never shows the password. */
    @Override
    public String toString() {
        return "postgresql://" + (user == null ? "" : user + (password == null ? "" : ":***") + "@")
                + String.join(",", hosts) + ":" + port + "/" + (database == null ? "" : database)
                + (params.isEmpty() ? "" : "?" + params.keySet());
    }
}

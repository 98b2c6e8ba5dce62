package io.usher.auth;

import io.usher.config.AuthType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * auth_type = hba: PgBouncer's subset of pg_hba.conf, read from auth_hba_file.
 *
 * <p>Lines are {@code local DATABASE USER METHOD} or {@code host|hostssl|hostnossl DATABASE USER
 * ADDRESS METHOD}, where ADDRESS is {@code a.b.c.d/bits}, an IPv6 CIDR, an address and a mask as two
 * fields, or {@code all}. DATABASE and USER are comma-separated lists of names (plain or in double
 * quotes), {@code all}, {@code sameuser} (databases only) and {@code @file} (names read from a file
 * relative to the hba file). Methods: {@code trust}, {@code reject}, {@code md5}, {@code password},
 * {@code scram-sha-256}, {@code cert}, {@code peer}. The first line that matches the connection
 * decides; no match rejects. As PgBouncer, a line it cannot use (groups, {@code replication},
 * {@code samerole}, options after the method, ...) is logged with its number and skipped.
 */
public final class HbaRules {
    private static final Logger log = LoggerFactory.getLogger(HbaRules.class);

    /** What a rule decides: an auth type, or null for reject. */
    public record Decision(AuthType method, boolean peer) {
        static final Decision REJECT = new Decision(null, false);
    }

    private enum Kind { LOCAL, HOST, HOSTSSL, HOSTNOSSL }

    private record Names(boolean all, boolean sameUser, Set<String> names) {
        boolean matches(String name, String other) {
            return all || (sameUser && name.equals(other)) || names.contains(name);
        }
    }

    private record Rule(Kind kind, Names databases, Names users, byte[] address, byte[] mask, Decision decision) {}

    private final List<Rule> rules;

    private HbaRules(List<Rule> rules) {
        this.rules = rules;
    }

    /** Reads the file; a file that cannot be read is an error, a line that cannot be used is skipped with a warning. */
    public static HbaRules load(Path file) throws IOException {
        List<Rule> rules = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            try {
                Rule r = parseLine(tokens(lines.get(i)), file);
                if (r != null) {
                    rules.add(r);
                }
            } catch (IllegalArgumentException | IOException e) {
                log.warn("could not parse hba config line {} of {}: {}", i + 1, file, e.getMessage());
            }
        }
        return new HbaRules(rules);
    }

    public int size() {
        return rules.size();
    }

    /**
     * The method for a connection: {@code address} null for the Unix socket.
     * @return the decision of the first matching line, or reject
     */
    public Decision evaluate(InetAddress address, boolean tls, String database, String user) {
        for (Rule r : rules) {
            if (address == null) {
                if (r.kind != Kind.LOCAL) {
                    continue;
                }
            } else {
                if (r.kind == Kind.LOCAL || r.kind == Kind.HOSTSSL && !tls || r.kind == Kind.HOSTNOSSL && tls) {
                    continue;
                }
                if (r.address != null && !inNet(address.getAddress(), r.address, r.mask)) {
                    continue;
                }
            }
            if (r.databases.matches(database, user) && r.users.matches(user, database)) {
                return r.decision;
            }
        }
        return Decision.REJECT;
    }

    private static boolean inNet(byte[] addr, byte[] net, byte[] mask) {
        if (addr.length != net.length) {
            return false;
        }
        for (int i = 0; i < addr.length; i++) {
            if ((addr[i] & mask[i]) != (net[i] & mask[i])) {
                return false;
            }
        }
        return true;
    }

    // ---- parsing ----

    /** A token: its text, whether it was quoted, and whether a comma follows it directly. */
    private record Token(String text, boolean quoted, boolean commaAfter) {}

    private static List<Token> tokens(String line) {
        List<Token> out = new ArrayList<>();
        int i = 0;
        int n = line.length();
        while (i < n) {
            char c = line.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
                continue;
            }
            if (c == '#') {
                break;
            }
            StringBuilder t = new StringBuilder();
            boolean quoted = false;
            if (c == '"') {
                quoted = true;
                i++;
                while (true) {
                    if (i >= n) {
                        throw new IllegalArgumentException("unterminated quoted name");
                    }
                    char q = line.charAt(i);
                    if (q == '"') {
                        if (i + 1 < n && line.charAt(i + 1) == '"') {
                            t.append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    t.append(q);
                    i++;
                }
            } else {
                while (i < n && !Character.isWhitespace(line.charAt(i)) && line.charAt(i) != ','
                        && line.charAt(i) != '#' && line.charAt(i) != '"') {
                    t.append(line.charAt(i++));
                }
            }
            boolean comma = i < n && line.charAt(i) == ',';
            if (comma) {
                i++;
            }
            out.add(new Token(t.toString(), quoted, comma));
        }
        return out;
    }

    private static Rule parseLine(List<Token> t, Path file) throws IOException {
        if (t.isEmpty()) {
            return null;
        }
        Kind kind;
        switch (t.get(0).text()) {
            case "local": kind = Kind.LOCAL; break;
            case "host": kind = Kind.HOST; break;
            case "hostssl": kind = Kind.HOSTSSL; break;
            case "hostnossl": kind = Kind.HOSTNOSSL; break;
            default: throw new IllegalArgumentException("unknown type " + t.get(0).text());
        }
        int[] pos = {1};
        Names dbs = names(t, pos, true, file);
        Names users = names(t, pos, false, file);
        byte[] address = null;
        byte[] mask = null;
        if (kind != Kind.LOCAL) {
            String a = take(t, pos, "address");
            if (!a.equals("all")) {
                int slash = a.indexOf('/');
                address = ip(slash >= 0 ? a.substring(0, slash) : a);
                if (slash >= 0) {
                    mask = bits(Integer.parseInt(a.substring(slash + 1)), address.length);
                } else {
                    mask = ip(take(t, pos, "mask"));
                    if (mask.length != address.length) {
                        throw new IllegalArgumentException("mask does not fit the address");
                    }
                }
            }
        }
        String method = take(t, pos, "method");
        Decision d;
        switch (method) {
            case "trust": d = new Decision(AuthType.TRUST, false); break;
            case "reject": d = Decision.REJECT; break;
            case "md5": d = new Decision(AuthType.MD5, false); break;
            case "password": d = new Decision(AuthType.PLAIN, false); break;
            case "scram-sha-256": d = new Decision(AuthType.SCRAM_SHA_256, false); break;
            case "cert": d = new Decision(AuthType.CERT, false); break;
            case "peer":
                if (kind != Kind.LOCAL) {
                    throw new IllegalArgumentException("peer works on local lines only");
                }
                d = new Decision(AuthType.TRUST, true);
                break;
            default: throw new IllegalArgumentException("unsupported method: " + method);
        }
        if (pos[0] < t.size()) {
            throw new IllegalArgumentException("unsupported parameters after the method");
        }
        return new Rule(kind, dbs, users, address, mask, d);
    }

    private static String take(List<Token> t, int[] pos, String what) {
        if (pos[0] >= t.size()) {
            throw new IllegalArgumentException("no " + what);
        }
        return t.get(pos[0]++).text();
    }

    private static Names names(List<Token> t, int[] pos, boolean database, Path file) throws IOException {
        boolean all = false;
        boolean same = false;
        Set<String> names = new HashSet<>();
        while (true) {
            if (pos[0] >= t.size()) {
                throw new IllegalArgumentException("no " + (database ? "database" : "user"));
            }
            Token tok = t.get(pos[0]++);
            String s = tok.text();
            if (tok.quoted()) {
                names.add(s);
            } else if (s.equals("all")) {
                all = true;
            } else if (database && s.equals("sameuser")) {
                same = true;
            } else if (database && (s.equals("samerole") || s.equals("samegroup") || s.equals("replication"))) {
                throw new IllegalArgumentException(s + " is not supported");
            } else if (s.startsWith("+")) {
                throw new IllegalArgumentException("groups (" + s + ") are not supported");
            } else if (s.startsWith("@")) {
                Path included = file.toAbsolutePath().getParent().resolve(s.substring(1));
                for (String line : Files.readAllLines(included)) {
                    for (Token inner : tokens(line)) {
                        names.add(inner.text());
                    }
                }
            } else {
                names.add(s);
            }
            if (!tok.commaAfter()) {
                return new Names(all, same, names);
            }
        }
    }

    private static byte[] ip(String s) {
        if (!s.matches("[0-9a-fA-F:.]+")) {
            throw new IllegalArgumentException("not an IP address: " + s); // no DNS lookups here
        }
        try {
            return InetAddress.getByName(s).getAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP address: " + s);
        }
    }

    private static byte[] bits(int n, int length) {
        if (n < 0 || n > length * 8) {
            throw new IllegalArgumentException("invalid mask /" + n);
        }
        byte[] m = new byte[length];
        for (int i = 0; i < length; i++) {
            int b = Math.min(8, Math.max(0, n - i * 8));
            m[i] = (byte) (0xff << (8 - b));
        }
        return m;
    }
}

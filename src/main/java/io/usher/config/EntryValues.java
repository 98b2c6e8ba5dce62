package io.usher.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Value checks shared by the {@code [databases]}, {@code [users]} and {@code [peers]} parsers.
 *
 * <p>PgBouncer reads the numbers in these sections with {@code atoi}, which turns garbage into 0
 * ({@code pool_size=abc} silently becomes 0). Here a value that is not a number is an error instead.
 */
final class EntryValues {
    private static final Pattern INTEGER = Pattern.compile("[+-]?\\d+");
    private static final Pattern SECONDS = Pattern.compile("\\+?(\\d+\\.?\\d*|\\.\\d+)");

    private final String file;
    private final int line;

    EntryValues(String file, int line) {
        this.file = file;
        this.line = line;
    }

    int integer(String key, String value) throws ConfigException {
        if (INTEGER.matcher(value).matches()) {
            try {
                return Integer.parseInt(value.startsWith("+") ? value.substring(1) : value);
            } catch (NumberFormatException outOfRange) {
                // reported below
            }
        }
        throw error("invalid " + key + ": " + value + " (expected an integer)");
    }

    int port(String value) throws ConfigException {
        if (INTEGER.matcher(value).matches()) {
            try {
                int port = Integer.parseInt(value.startsWith("+") ? value.substring(1) : value);
                if (port >= 1 && port <= 65535) {
                    return port;
                }
            } catch (NumberFormatException outOfRange) {
                // reported below
            }
        }
        throw error("invalid port: " + value);
    }

    /**
     * A timeout in seconds. PgBouncer computes {@code atoi(value) * USEC}, so only whole seconds
     * count: {@code 1.5} means 1 second there, and here too.
     */
    Duration wholeSeconds(String key, String value) throws ConfigException {
        if (!SECONDS.matcher(value).matches()) {
            throw error("invalid " + key + ": " + value + " (expected a number of seconds)");
        }
        String whole = value.replace("+", "");
        int dot = whole.indexOf('.');
        whole = dot >= 0 ? whole.substring(0, dot) : whole;
        try {
            return Duration.ofSeconds(whole.isEmpty() ? 0 : Long.parseLong(whole));
        } catch (NumberFormatException outOfRange) {
            throw error("invalid " + key + ": " + value + " (out of range)");
        }
    }

    PoolMode poolMode(String value) throws ConfigException {
        try {
            return PoolMode.parse(value);
        } catch (IllegalArgumentException e) {
            throw error("invalid pool mode: " + value);
        }
    }

    /** A comma-separated host list, items trimmed, empty items dropped. */
    static List<String> hosts(String value) {
        List<String> hosts = new ArrayList<>();
        for (String host : value.split(",")) {
            String h = host.trim();
            if (!h.isEmpty()) {
                hosts.add(h);
            }
        }
        return hosts;
    }

    ConfigException error(String what) {
        return new ConfigException(file, line, what);
    }
}

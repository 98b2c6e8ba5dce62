package io.usher.config;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/** Turns a {@code [peers]} line into a {@link PeerConfig}, as PgBouncer's {@code parse_peer} does. */
final class PeerEntries {
    private static final Pattern DIGITS = Pattern.compile("\\d{1,5}");

    private PeerEntries() {
    }

    static PeerConfig parse(String key, String connstr, String file, int line) throws ConfigException {
        EntryValues v = new EntryValues(file, line);
        int peerId = peerId(key, v);
        Map<String, String> pairs = ConnectionString.parse(connstr, file, line);

        List<String> hosts = null;
        int port = PeerConfig.DEFAULT_PORT;
        Integer poolSize = null;
        for (Map.Entry<String, String> pair : pairs.entrySet()) {
            String value = pair.getValue();
            switch (pair.getKey()) {
                case "host" -> hosts = EntryValues.hosts(value);
                case "port" -> port = v.port(value);
                case "pool_size" -> poolSize = v.integer("pool_size", value);
                default -> throw v.error("unrecognized connection parameter: " + pair.getKey());
            }
        }
        if (hosts == null || hosts.isEmpty()) {
            throw v.error("host was not provided for peer " + peerId);
        }
        return new PeerConfig(peerId, hosts, port, poolSize, pairs);
    }

    private static int peerId(String key, EntryValues v) throws ConfigException {
        if (DIGITS.matcher(key).matches()) {
            int id = Integer.parseInt(key);
            if (id >= 1 && id <= 65535) {
                return id;
            }
        }
        throw v.error("invalid peer id \"" + key + "\": ids of peers must be a number larger than 0 and at most 65535");
    }
}

package io.usher.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One entry of {@code [peers]}: another PgBouncer (or Usher) that cancel requests can be forwarded to.
 *
 * @param peerId   the key, 1..65535
 * @param hosts    from {@code host=} (required); a host beginning with {@code /} is a Unix socket directory
 * @param port     {@code port=}, default 6432
 * @param poolSize {@code pool_size=}: cancel requests in flight to the peer; null = default_pool_size
 * @param raw      every pair as written, in order
 */
public record PeerConfig(int peerId, List<String> hosts, int port, Integer poolSize, Map<String, String> raw) {

    public static final int DEFAULT_PORT = 6432;

    public PeerConfig {
        hosts = hosts == null ? List.of() : List.copyOf(hosts);
        raw = raw == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(raw));
    }
}

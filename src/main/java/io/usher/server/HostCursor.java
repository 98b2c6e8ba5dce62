package io.usher.server;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which entry of a {@code host=a,b,c} list a pool's next server connection tries first, and in what
 * order it falls back to the others (one per pool, as PgBouncer's per-pool counter).
 *
 * <ul>
 *   <li>{@code load_balance_hosts=round-robin}: each new connection starts one entry further;</li>
 *   <li>{@code load_balance_hosts=disable}: new connections start at the entry that last worked
 *       (the first one until a connection fails).</li>
 * </ul>
 * Either way, entries that failed within the last {@code server_login_retry} move to the end of the
 * order, so a host that is down (or drops packets) costs new connections nothing while another answers.
 */
public final class HostCursor {
    private final AtomicInteger next = new AtomicInteger();
    private final Map<String, Long> failedAt = new ConcurrentHashMap<>();

    /** Entry indexes to try, in order, for a new connection to a list of {@code count} entries. */
    public List<Integer> order(List<String> hosts, boolean roundRobin, long retryNanos) {
        int count = hosts.size();
        if (count <= 1) {
            return count == 0 ? List.of() : List.of(0);
        }
        int start = Math.floorMod(roundRobin ? next.getAndIncrement() : next.get(), count);
        long now = System.nanoTime();
        List<Integer> healthy = new ArrayList<>(count);
        List<Integer> failing = new ArrayList<>(0);
        for (int i = 0; i < count; i++) {
            int index = (start + i) % count;
            Long failed = failedAt.get(hosts.get(index));
            if (failed != null && now - failed < retryNanos) {
                failing.add(index);
            } else {
                healthy.add(index);
            }
        }
        healthy.addAll(failing);
        return healthy;
    }

    /** A connection to entry {@code index} logged in. */
    public void succeeded(List<String> hosts, int index, boolean roundRobin) {
        failedAt.remove(hosts.get(index));
        if (!roundRobin) {
            next.set(index);
        }
    }

    /** A connection to entry {@code index} failed before its login completed. */
    public void failed(List<String> hosts, int index) {
        failedAt.put(hosts.get(index), System.nanoTime());
    }
}

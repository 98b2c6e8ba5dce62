package io.usher.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.Security;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * Host names of server addresses, resolved off the event loops and cached as PgBouncer does: an
 * answer at most {@code dns_max_ttl}, a failure (NXDOMAIN or any other error) {@code dns_nxdomain_ttl}.
 * The TTL the DNS answer carries is ignored, as in PgBouncer. Several addresses for one name are
 * handed out in turn. IP literals are never looked up nor cached.
 *
 * <p>The JVM's own InetAddress cache is turned off (when this class loads before the first lookup;
 * the launcher also does it first thing), so that this cache alone decides how long an answer lives.
 */
public final class DnsCache implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DnsCache.class);

    static {
        disableJvmCache();
    }

    /** Turns off the JVM's InetAddress caches; effective only before the JVM's first lookup. */
    public static void disableJvmCache() {
        Security.setProperty("networkaddress.cache.ttl", "0");
        Security.setProperty("networkaddress.cache.negative.ttl", "0");
    }

    /** Resolves a host name (blocking); the default is {@link InetAddress#getAllByName}. */
    @FunctionalInterface
    public interface Lookup {
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    /** A cached answer: the addresses, or why there are none. */
    public static final class Entry {
        private final String host;
        private final List<InetAddress> addresses;
        private final String error;
        private final long expiresAtNanos;
        private final int generation;
        private final AtomicInteger next = new AtomicInteger();

        Entry(String host, List<InetAddress> addresses, String error, long expiresAtNanos, int generation) {
            this.host = host;
            this.addresses = addresses;
            this.error = error;
            this.expiresAtNanos = expiresAtNanos;
            this.generation = generation;
        }

        public String host() { return host; }
        public List<InetAddress> addresses() { return addresses; }
        /** Why the lookup failed; null when it gave addresses. */
        public String error() { return error; }
        public long expiresAtNanos() { return expiresAtNanos; }
        /** Goes up each time a lookup of this name gives a different set of addresses than the one before. */
        public int generation() { return generation; }

        /** The addresses, starting with the next one in turn (round-robin over the name's addresses). */
        public List<InetAddress> rotated() {
            int n = addresses.size();
            if (n <= 1) {
                return addresses;
            }
            int start = Math.floorMod(next.getAndIncrement(), n);
            List<InetAddress> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(addresses.get((start + i) % n));
            }
            return out;
        }
    }

    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    private volatile Lookup lookup;
    private final LongSupplier clock;
    private final ThreadPoolExecutor executor;
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<Entry>> pending = new ConcurrentHashMap<>();
    private volatile long maxTtlNanos;
    private volatile long failureTtlNanos;

    public DnsCache(long maxTtlNanos, long failureTtlNanos) {
        this(InetAddress::getAllByName, System::nanoTime, maxTtlNanos, failureTtlNanos);
    }

    /** With the given resolver and clock (nanoseconds), for tests. */
    public DnsCache(Lookup lookup, LongSupplier clock, long maxTtlNanos, long failureTtlNanos) {
        this.lookup = lookup;
        this.clock = clock;
        this.maxTtlNanos = maxTtlNanos;
        this.failureTtlNanos = failureTtlNanos;
        AtomicInteger threads = new AtomicInteger();
        this.executor = new ThreadPoolExecutor(4, 4, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "usher-dns-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        executor.allowCoreThreadTimeOut(true);
    }

    /** Resolves names with {@code lookup} from now on (tests: names that need no DNS server). */
    public void lookupWith(Lookup lookup) {
        this.lookup = lookup;
    }

    /** dns_max_ttl and dns_nxdomain_ttl changed (RELOAD, SET): applies to answers from now on. */
    public void configure(long maxTtlNanos, long failureTtlNanos) {
        this.maxTtlNanos = maxTtlNanos;
        this.failureTtlNanos = failureTtlNanos;
    }

    /**
     * The address {@code host} spells, or null if it is a name to look up. As in PgBouncer, a host
     * with a ':' is an IPv6 address (an invalid one is an error, not a name), and a dotted quad is
     * an IPv4 address; anything else is looked up.
     */
    public static InetAddress literal(String host) throws UnknownHostException {
        if (host.indexOf(':') >= 0) {
            return InetAddress.getByName(host.startsWith("[") ? host : "[" + host + "]");
        }
        if (!IPV4.matcher(host).matches()) {
            return null;
        }
        String[] parts = host.split("\\.");
        byte[] b = new byte[4];
        for (int i = 0; i < 4; i++) {
            int v = Integer.parseInt(parts[i]);
            if (v > 255) {
                return null;
            }
            b[i] = (byte) v;
        }
        return InetAddress.getByAddress(b);
    }

    /**
     * The cached answer for {@code name} if it is still fresh, else a new lookup (one at a time per
     * name: callers asking while a lookup runs share it). The future completes on a DNS thread, or at
     * once from the cache; it never completes exceptionally (a failure is an {@link Entry} with an error).
     */
    public CompletableFuture<Entry> resolve(String name) {
        Entry cached = entries.get(name);
        if (cached != null && clock.getAsLong() - cached.expiresAtNanos < 0) {
            return CompletableFuture.completedFuture(cached);
        }
        CompletableFuture<Entry> mine = new CompletableFuture<>();
        CompletableFuture<Entry> running = pending.putIfAbsent(name, mine);
        if (running != null) {
            return running;
        }
        try {
            executor.execute(() -> {
                Entry e = lookupNow(name);
                entries.put(name, e);
                pending.remove(name, mine);
                mine.complete(e);
            });
        } catch (RuntimeException rejected) {
            pending.remove(name, mine);
            mine.complete(new Entry(name, List.of(), "DNS lookup not possible: " + rejected, clock.getAsLong(), 0));
        }
        return mine;
    }

    private Entry lookupNow(String name) {
        Entry previous = entries.get(name);
        int generation = previous == null ? 0 : previous.generation;
        try {
            List<InetAddress> found = List.copyOf(Arrays.asList(lookup.resolve(name)));
            if (found.isEmpty()) {
                throw new UnknownHostException(name + ": no addresses");
            }
            if (previous != null && previous.error == null
                    && !new HashSet<>(previous.addresses).equals(new HashSet<>(found))) {
                generation++;
                log.info("DNS: {} now resolves to {} (was {})", name, found, previous.addresses);
            }
            return new Entry(name, found, null, clock.getAsLong() + maxTtlNanos, generation);
        } catch (UnknownHostException | SecurityException e) {
            log.warn("DNS lookup of {} failed: {}", name, e.toString());
            return new Entry(name, List.of(), e.getMessage() == null ? e.toString() : e.getMessage(),
                    clock.getAsLong() + failureTtlNanos, generation);
        }
    }

    /** The answer last stored for {@code name}, fresh or not; null if it was never looked up. */
    public Entry peek(String name) {
        return entries.get(name);
    }

    /** Every cached name (SHOW DNS_HOSTS), expired ones included until their next lookup. */
    public List<Entry> entries() {
        return List.copyOf(entries.values());
    }

    /** Lookups under way (SHOW LISTS dns_pending). */
    public int pendingCount() {
        return pending.size();
    }

    /** Seconds until {@code e} expires (0 once it has). */
    public long secondsLeft(Entry e) {
        return Math.max(0, TimeUnit.NANOSECONDS.toSeconds(e.expiresAtNanos - clock.getAsLong()));
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}

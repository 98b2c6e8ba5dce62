package io.usher.server;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The DNS cache with a resolver of its own (no DNS traffic) and a clock the test moves. */
class DnsCacheTest {
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private final AtomicLong now = new AtomicLong(1_000 * SECOND);
    private final Map<String, String[]> zone = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> lookups = new ConcurrentHashMap<>();
    private final DnsCache dns = new DnsCache(this::resolve, now::get, 15 * SECOND, 5 * SECOND);

    private InetAddress[] resolve(String name) throws UnknownHostException {
        lookups.computeIfAbsent(name, n -> new AtomicInteger()).incrementAndGet();
        String[] ips = zone.get(name);
        if (ips == null) {
            throw new UnknownHostException(name + ": Name or service not known");
        }
        InetAddress[] out = new InetAddress[ips.length];
        for (int i = 0; i < ips.length; i++) {
            out[i] = InetAddress.getByName(ips[i]);
        }
        return out;
    }

    private DnsCache.Entry resolveNow(String name) throws Exception {
        return dns.resolve(name).get(5, TimeUnit.SECONDS);
    }

    private int lookupsOf(String name) {
        AtomicInteger n = lookups.get(name);
        return n == null ? 0 : n.get();
    }

    @AfterEach
    void close() {
        dns.close();
    }

    @Test
    void answerIsCachedForDnsMaxTtlThenLookedUpAgain() throws Exception {
        zone.put("db.test", new String[] {"10.0.0.1"});
        assertThat(resolveNow("db.test").addresses()).extracting(InetAddress::getHostAddress).containsExactly("10.0.0.1");
        now.addAndGet(14 * SECOND);
        zone.put("db.test", new String[] {"10.0.0.2"});
        assertThat(resolveNow("db.test").addresses()).extracting(InetAddress::getHostAddress).containsExactly("10.0.0.1");
        assertThat(lookupsOf("db.test")).isEqualTo(1);
        assertThat(dns.secondsLeft(dns.peek("db.test"))).isEqualTo(1);
        now.addAndGet(SECOND);
        DnsCache.Entry fresh = resolveNow("db.test");
        assertThat(fresh.addresses()).extracting(InetAddress::getHostAddress).containsExactly("10.0.0.2");
        assertThat(lookupsOf("db.test")).isEqualTo(2);
        assertThat(dns.secondsLeft(fresh)).isEqualTo(15);
    }

    @Test
    void failureIsCachedForDnsNxdomainTtl() throws Exception {
        DnsCache.Entry failed = resolveNow("gone.test");
        assertThat(failed.error()).contains("gone.test");
        assertThat(failed.addresses()).isEmpty();
        now.addAndGet(4 * SECOND);
        zone.put("gone.test", new String[] {"10.0.0.9"});
        assertThat(resolveNow("gone.test").error()).isNotNull();
        assertThat(lookupsOf("gone.test")).isEqualTo(1);
        now.addAndGet(SECOND);
        assertThat(resolveNow("gone.test").error()).isNull();
        assertThat(lookupsOf("gone.test")).isEqualTo(2);
    }

    @Test
    void newTtlsApplyToLaterAnswers() throws Exception {
        zone.put("db.test", new String[] {"10.0.0.1"});
        dns.configure(0, 0); // dns_max_ttl = 0: every connection looks the name up
        resolveNow("db.test");
        resolveNow("db.test");
        assertThat(lookupsOf("db.test")).isEqualTo(2);
    }

    @Test
    void severalAddressesAreHandedOutInTurn() throws Exception {
        zone.put("multi.test", new String[] {"10.0.0.1", "10.0.0.2", "10.0.0.3"});
        DnsCache.Entry e = resolveNow("multi.test");
        assertThat(e.rotated().get(0).getHostAddress()).isEqualTo("10.0.0.1");
        List<InetAddress> second = e.rotated();
        assertThat(second).extracting(InetAddress::getHostAddress).containsExactly("10.0.0.2", "10.0.0.3", "10.0.0.1");
        assertThat(e.rotated().get(0).getHostAddress()).isEqualTo("10.0.0.3");
        assertThat(e.rotated().get(0).getHostAddress()).isEqualTo("10.0.0.1");
    }

    @Test
    void generationChangesOnlyWhenTheAddressesDo() throws Exception {
        zone.put("db.test", new String[] {"10.0.0.1", "10.0.0.2"});
        int first = resolveNow("db.test").generation();
        now.addAndGet(20 * SECOND);
        zone.put("db.test", new String[] {"10.0.0.2", "10.0.0.1"}); // same set, other order
        assertThat(resolveNow("db.test").generation()).isEqualTo(first);
        now.addAndGet(20 * SECOND);
        zone.put("db.test", new String[] {"10.0.0.3"});
        assertThat(resolveNow("db.test").generation()).isEqualTo(first + 1);
        now.addAndGet(20 * SECOND);
        zone.remove("db.test"); // a failed lookup keeps the generation: nothing to move to
        assertThat(resolveNow("db.test").generation()).isEqualTo(first + 1);
    }

    @Test
    void concurrentCallersShareOneLookup() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try (DnsCache slow = new DnsCache(name -> {
            lookups.computeIfAbsent(name, n -> new AtomicInteger()).incrementAndGet();
            try {
                release.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new InetAddress[] {InetAddress.getByName("10.0.0.7")};
        }, now::get, 15 * SECOND, 5 * SECOND)) {
            var a = slow.resolve("slow.test");
            var b = slow.resolve("slow.test");
            assertThat(a.isDone()).isFalse();
            assertThat(slow.pendingCount()).isEqualTo(1);
            release.countDown();
            assertThat(a.get(5, TimeUnit.SECONDS)).isSameAs(b.get(5, TimeUnit.SECONDS));
            assertThat(lookupsOf("slow.test")).isEqualTo(1);
            assertThat(slow.pendingCount()).isZero();
        }
    }

    @Test
    void ipLiteralsAreNotNames() throws Exception {
        assertThat(DnsCache.literal("127.0.0.1").getHostAddress()).isEqualTo("127.0.0.1");
        assertThat(DnsCache.literal("::1")).isNotNull();
        assertThat(DnsCache.literal("[::1]")).isNotNull();
        assertThat(DnsCache.literal("db.example.com")).isNull();
        assertThat(DnsCache.literal("localhost")).isNull();
        // not a valid dotted quad: a name, as for PgBouncer's inet_pton
        assertThat(DnsCache.literal("300.1.1.1")).isNull();
        assertThatThrownBy(() -> DnsCache.literal("zz::1")).isInstanceOf(UnknownHostException.class);
    }
}

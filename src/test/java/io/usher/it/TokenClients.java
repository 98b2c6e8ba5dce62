package io.usher.it;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Clients that each run queries naming a token of their own (client number and sequence) and check that the
 * answer carries exactly that token: a client that got bytes meant for another sees someone else's token.
 * Autocommit queries (simple and extended protocol, the latter through pgjdbc's named statements after five
 * uses) and two-query transactions, each with a short pg_sleep, in a loop until {@link #stop()} or a deadline.
 * A failed connection or query is counted by its message, the connection dropped and a new one made.
 * Every operation's duration is kept: the longest must stay under the timeouts the test configured.
 */
final class TokenClients implements AutoCloseable {
    /** Opens a client connection (pgjdbc through Usher or a proxy in front of it). */
    interface Connector {
        Connection open() throws SQLException;
    }

    /** One operation's outcome, for the timeline. */
    record Op(long startNanos, long endNanos, boolean ok) {}

    private final Connector connector;
    private final String label;
    private final double sleepSeconds;
    private final long thinkMillis;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLong ok = new AtomicLong();
    private final AtomicLong mismatches = new AtomicLong();
    private final AtomicLong maxOpNanos = new AtomicLong();
    private final Map<String, AtomicLong> errors = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<String> mismatchSamples = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Op> ops = new ConcurrentLinkedQueue<>();
    private final long deadline;
    /** The timeline keeps the latest operations only (a soak runs millions). */
    private static final int MAX_OPS_KEPT = 200_000;
    private final java.util.concurrent.atomic.AtomicInteger opCount = new java.util.concurrent.atomic.AtomicInteger();

    TokenClients(Connector connector, String label, int clients, double sleepSeconds, Duration maxRun) {
        this(connector, label, clients, sleepSeconds, 0, maxRun);
    }

    /** As above, each client pausing {@code thinkMillis} between its operations. */
    TokenClients(Connector connector, String label, int clients, double sleepSeconds, long thinkMillis, Duration maxRun) {
        this.thinkMillis = thinkMillis;
        this.connector = connector;
        this.label = label;
        this.sleepSeconds = sleepSeconds;
        this.deadline = System.nanoTime() + maxRun.toNanos();
        for (int i = 0; i < clients; i++) {
            int id = i;
            Thread t = new Thread(() -> run(id), "token-client-" + label + "-" + i);
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    private void run(int id) {
        Connection c = null;
        long seq = 0;
        while (!stop.get() && System.nanoTime() < deadline) {
            long t0 = System.nanoTime();
            boolean good = false;
            try {
                if (c == null) {
                    c = connector.open();
                }
                long n = seq++;
                String token = label + "-" + id + "-" + n;
                switch ((int) (n % 3)) {
                    case 0 -> check(token, simple(c, token));
                    case 1 -> check(token, prepared(c, token));
                    default -> {
                        c.setAutoCommit(false);
                        check(token + "a", prepared(c, token + "a"));
                        check(token + "b", simple(c, token + "b"));
                        c.commit();
                        c.setAutoCommit(true);
                    }
                }
                ok.incrementAndGet();
                good = true;
            } catch (SQLException e) {
                String key = (e.getSQLState() == null ? "" : e.getSQLState() + " ") + firstLine(e.getMessage());
                errors.computeIfAbsent(key, k -> new AtomicLong()).incrementAndGet();
                closeQuietly(c);
                c = null;
            } catch (RuntimeException e) {
                errors.computeIfAbsent(e.toString(), k -> new AtomicLong()).incrementAndGet();
                closeQuietly(c);
                c = null;
            }
            long t1 = System.nanoTime();
            maxOpNanos.accumulateAndGet(t1 - t0, Math::max);
            ops.add(new Op(t0, t1, good));
            if (opCount.incrementAndGet() > MAX_OPS_KEPT) {
                ops.poll();
                opCount.decrementAndGet();
            }
            if (!good) {
                sleepQuietly(50);
            } else if (thinkMillis > 0) {
                sleepQuietly(ThreadLocalRandomHolder.jitter(thinkMillis));
            }
        }
        closeQuietly(c);
    }

    private String simple(Connection c, String token) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT '" + token + "'::text, pg_sleep(" + sleepSeconds + ")")) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private String prepared(Connection c, String token) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT ?::text, pg_sleep(?)")) {
            s.setString(1, token);
            s.setDouble(2, sleepSeconds);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    private void check(String expected, String got) {
        if (!expected.equals(got)) {
            mismatches.incrementAndGet();
            if (mismatchSamples.size() < 10) {
                mismatchSamples.add("expected " + expected + ", got " + got);
            }
            throw new IllegalStateException("token mismatch: expected " + expected + ", got " + got);
        }
    }

    /** Stops the clients and waits for them (each ends its current operation first). */
    TokenClients stop() throws InterruptedException {
        stop.set(true);
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(60));
            if (t.isAlive()) {
                throw new AssertionError(t.getName() + " still running 60 s after stop: a hung client");
            }
        }
        return this;
    }

    long ok() {
        return ok.get();
    }

    long mismatches() {
        return mismatches.get();
    }

    List<String> mismatchSamples() {
        return new ArrayList<>(mismatchSamples);
    }

    long errorCount() {
        return errors.values().stream().mapToLong(AtomicLong::get).sum();
    }

    Map<String, Long> errors() {
        Map<String, Long> m = new TreeMap<>();
        errors.forEach((k, v) -> m.put(k, v.get()));
        return m;
    }

    long maxOpMillis() {
        return TimeUnit.NANOSECONDS.toMillis(maxOpNanos.get());
    }

    /** Operations that started at or after this nanoTime: ok and failed. */
    long[] outcomesSince(long nanos) {
        long good = 0;
        long bad = 0;
        for (Op o : ops) {
            if (o.startNanos() - nanos >= 0) {
                if (o.ok()) {
                    good++;
                } else {
                    bad++;
                }
            }
        }
        return new long[] {good, bad};
    }

    @Override
    public String toString() {
        return label + ": " + ok.get() + " ok, " + errorCount() + " errors " + errors() + ", " + mismatches.get()
                + " mismatches, longest operation " + maxOpMillis() + " ms";
    }

    @Override
    public void close() {
        stop.set(true);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // already broken
            }
        }
    }

    /** A pause around {@code ms} (0.5 to 1.5 times), so clients do not march in step. */
    private static final class ThreadLocalRandomHolder {
        static long jitter(long ms) {
            return ms / 2 + java.util.concurrent.ThreadLocalRandom.current().nextLong(ms + 1);
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

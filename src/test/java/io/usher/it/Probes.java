package io.usher.it;

import io.usher.testing.PostgresCluster;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

import static org.awaitility.Awaitility.await;

/** Observation helpers for the integration tests: what PostgreSQL sees, sampled while load runs. */
final class Probes {

    /** Backends PostgreSQL has for a database, over the given users (not counting the asking connection). */
    static int backendsOnDatabase(PostgresCluster pg, String database, String... users) {
        StringBuilder in = new StringBuilder();
        for (String u : users) {
            in.append(in.length() == 0 ? "" : ",").append('\'').append(u).append('\'');
        }
        return Integer.parseInt(pg.query("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + database
                + "' AND usename IN (" + in + ") AND pid <> pg_backend_pid()").get(0).get(0));
    }

    /** Backends PostgreSQL has for a user, over all databases. */
    static int backendsOfUser(PostgresCluster pg, String user) {
        return Integer.parseInt(pg.query("SELECT count(*) FROM pg_stat_activity WHERE usename = '" + user
                + "' AND pid <> pg_backend_pid()").get(0).get(0));
    }

    /** Waits until earlier tests' server connections of this user are gone, so counts start from zero. */
    static void awaitNoBackendsOfUser(PostgresCluster pg, String user) {
        try {
            await().atMost(Duration.ofSeconds(15)).until(() -> backendsOfUser(pg, user) == 0);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("backends of " + user + " left over: " + pg.query(
                    "SELECT pid, datname, application_name, state, backend_start, query FROM pg_stat_activity WHERE usename = '"
                    + user + "'"), e);
        }
    }

    /**
     * Samples a value in a background thread, every {@code periodMillis}, until {@link #stop()} or until
     * {@code maxRun} has passed (whichever comes first), and keeps the maximum seen.
     */
    static final class MaxSampler implements AutoCloseable {
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final AtomicInteger max = new AtomicInteger(Integer.MIN_VALUE);
        private final AtomicInteger samples = new AtomicInteger();
        private final ExecutorService thread = Executors.newSingleThreadExecutor();
        private final Future<?> done;

        MaxSampler(IntSupplier value, Duration maxRun, long periodMillis) {
            long deadline = System.nanoTime() + maxRun.toNanos();
            done = thread.submit((Callable<Void>) () -> {
                while (running.get() && System.nanoTime() < deadline) {
                    max.accumulateAndGet(value.getAsInt(), Math::max);
                    samples.incrementAndGet();
                    Thread.sleep(periodMillis);
                }
                return null;
            });
        }

        /** Stops sampling; the maximum seen (Integer.MIN_VALUE if nothing was sampled). */
        int stop() throws Exception {
            running.set(false);
            done.get(30, TimeUnit.SECONDS);
            thread.shutdown();
            return max.get();
        }

        int samples() {
            return samples.get();
        }

        @Override
        public void close() {
            running.set(false);
            thread.shutdownNow();
        }
    }

    private Probes() {}
}

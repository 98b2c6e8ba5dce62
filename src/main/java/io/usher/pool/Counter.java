package io.usher.pool;

import java.util.concurrent.atomic.AtomicInteger;

/** A connection count shared by several pools (per database, per user), bounded by a limit (0 = none). */
final class Counter {
    private final AtomicInteger value = new AtomicInteger();

    /** Takes one unit if that keeps the count within {@code limit} (0 = unlimited). */
    boolean tryAcquire(int limit) {
        while (true) {
            int v = value.get();
            if (limit > 0 && v >= limit) {
                return false;
            }
            if (value.compareAndSet(v, v + 1)) {
                return true;
            }
        }
    }

    void release() {
        value.decrementAndGet();
    }

    int get() {
        return value.get();
    }
}

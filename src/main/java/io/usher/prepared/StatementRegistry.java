package io.usher.prepared;

import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Every statement some client or server holds, keyed by query text and parameter types, so that
 * clients preparing the same query share one name on the servers (one Parse per server, not one per
 * client). A statement leaves the registry when its last holder lets go; its id is not reused.
 */
public final class StatementRegistry {
    private final ConcurrentHashMap<Key, SharedStatement> statements = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();

    /** Map key over the Parse body; equality by content. */
    private record Key(byte[] body, int hash) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.hash == hash && Arrays.equals(k.body, body);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** The statement for this Parse body, with one more reference. */
    public SharedStatement acquire(byte[] body) {
        int hash = Arrays.hashCode(body);
        return statements.compute(new Key(body, hash), (k, s) -> {
            SharedStatement x = s != null ? s : new SharedStatement(ids.incrementAndGet(), body, hash);
            x.refs++;
            return x;
        });
    }

    /** One more reference to a statement already held. */
    public void retain(SharedStatement s) {
        statements.compute(new Key(s.body, s.hash), (k, x) -> {
            if (x != s) {
                throw new IllegalStateException("statement " + s.id + " is not registered");
            }
            x.refs++;
            return x;
        });
    }

    /** Drops a reference; the statement leaves the registry with its last one. */
    public void release(SharedStatement s) {
        statements.computeIfPresent(new Key(s.body, s.hash), (k, x) -> {
            if (x != s) {
                return x;
            }
            return --x.refs <= 0 ? null : x;
        });
    }

    /** Statements currently held by someone. */
    public int size() {
        return statements.size();
    }
}

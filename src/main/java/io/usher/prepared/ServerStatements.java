package io.usher.prepared;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tracked statements prepared on one server connection, least recently used first. Positions in
 * the server's message stream (a counter of messages sent) say when an entry was added or last used,
 * so DEALLOCATE ALL drops exactly what existed before it, and a statement the in-flight pipeline
 * still uses is never evicted. Synchronized: the server may close on its own event loop while the
 * client it serves works on another (uncontended otherwise).
 */
public final class ServerStatements {
    private final StatementRegistry registry;
    private final LinkedHashMap<SharedStatement, long[]> prepared = new LinkedHashMap<>(16, 0.75f, true);
    /** Messages sent to this server so far (a position in its stream); only the linked client moves it. */
    long sent;
    /** Position of the last Sync or Query the server has answered with ReadyForQuery. */
    long answered;

    public ServerStatements(StatementRegistry registry) {
        this.registry = registry;
    }

    public synchronized int size() {
        return prepared.size();
    }

    /** Whether the server has it (and marks it used now). */
    synchronized boolean has(SharedStatement s) {
        long[] at = prepared.get(s);
        if (at == null) {
            return false;
        }
        at[1] = sent;
        return true;
    }

    /** Records a statement as prepared from now on; takes a reference. */
    synchronized void add(SharedStatement s) {
        if (prepared.putIfAbsent(s, new long[] {sent, sent}) == null) {
            registry.retain(s);
        }
    }

    /**
     * The least recently used statement that no unanswered message may still need, removed from the
     * cache for the caller to Close on the server (the caller then owns its reference); null if none.
     */
    synchronized SharedStatement evictOne() {
        Iterator<Map.Entry<SharedStatement, long[]>> it = prepared.entrySet().iterator();
        if (!it.hasNext()) {
            return null;
        }
        Map.Entry<SharedStatement, long[]> eldest = it.next();
        if (eldest.getValue()[1] > answered) {
            return null; // even the least recent one is used by the pipeline in flight
        }
        it.remove();
        return eldest.getKey();
    }

    /** Forgets a statement the server does not have after all (its Parse failed or was skipped). */
    synchronized void remove(SharedStatement s) {
        if (prepared.remove(s) != null) {
            registry.release(s);
        }
    }

    /** DEALLOCATE ALL / DISCARD ALL ran at position {@code at}: what was prepared before it is gone. */
    synchronized void removeAddedBefore(long at) {
        List<SharedStatement> gone = new ArrayList<>();
        prepared.forEach((s, pos) -> {
            if (pos[0] < at) {
                gone.add(s);
            }
        });
        gone.forEach(this::remove);
    }

    /** The server closed, or ran DISCARD ALL outside any client's stream: nothing is prepared any more. */
    public synchronized void clear() {
        prepared.keySet().forEach(registry::release);
        prepared.clear();
    }
}

package io.usher.prepared;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tracked statements prepared on one server connection, least recently used first. Positions in
 * the server's message stream (a counter of messages sent) say when an entry was added or last used,
 * so DEALLOCATE ALL drops exactly what existed before it, a statement the in-flight pipeline still
 * uses is never evicted, and a statement whose Parse or eviction lies in an earlier pipeline not yet
 * answered is known to be unsettled ({@link #unsettled}). Synchronized: the server may close on its own
 * event loop while the client it serves works on another (uncontended otherwise).
 */
public final class ServerStatements {

    /** A statement on the server: where its Parse was sent, its last use, and whose Parse it was. */
    static final class Entry {
        final long added;
        long used;
        /** The client registration whose Parse prepared it, or null for a Parse Usher added. */
        final Object by;
        /** Where its eviction's Close was sent, while that Close is not answered. */
        long closedAt;

        Entry(long added, Object by) {
            this.added = added;
            this.used = added;
            this.by = by;
        }
    }

    private final StatementRegistry registry;
    private final LinkedHashMap<SharedStatement, Entry> prepared = new LinkedHashMap<>(16, 0.75f, true);
    /** Evicted statements whose Close is not answered yet (made at the first eviction). */
    private Map<SharedStatement, Entry> closing;
    /** Messages sent to this server so far (a position in its stream); only the linked client moves it. */
    long sent;
    /** Position of the last Sync or Query the server has answered with ReadyForQuery. */
    long answered;
    /** Position of the last Sync sent: the pipelines up to it may still fail, each on its own. */
    long synced;

    public ServerStatements(StatementRegistry registry) {
        this.registry = registry;
    }

    public synchronized int size() {
        return prepared.size();
    }

    /** Whether the server has it (and marks it used now). */
    synchronized boolean has(SharedStatement s) {
        Entry e = prepared.get(s);
        if (e == null) {
            return false;
        }
        e.used = sent;
        return true;
    }

    /**
     * Records a statement as prepared from now on by the Parse just sent for registration {@code by}
     * (null: a Parse of Usher's own); takes a reference. Returns the entry, to undo exactly this Parse.
     */
    synchronized Entry add(SharedStatement s, Object by) {
        Entry e = new Entry(sent, by);
        if (prepared.putIfAbsent(s, e) != null) {
            return null;
        }
        registry.retain(s);
        return e;
    }

    /**
     * Whether the server's having {@code s} now depends on a message of an earlier pipeline (one ended by a
     * Sync) that is not answered yet and may still fail or be skipped: the Parse that prepared it (unless it
     * was the Parse of registration {@code own}), or the Close that evicted it. A message of the pipeline
     * being sent does not count: if it fails, PostgreSQL skips what follows it up to the Sync.
     */
    synchronized boolean unsettled(SharedStatement s, Object own) {
        Entry e = prepared.get(s);
        if (e != null) {
            return e.added > answered && e.added < synced && (own == null || e.by != own);
        }
        e = closing == null ? null : closing.get(s);
        return e != null && e.closedAt < synced;
    }

    /**
     * Whether the server has {@code s} if, and only if, the Parse of registration {@code r} ran: that Parse
     * prepared it, and no eviction of it is unanswered (the same pipeline may have evicted it first: if the
     * pipeline fails, the server keeps it without that Parse).
     */
    synchronized boolean preparedBy(SharedStatement s, Object r) {
        Entry e = prepared.get(s);
        return e != null && e.by == r && (closing == null || !closing.containsKey(s));
    }

    /**
     * The least recently used statement that no unanswered message may still need, removed from the
     * cache for the caller to Close on the server at position {@code closeAt} (the caller then owns its
     * reference until {@link #closed} or {@link #reopen}); null if none.
     */
    synchronized SharedStatement evictOne(long closeAt) {
        Iterator<Map.Entry<SharedStatement, Entry>> it = prepared.entrySet().iterator();
        if (!it.hasNext()) {
            return null;
        }
        Map.Entry<SharedStatement, Entry> eldest = it.next();
        if (eldest.getValue().used > answered) {
            return null; // even the least recent one is used by the pipeline in flight
        }
        it.remove();
        if (closing == null) {
            closing = new HashMap<>();
        }
        eldest.getValue().closedAt = closeAt;
        closing.put(eldest.getKey(), eldest.getValue());
        return eldest.getKey();
    }

    /** The Close of an evicted statement was answered: it is gone from the server. */
    synchronized void closed(SharedStatement s) {
        if (closing != null) {
            closing.remove(s);
        }
    }

    /**
     * The Close of an evicted statement was skipped: the server still has it (takes a reference). It counts
     * as used now, so it is not chosen again at once.
     */
    synchronized void reopen(SharedStatement s) {
        Entry e = closing == null ? null : closing.remove(s);
        if (e != null && prepared.putIfAbsent(s, e) == null) {
            e.used = sent;
            registry.retain(s);
        }
    }

    /**
     * Forgets a statement the server does not have after all: its Parse, the one that made {@code entry},
     * failed or was skipped.
     */
    synchronized void remove(SharedStatement s, Entry entry) {
        if (prepared.get(s) == entry && prepared.remove(s) != null) {
            registry.release(s);
        }
    }

    /** DEALLOCATE ALL / DISCARD ALL ran at position {@code at}: what was prepared before it is gone. */
    synchronized void removeAddedBefore(long at) {
        List<SharedStatement> gone = new ArrayList<>();
        prepared.forEach((s, e) -> {
            if (e.added < at) {
                gone.add(s);
            }
        });
        for (SharedStatement s : gone) {
            prepared.remove(s);
            registry.release(s);
        }
    }

    /** The server closed, or ran DISCARD ALL outside any client's stream: nothing is prepared any more. */
    public synchronized void clear() {
        prepared.keySet().forEach(registry::release);
        prepared.clear();
        if (closing != null) {
            closing.clear();
        }
    }
}

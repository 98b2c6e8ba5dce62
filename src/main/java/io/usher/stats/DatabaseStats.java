package io.usher.stats;

import java.util.concurrent.atomic.LongAdder;

/**
 * PgBouncer's per-database counters (SHOW STATS). Updated from every event loop without locks
 * (LongAdder keeps a cell per contending thread); read by the console and the stats period task.
 */
public final class DatabaseStats {
    final String database;
    final LongAdder serverAssignments = new LongAdder();
    final LongAdder transactions = new LongAdder();
    final LongAdder queries = new LongAdder();
    final LongAdder received = new LongAdder();
    final LongAdder sent = new LongAdder();
    final LongAdder transactionMicros = new LongAdder();
    final LongAdder queryMicros = new LongAdder();
    final LongAdder waitMicros = new LongAdder();
    final LongAdder clientParses = new LongAdder();
    final LongAdder serverParses = new LongAdder();
    final LongAdder binds = new LongAdder();

    /** The averages of the last completed stats_period (per second, or per event for times). */
    volatile Totals averages = Totals.ZERO;
    volatile Totals previous = Totals.ZERO;

    DatabaseStats(String database) {
        this.database = database;
    }

    public String database() {
        return database;
    }

    public void serverAssigned(long waitedNanos) {
        serverAssignments.increment();
        waitMicros.add(waitedNanos / 1000);
    }

    public void queryDone(long nanos) {
        queries.increment();
        queryMicros.add(nanos / 1000);
    }

    public void transactionDone(long nanos) {
        transactions.increment();
        transactionMicros.add(nanos / 1000);
    }

    public void received(long bytes) {
        received.add(bytes);
    }

    public void sent(long bytes) {
        sent.add(bytes);
    }

    /** A named Parse from a client (prepared statement tracking). */
    public void clientParse() {
        clientParses.increment();
    }

    /** A Parse Usher sent to a server to prepare a tracked statement there. */
    public void serverParse() {
        serverParses.increment();
    }

    /** A Bind of a tracked named statement, forwarded to a server. */
    public void bind() {
        binds.increment();
    }

    /** A consistent-enough reading of the counters. */
    public Totals totals() {
        return new Totals(serverAssignments.sum(), transactions.sum(), queries.sum(), received.sum(), sent.sum(),
                transactionMicros.sum(), queryMicros.sum(), waitMicros.sum(), clientParses.sum(), serverParses.sum(),
                binds.sum());
    }

    public Totals averages() {
        return averages;
    }

    /** The figures SHOW STATS reports, as totals or as averages. */
    public record Totals(long serverAssignments, long transactions, long queries, long received, long sent,
                         long transactionMicros, long queryMicros, long waitMicros, long clientParses,
                         long serverParses, long binds) {
        static final Totals ZERO = new Totals(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

        /**
         * Averages over a period as PgBouncer computes them: counts and bytes per second; transaction
         * and query times per transaction and per query; wait time per server assignment.
         */
        Totals averageSince(Totals before, double seconds) {
            long xacts = transactions - before.transactions;
            long qs = queries - before.queries;
            long assigns = serverAssignments - before.serverAssignments;
            return new Totals(perSecond(assigns, seconds), perSecond(xacts, seconds), perSecond(qs, seconds),
                    perSecond(received - before.received, seconds), perSecond(sent - before.sent, seconds),
                    xacts == 0 ? 0 : (transactionMicros - before.transactionMicros) / xacts,
                    qs == 0 ? 0 : (queryMicros - before.queryMicros) / qs,
                    assigns == 0 ? 0 : (waitMicros - before.waitMicros) / assigns,
                    perSecond(clientParses - before.clientParses, seconds),
                    perSecond(serverParses - before.serverParses, seconds), perSecond(binds - before.binds, seconds));
        }

        private static long perSecond(long n, double seconds) {
            return seconds <= 0 ? 0 : Math.round(n / seconds);
        }
    }
}

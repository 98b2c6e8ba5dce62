package io.usher.stats;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/** The statistics of every database, and the stats_period task that turns them into averages. */
public final class StatsRegistry {
    private static final Logger log = LoggerFactory.getLogger("io.usher.stats");

    private final Map<String, DatabaseStats> byDatabase = new ConcurrentSkipListMap<>();
    private long lastPeriodNanos = System.nanoTime();

    public DatabaseStats forDatabase(String database) {
        return byDatabase.computeIfAbsent(database, DatabaseStats::new);
    }

    /** Drops a database's statistics (an auto-database dropped after autodb_idle_timeout, as in PgBouncer). */
    public void forget(String database) {
        byDatabase.remove(database);
    }

    /** Puts back the statistics a pool still uses (a pool made while its database was being dropped). */
    public void keep(DatabaseStats stats) {
        byDatabase.putIfAbsent(stats.database(), stats);
    }

    public Collection<DatabaseStats> all() {
        return byDatabase.values();
    }

    /** Ends a stats_period: computes the averages, and logs PgBouncer's stats line when log_stats is on. */
    public synchronized void periodEnded(boolean logStats) {
        long now = System.nanoTime();
        double seconds = (now - lastPeriodNanos) / 1e9;
        lastPeriodNanos = now;
        for (DatabaseStats s : byDatabase.values()) {
            DatabaseStats.Totals current = s.totals();
            s.averages = current.averageSince(s.previous, seconds);
            s.previous = current;
        }
        DatabaseStats.Totals all = sum();
        DatabaseStats.Totals avg = all.averageSince(previousSum, seconds);
        previousSum = all;
        sumAverages = avg;
        if (logStats) {
            log.info("stats: {} xacts/s, {} queries/s, {} client parses/s, {} server parses/s, {} binds/s, in {} B/s, out {} B/s, xact {} us, query {} us, wait {} us",
                    avg.transactions(), avg.queries(), avg.clientParses(), avg.serverParses(), avg.binds(),
                    avg.received(), avg.sent(), avg.transactionMicros(),
                    avg.queryMicros(), avg.waitMicros());
        }
    }

    private DatabaseStats.Totals previousSum = DatabaseStats.Totals.ZERO;
    private volatile DatabaseStats.Totals sumAverages = DatabaseStats.Totals.ZERO;

    /** The last stats_period's averages over all databases (SHOW TOTALS' avg_* rows). */
    public DatabaseStats.Totals sumAverages() {
        return sumAverages;
    }

    /** Totals over all databases (SHOW TOTALS). */
    public DatabaseStats.Totals sum() {
        long[] t = new long[11];
        for (DatabaseStats s : byDatabase.values()) {
            DatabaseStats.Totals x = s.totals();
            t[0] += x.serverAssignments(); t[1] += x.transactions(); t[2] += x.queries(); t[3] += x.received();
            t[4] += x.sent(); t[5] += x.transactionMicros(); t[6] += x.queryMicros(); t[7] += x.waitMicros();
            t[8] += x.clientParses(); t[9] += x.serverParses(); t[10] += x.binds();
        }
        return new DatabaseStats.Totals(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10]);
    }
}

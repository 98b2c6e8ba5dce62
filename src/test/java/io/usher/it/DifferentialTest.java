package io.usher.it;

import io.usher.testing.PostgresCluster;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.usher.it.ProtocolMessages.COPY_DONE;
import static io.usher.it.ProtocolMessages.SYNC;
import static io.usher.it.ProtocolMessages.bind;
import static io.usher.it.ProtocolMessages.cat;
import static io.usher.it.ProtocolMessages.close;
import static io.usher.it.ProtocolMessages.copyData;
import static io.usher.it.ProtocolMessages.describe;
import static io.usher.it.ProtocolMessages.execute;
import static io.usher.it.ProtocolMessages.parse;
import static io.usher.testing.TestRoles.TRUST;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Differential testing: a seeded generator of client sessions (simple and extended protocol, named
 * statements, pipelines with an error in the middle, transactions with savepoints and rollbacks, COPY
 * in and out, notices, wide and large rows, common types, SET of tracked parameters, cancels) plays each
 * session against PostgreSQL directly and through Usher, many clients at once on a small pool; every
 * message each client receives must be identical. Left out of the comparison: ParameterStatus and BackendKeyData
 * (process ids, server versions) and NotificationResponse. A mismatch names the seed and the first
 * differing message. {@code -Dusher.diff.sessions=N} and {@code -Dusher.diff.seed=S} run more or other
 * sessions (CI runs 240 per pool mode).
 */
class DifferentialTest {
    private static final int CLIENTS = 8;
    private final PostgresCluster pg = PostgresCluster.shared();

    /**
     * One round trip: bytes written at once, then messages read up to the given number of ReadyForQuery;
     * with a cancel, see {@link Cancel}.
     */
    private record Unit(byte[] bytes, int readies, Cancel cancel) {
        Unit(byte[] bytes, int readies) {
            this(bytes, readies, Cancel.NONE);
        }
    }

    /**
     * A CancelRequest with the client's key (the one Usher gave it, to Usher; PostgreSQL's, to PostgreSQL),
     * timed so the messages that follow do not depend on timing.
     */
    private enum Cancel {
        NONE,
        /**
         * A long pg_sleep (simple or extended protocol) is cancelled once pg_stat_activity shows it sleeping:
         * ErrorResponse 57014, then ReadyForQuery. The statement carries a tag of its own, to be found there.
         */
        SLEEP_SIMPLE, SLEEP_EXTENDED,
        /**
         * Nothing runs: the cancel is sent first, and the unit's query once the server has closed the cancel
         * connection (as libpq's PQcancel waits); it must not be cancelled.
         */
        IDLE
    }

    /** Longer than any wait for the cancel, so the sleep always ends by the cancel. */
    private static final String SLEEP = "SELECT pg_sleep(60) /* differential ";

    /** A session for one client, from its seed; {@code statementMode} keeps to single autocommit statements. */
    static List<Unit> session(long seed, boolean statementMode) {
        Random r = new Random(seed);
        List<Unit> units = new ArrayList<>();
        List<String> named = new ArrayList<>();
        int nextName = 0; // names are never reused: a second Parse of a live name is the one documented difference
        int n = 8 + r.nextInt(18);
        for (int i = 0; i < n; i++) {
            if (r.nextInt(12) == 0) {
                // a cancel: valid in every pool mode (the key reaches the server the client is linked to)
                Cancel c = Cancel.values()[1 + r.nextInt(3)];
                units.add(c == Cancel.IDLE ? new Unit(WireClient.query("SELECT 'after a cancel', " + r.nextInt(100)), 1, c)
                        : new Unit(null, 1, c));
                continue;
            }
            int kind = r.nextInt(statementMode ? 8 : 13);
            switch (kind) {
                case 0 -> units.add(q(select(r)));
                case 1 -> units.add(q("SELECT repeat('x', " + r.nextInt(200_000) + ") AS wide, " + r.nextInt(100)));
                case 2 -> units.add(q("SELECT g, md5(g::text) FROM generate_series(1, " + (1 + r.nextInt(3000)) + ") g"));
                case 3 -> units.add(q("SELECT 1/" + r.nextInt(2)));
                case 4 -> units.add(new Unit(cat(parse("", "SELECT $1::int * 2, $2::text"),
                        bind("", "", String.valueOf(r.nextInt(1000)), "t" + r.nextInt(9)), describe('P', ""),
                        execute("", 0), SYNC), 1));
                case 5 -> {
                    // a named statement: prepared once, used again in later round trips, sometimes closed
                    if (named.isEmpty() || r.nextInt(3) == 0) {
                        String name = "st" + nextName++;
                        String sql = r.nextBoolean() ? "SELECT $1::int + " + r.nextInt(5) : "SELECT length($1::text)";
                        named.add(name);
                        units.add(new Unit(cat(parse(name, sql), bind("", name, "7"), execute("", 0), SYNC), 1));
                    } else {
                        String name = named.get(r.nextInt(named.size()));
                        if (r.nextInt(5) == 0) {
                            named.remove(name);
                            units.add(new Unit(cat(close('S', name), SYNC), 1));
                        } else {
                            units.add(new Unit(cat(bind("", name, String.valueOf(r.nextInt(99))), describe('P', ""),
                                    execute("", 0), SYNC), 1));
                        }
                    }
                }
                case 6 -> units.add(q("COPY (SELECT g, g * 2 FROM generate_series(1, " + (1 + r.nextInt(2000))
                        + ") g) TO STDOUT"));
                case 7 -> units.add(q("DO $$ BEGIN RAISE NOTICE 'hello %', " + r.nextInt(1000) + "; END $$"));
                case 8 -> {
                    // a pipeline with an error in the middle: PostgreSQL skips to the Sync
                    units.add(new Unit(cat(parse("", "SELECT 1"), bind("", ""), execute("", 0),
                            parse("", "SELEC broken"), bind("", ""), execute("", 0),
                            parse("", "SELECT 2"), bind("", ""), execute("", 0), SYNC), 1));
                }
                case 9 -> transaction(r, units);
                case 10 -> {
                    // COPY in, within a transaction that owns its temporary table
                    StringBuilder rows = new StringBuilder();
                    int count = 1 + r.nextInt(500);
                    for (int k = 0; k < count; k++) {
                        rows.append(k).append('\t').append("row").append(k).append('\n');
                    }
                    units.add(q("BEGIN"));
                    units.add(q("CREATE TEMP TABLE t_copy (a int, b text) ON COMMIT DROP"));
                    units.add(new Unit(cat(WireClient.query("COPY t_copy FROM STDIN"), copyData(rows.toString()),
                            COPY_DONE), 1));
                    units.add(q("SELECT count(*), sum(a), max(b) FROM t_copy"));
                    units.add(q("COMMIT"));
                }
                case 11 -> units.add(q("SELECT 1; SELECT 'two'; SELECT 3.0::numeric"));
                default -> {
                    // tracked settings follow the client to every server
                    units.add(q("SET application_name = 'app" + r.nextInt(50) + "'"));
                    units.add(q("SHOW application_name"));
                }
            }
        }
        return units;
    }

    private static final String[] VALUES = {"1::int", "'x'::text", "2.5::numeric", "true", "NULL::int",
        "'2024-01-02 03:04:05'::timestamp", "'\\xdeadbeef'::bytea", "'{\"a\": 1}'::json", "ARRAY[1, 2, 3]",
        "'é ü ☃'::text", "12345678901234::bigint", "'1 day 2 hours'::interval", "'a b'::varchar(10)"};

    private static String select(Random r) {
        StringBuilder s = new StringBuilder("SELECT ");
        int n = 1 + r.nextInt(6);
        for (int i = 0; i < n; i++) {
            s.append(i == 0 ? "" : ", ").append(VALUES[r.nextInt(VALUES.length)]).append(" AS c").append(i);
        }
        return s.toString();
    }

    private static void transaction(Random r, List<Unit> units) {
        units.add(q("BEGIN"));
        units.add(q("SET LOCAL work_mem = '" + (1 + r.nextInt(64)) + "MB'"));
        units.add(q(select(r)));
        if (r.nextBoolean()) {
            units.add(q("SAVEPOINT sp"));
            units.add(q("SELECT 1/0"));
            units.add(q("ROLLBACK TO SAVEPOINT sp"));
        }
        units.add(new Unit(cat(parse("", "SELECT $1::int"), bind("", "", "5"), execute("", 0), SYNC), 1));
        units.add(q("SHOW work_mem"));
        units.add(q(r.nextBoolean() ? "COMMIT" : "ROLLBACK"));
    }

    private static Unit q(String sql) {
        return new Unit(WireClient.query(sql), 1);
    }

    /**
     * Plays a session through {@code port} (PostgreSQL's, or Usher's in front of the PostgreSQL at
     * {@code pgPort}); returns one line per message received (ParameterStatus, BackendKeyData,
     * notifications left out).
     */
    static List<String> play(List<Unit> units, int port, int pgPort) throws IOException {
        List<String> out = new ArrayList<>();
        WireClient watcher = null; // straight to PostgreSQL: pg_stat_activity
        try (WireClient c = new WireClient(port)) {
            c.loginTrust(TRUST, "appdb");
            for (Unit u : units) {
                if (u.cancel() == Cancel.IDLE) {
                    c.cancelVia(port);
                    c.send(u.bytes());
                } else if (u.cancel() != Cancel.NONE) {
                    String sql = SLEEP + UUID.randomUUID() + " */";
                    c.send(u.cancel() == Cancel.SLEEP_SIMPLE ? WireClient.query(sql)
                            : cat(parse("", sql), bind("", ""), execute("", 0), SYNC));
                    if (watcher == null) {
                        watcher = new WireClient(pgPort);
                        watcher.loginTrust(TRUST, "appdb");
                    }
                    awaitSleeping(watcher, sql);
                    c.cancelVia(port);
                } else {
                    c.send(u.bytes());
                }
                int readies = 0;
                while (readies < u.readies()) {
                    WireClient.Message m = c.read();
                    if (m.type() == 'S' || m.type() == 'K' || m.type() == 'A') {
                        continue;
                    }
                    if (m.type() == 'Z') {
                        readies++;
                    }
                    out.add(ProtocolMessages.describe(m));
                }
            }
        } finally {
            if (watcher != null) {
                watcher.close();
            }
        }
        return out;
    }

    /** Waits (up to 20 s) until PostgreSQL runs the statement and sleeps in it. */
    private static void awaitSleeping(WireClient watcher, String sql) throws IOException {
        String tag = sql.substring(SLEEP.length(), sql.length() - 3);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            watcher.send(WireClient.query("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                    + " AND query LIKE '%" + tag + "%'"));
            String count = watcher.readUntil('D').text().substring(6);
            watcher.readUntil('Z');
            if (count.equals("1")) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("the statement to cancel was not seen sleeping within 20 s: " + sql);
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
    }

    @ParameterizedTest(name = "pool_mode = {0}")
    @ValueSource(strings = {"transaction", "session", "statement"})
    void sessionsGetTheSameMessagesAsFromPostgresDirectly(String mode) throws Exception {
        int sessions = Integer.getInteger("usher.diff.sessions", 240);
        long baseSeed = Long.getLong("usher.diff.seed", 20261126L) + mode.hashCode();
        boolean statementMode = mode.equals("statement");
        try (UsherInstance u = UsherInstance.builder(pg).set("auth_type", "trust").set("pool_mode", mode)
                .set("default_pool_size", mode.equals("session") ? CLIENTS : 3).start()) {
            ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
            try {
                long messages = 0;
                long cancels = 0;
                long idleCancels = 0;
                for (int done = 0; done < sessions; done += CLIENTS) {
                    List<Future<String>> results = new ArrayList<>();
                    for (int c = 0; c < CLIENTS && done + c < sessions; c++) {
                        long seed = baseSeed + done + c;
                        results.add(threads.submit(() -> {
                            List<Unit> units = session(seed, statementMode);
                            List<String> direct = play(units, pg.port(), pg.port());
                            List<String> pooled = play(units, u.port(), pg.port());
                            long idle = units.stream().filter(x -> x.cancel() == Cancel.IDLE).count();
                            long sleeping = units.stream().filter(x -> x.cancel() != Cancel.NONE).count() - idle;
                            return compare(seed, direct, pooled) + "\n" + direct.size() + "\n" + sleeping + "\n" + idle;
                        }));
                    }
                    for (Future<String> f : results) {
                        String[] r = f.get(120, TimeUnit.SECONDS).split("\n");
                        assertThat(r[0]).as("mismatch").isEmpty();
                        messages += Long.parseLong(r[1]);
                        cancels += Long.parseLong(r[2]);
                        idleCancels += Long.parseLong(r[3]);
                    }
                }
                System.out.println("differential, " + mode + " pooling: " + sessions + " sessions, " + messages
                        + " messages compared, 0 differences; cancels (each played directly and through Usher): "
                        + cancels + " of a running statement, " + idleCancels + " of an idle session");
            } finally {
                threads.shutdownNow();
            }
        }
    }

    /** Empty if equal, else the seed and the first difference. */
    private static String compare(long seed, List<String> direct, List<String> pooled) {
        for (int i = 0; i < Math.max(direct.size(), pooled.size()); i++) {
            String d = i < direct.size() ? direct.get(i) : "(nothing)";
            String p = i < pooled.size() ? pooled.get(i) : "(nothing)";
            if (!d.equals(p)) {
                return "seed " + seed + ", message " + i + ": direct " + abbreviate(d) + " / through Usher " + abbreviate(p);
            }
        }
        return "";
    }

    private static String abbreviate(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}

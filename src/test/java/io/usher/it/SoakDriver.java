package io.usher.it;

import io.usher.testing.PostgresCluster;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.stream.Stream;

import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static io.usher.testing.TestRoles.password;

/**
 * The soak: Usher as its own process (bin/usher's heap cap, -Xmx1g) in front of a throwaway PostgreSQL, held by
 * {@code connections} client connections of which {@code busy} are pgjdbc clients running token-checked queries
 * ({@link TokenClients}) and the rest idle raw-protocol clients, {@code churn} of which a second are closed (half
 * with Terminate, half with a reset) and replaced by a new login; a few idle ones are asked for their own token
 * every sample. Every {@code sample} seconds Usher's RSS, threads and file descriptors (/proc) and its heap (jstat:
 * as found, and after a full GC asked for with jcmd GC.run, the figure a leak would raise) go to
 * a CSV. At the end: every unexpected error (a failed query, login or probe, a token of another client) and
 * every growth of heap, RSS, threads or descriptors past the warm-up level fails the run.
 *
 * <p>Run by scripts/soak.sh (30 minutes, 10,000 connections) and by SoakTest (2 minutes, fewer connections,
 * Netty's leak detector on paranoid in Usher).
 */
public final class SoakDriver {
    /** What to run. */
    record Options(int connections, int busy, double churnPerSecond, Duration duration, int sampleSeconds, Path csv,
                   List<String> usherJvmOptions, int poolSize) {}

    /** One sample of Usher's process. */
    record Sample(long seconds, long rssKb, long heapKb, long heapAfterGcKb, int threads, int fds, long ok, long errors,
                  long churned, long probes, int backends) {
        static final String HEADER = "seconds,rss_kb,heap_used_kb,heap_after_gc_kb,threads,fds,queries_ok,errors,"
                + "reconnects,idle_probes,pg_backends";

        String csv() {
            return seconds + "," + rssKb + "," + heapKb + "," + heapAfterGcKb + "," + threads + "," + fds + "," + ok + ","
                    + errors + "," + churned + "," + probes + "," + backends;
        }
    }

    /** The outcome: samples, counts, what went wrong (empty when the run held), and Usher's stderr. */
    record Result(List<Sample> samples, long ok, long errors, long mismatches, long churned, long probes,
                  List<String> problems, String usherLog, Map<String, Long> errorKinds) {}

    public static void main(String[] args) throws Exception {
        int connections = 10_000;
        int busy = 200;
        double churn = 50;
        Duration duration = Duration.ofMinutes(30);
        int sample = 10;
        Path csv = Path.of("target/soak.csv");
        List<String> jvm = new ArrayList<>(List.of("-Xmx1g"));
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--connections" -> connections = Integer.parseInt(args[++i]);
                case "--busy" -> busy = Integer.parseInt(args[++i]);
                case "--churn" -> churn = Double.parseDouble(args[++i]);
                case "--minutes" -> duration = Duration.ofSeconds((long) (Double.parseDouble(args[++i]) * 60));
                case "--sample" -> sample = Integer.parseInt(args[++i]);
                case "--csv" -> csv = Path.of(args[++i]);
                case "--usher-jvm" -> jvm.add(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Result r = run(new Options(connections, busy, churn, duration, sample, csv, jvm, 20));
        System.out.println(Sample.HEADER);
        r.samples().forEach(s -> System.out.println(s.csv()));
        System.out.printf("%d queries ok, %d errors %s, %d token mismatches, %d reconnects, %d idle probes%n",
                r.ok(), r.errors(), r.errorKinds(), r.mismatches(), r.churned(), r.probes());
        if (!r.problems().isEmpty()) {
            System.out.println("SOAK FAILED:");
            r.problems().forEach(p -> System.out.println("  " + p));
            System.exit(1);
        }
        System.out.println("SOAK PASSED");
        System.exit(0);
    }

    static Result run(Options o) throws Exception {
        try (PostgresCluster pg = PostgresCluster.startNew()) {
            UsherInstance.Config config = UsherInstance.builder(pg)
                    .set("max_client_conn", o.connections() + 100)
                    .set("default_pool_size", o.poolSize())
                    .set("listen_backlog", 4096)
                    .set("log_connections", 0)
                    .set("log_disconnections", 0)
                    .set("log_stats", 0)
                    .set("query_wait_timeout", 30)
                    .set("query_timeout", 30)
                    .writeConfig();
            Path dir = config.ini().getParent();
            try (UsherProcess usher = UsherProcess.start(dir, Map.of(), o.usherJvmOptions(), config.ini().toString())) {
                awaitListening(config.port(), usher);
                return drive(o, pg, config.port(), usher);
            }
        }
    }

    private static void awaitListening(int port, UsherProcess usher) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < end) {
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                return;
            } catch (IOException e) {
                if (!usher.process.isAlive()) {
                    throw new IllegalStateException("usher exited: " + usher.stderrSoFar());
                }
                Thread.sleep(100);
            }
        }
        throw new IllegalStateException("usher did not listen within 60 s: " + usher.stderrSoFar());
    }

    private static Result drive(Options o, PostgresCluster pg, int port, UsherProcess usher) throws Exception {
        long pid = usher.process.pid();
        List<String> problems = new ArrayList<>();
        int idleCount = o.connections() - o.busy();
        AtomicReferenceArray<WireClient> idle = new AtomicReferenceArray<>(idleCount);
        AtomicLong loginErrors = new AtomicLong();
        AtomicLong probeErrors = new AtomicLong();
        AtomicLong churned = new AtomicLong();
        AtomicLong probes = new AtomicLong();
        String pw = password(MD5);

        // ramp up: the idle clients log in (8 at a time), then the busy ones start
        ExecutorService ramp = Executors.newFixedThreadPool(8);
        List<Future<?>> logins = new ArrayList<>();
        for (int i = 0; i < idleCount; i++) {
            int slot = i;
            logins.add(ramp.submit(() -> {
                idle.set(slot, login(port, pw));
                return null;
            }));
        }
        for (Future<?> f : logins) {
            f.get(5, TimeUnit.MINUTES);
        }
        ramp.shutdown();
        long start = System.nanoTime();
        long end = start + o.duration().toNanos();
        TokenClients busy = new TokenClients(() -> connect(port), "busy", o.busy(), 0.002, 50,
                o.duration().plusMinutes(1));

        // churn: close a random idle client (Terminate or reset) and log in a new one in its slot
        Thread churner = new Thread(() -> {
            long periodNanos = (long) (1e9 / Math.max(0.01, o.churnPerSecond()));
            long next = System.nanoTime();
            while (System.nanoTime() < end) {
                next += periodNanos;
                int slot = ThreadLocalRandom.current().nextInt(idleCount);
                WireClient old = idle.getAndSet(slot, null);
                try {
                    if (old != null) {
                        if (ThreadLocalRandom.current().nextBoolean()) {
                            old.send(WireClient.message('X', new byte[0]));
                            old.close();
                        } else {
                            old.reset();
                        }
                    }
                    putBack(idle, slot, login(port, pw));
                    churned.incrementAndGet();
                } catch (IOException e) {
                    loginErrors.incrementAndGet();
                    System.err.println("soak: reconnect failed: " + e);
                }
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    sleepNanos(wait);
                } else if (wait < -1_000_000_000L) {
                    next = System.nanoTime(); // fell behind: do not burst to catch up
                }
            }
        }, "soak-churn");
        churner.setDaemon(true);
        churner.start();

        List<Sample> samples = new ArrayList<>();
        Files.createDirectories(o.csv().toAbsolutePath().getParent());
        try (PrintWriter csv = new PrintWriter(Files.newBufferedWriter(o.csv(), StandardCharsets.UTF_8))) {
            csv.println(Sample.HEADER);
            long nextSample = start;
            while (true) {
                // a few idle clients are asked for their own token: they still work, and get only their answers
                for (int k = 0; k < 5; k++) {
                    int slot = ThreadLocalRandom.current().nextInt(idleCount);
                    WireClient w = idle.getAndSet(slot, null);
                    if (w == null) {
                        continue;
                    }
                    String token = "idle-" + slot + "-" + probes.incrementAndGet();
                    try {
                        w.send(WireClient.query("SELECT '" + token + "'"));
                        String got = w.readUntil('D').text();
                        w.readUntil('Z');
                        if (!got.contains(token)) {
                            problems.add("idle client " + slot + " asked for " + token + " got " + got);
                        }
                        putBack(idle, slot, w);
                    } catch (IOException e) {
                        probeErrors.incrementAndGet();
                        System.err.println("soak: idle probe failed: " + e);
                        w.close();
                        putBack(idle, slot, login(port, pw));
                    }
                }
                long now = System.nanoTime();
                if (now - nextSample >= 0) {
                    Sample s = sample(pid, TimeUnit.NANOSECONDS.toSeconds(now - start), busy, loginErrors.get()
                            + probeErrors.get(), churned.get(), probes.get(), pg);
                    samples.add(s);
                    csv.println(s.csv());
                    csv.flush();
                    System.out.println("soak " + Instant.now() + " " + s.csv());
                    nextSample += TimeUnit.SECONDS.toNanos(o.sampleSeconds());
                    if (now - end >= 0) {
                        break;
                    }
                }
                if (!usher.process.isAlive()) {
                    problems.add("usher exited with " + usher.process.exitValue());
                    break;
                }
                Thread.sleep(200);
            }
        }
        busy.stop();
        churner.join(TimeUnit.SECONDS.toMillis(30));
        for (int i = 0; i < idleCount; i++) {
            WireClient w = idle.getAndSet(i, null);
            if (w != null) {
                w.close();
            }
        }
        long errors = busy.errorCount() + loginErrors.get() + probeErrors.get();
        if (errors > 0) {
            problems.add(errors + " unexpected errors: " + busy.errors() + ", " + loginErrors.get() + " failed reconnects, "
                    + probeErrors.get() + " failed idle probes");
        }
        if (busy.mismatches() > 0) {
            problems.add(busy.mismatches() + " token mismatches: " + busy.mismatchSamples());
        }
        if (busy.ok() == 0) {
            problems.add("no query succeeded");
        }
        problems.addAll(growth(samples, o.connections()));
        return new Result(samples, busy.ok(), errors, busy.mismatches(), churned.get(), probes.get(), problems,
                usher.stderrSoFar(), busy.errors());
    }

    /**
     * Growth past the warm-up: the second quarter of the run is the reference (the first is warm-up: heap and
     * code caches fill), the last quarter is compared with it.
     */
    static List<String> growth(List<Sample> samples, int connections) {
        List<String> problems = new ArrayList<>();
        int n = samples.size();
        if (n < 8) {
            problems.add("too few samples (" + n + ") to judge growth");
            return problems;
        }
        List<Sample> ref = samples.subList(n / 4, n / 2);
        List<Sample> last = samples.subList(n - n / 4, n);
        long refHeap = ref.stream().mapToLong(Sample::heapAfterGcKb).max().orElse(0);
        long lastHeap = last.stream().mapToLong(Sample::heapAfterGcKb).max().orElse(0);
        if (refHeap > 0 && lastHeap > refHeap + 16 * 1024) {
            problems.add("heap after GC grew from " + refHeap / 1024 + " MB to " + lastHeap / 1024 + " MB");
        }
        // RSS moves with the heap G1 commits and gives back (each sample's full GC lets it shrink): the highest
        // value of the last quarter against the highest of the first half
        long refRss = samples.subList(0, n / 2).stream().mapToLong(Sample::rssKb).max().orElse(0);
        long lastRss = last.stream().mapToLong(Sample::rssKb).max().orElse(0);
        if (lastRss > refRss * 1.25 + 64 * 1024) {
            problems.add("RSS grew from " + refRss / 1024 + " MB to " + lastRss / 1024 + " MB");
        }
        int refThreads = ref.stream().mapToInt(Sample::threads).max().orElse(0);
        int lastThreads = last.stream().mapToInt(Sample::threads).max().orElse(0);
        if (lastThreads > refThreads + 4) {
            problems.add("threads grew from " + refThreads + " to " + lastThreads);
        }
        int refFds = ref.stream().mapToInt(Sample::fds).max().orElse(0);
        int lastFds = last.stream().mapToInt(Sample::fds).max().orElse(0);
        if (lastFds > refFds + connections / 50 + 50) {
            problems.add("file descriptors grew from " + refFds + " to " + lastFds);
        }
        return problems;
    }

    private static Sample sample(long pid, long seconds, TokenClients busy, long otherErrors, long churned, long probes,
                                 PostgresCluster pg) {
        long rss = -1;
        int threads = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("\\D", ""));
                } else if (line.startsWith("Threads:")) {
                    threads = Integer.parseInt(line.replaceAll("\\D", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // gone: reported by the caller
        }
        int fds;
        try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            fds = (int) s.count();
        } catch (IOException e) {
            fds = -1;
        }
        long heapFound = jstatHeap(pid, false);
        runJdkTool("jcmd", String.valueOf(pid), "GC.run");
        // a full GC leaves the live objects in the old generation; what eden takes on meanwhile is not counted
        long heapAfterGc = jstatHeap(pid, true);
        int backends;
        try {
            backends = Integer.parseInt(pg.query("SELECT count(*) FROM pg_stat_activity WHERE usename = '" + MD5 + "'")
                    .get(0).get(0));
        } catch (RuntimeException e) {
            backends = -1;
        }
        return new Sample(seconds, rss, heapFound, heapAfterGc, threads, fds, busy.ok(), busy.errorCount() + otherErrors, churned,
                probes, backends);
    }

    /**
     * Heap used in kB (survivors, eden and old generation; or the old generation alone), from jstat -gc (the JVM's
     * perf counters); -1 if unknown.
     */
    private static long jstatHeap(long pid, boolean oldOnly) {
        String out = runJdkTool("jstat", "-gc", String.valueOf(pid));
        if (out == null) {
            return -1;
        }
        try {
            String[] lines = out.trim().split("\n");
            String[] names = lines[0].trim().split("\\s+");
            String[] values = lines[lines.length - 1].trim().split("\\s+");
            double used = 0;
            for (int i = 0; i < names.length && i < values.length; i++) {
                if (names[i].equals("OU") || !oldOnly && (names[i].equals("S0U") || names[i].equals("S1U") || names[i].equals("EU"))) {
                    used += Double.parseDouble(values[i]);
                }
            }
            return (long) used;
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** Runs a JDK tool (jstat, jcmd) of this JVM's JDK; its output, or null if it is missing or failed. */
    private static String runJdkTool(String tool, String... args) {
        Path exe = Path.of(System.getProperty("java.home"), "bin", tool);
        if (!Files.isExecutable(exe)) {
            return null;
        }
        List<String> cmd = new ArrayList<>(List.of(exe.toString()));
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                return null;
            }
            return out;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Puts a client in an empty slot; if the other thread filled the slot meanwhile, this one is closed. */
    private static void putBack(AtomicReferenceArray<WireClient> idle, int slot, WireClient w) throws IOException {
        if (!idle.compareAndSet(slot, null, w)) {
            w.close();
        }
    }

    private static WireClient login(int port, String pw) throws IOException {
        WireClient w = new WireClient(port);
        try {
            w.loginMd5(MD5, pw, APPDB);
            return w;
        } catch (IOException e) {
            w.close();
            throw e;
        }
    }

    private static Connection connect(int port) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", MD5);
        p.setProperty("password", password(MD5));
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "30");
        p.setProperty("socketTimeout", "60");
        p.setProperty("assumeMinServerVersion", "12");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + APPDB, p);
    }

    private static void sleepNanos(long nanos) {
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private SoakDriver() {}
}

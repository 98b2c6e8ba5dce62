package io.usher.it;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The CI version of the soak (scripts/soak.sh runs the long one): two minutes of {@link SoakDriver} against Usher
 * as its own process with Netty's leak detector on paranoid; every unexpected error, any growth past the warm-up
 * and any {@code LEAK:} in Usher's log fails it. The connection count is scaled to the open-files limit
 * (2,000 where it allows; the test JVM holds one descriptor a connection, Usher another).
 */
class SoakTest {
    private static final double MINUTES = Double.parseDouble(System.getProperty("usher.soak.minutes", "2"));

    @Test
    void twoMinutesOfChurnAndBusyClientsWithoutLeaksOrGrowth() throws Exception {
        long limit = openFilesLimit();
        int connections = (int) Math.max(200, Math.min(2000, limit - 1000));
        SoakDriver.Options o = new SoakDriver.Options(connections, Math.min(100, connections / 4), 20,
                Duration.ofSeconds((long) (MINUTES * 60)), 5, Path.of("target/soak-ci.csv"),
                List.of("-Xmx1g", "-Dio.netty.leakDetection.level=paranoid"), 20);
        SoakDriver.Result r = SoakDriver.run(o);
        System.out.println("soak (CI): open files limit " + limit + ", " + connections + " connections, " + o.busy()
                + " busy; " + r.ok() + " queries ok, " + r.errors() + " errors " + r.errorKinds() + ", " + r.mismatches()
                + " token mismatches, " + r.churned() + " reconnects, " + r.probes() + " idle probes");
        System.out.println(SoakDriver.Sample.HEADER);
        r.samples().forEach(s -> System.out.println(s.csv()));
        assertThat(r.usherLog()).as("Usher's log (read, and free of leak reports)").contains("listening on")
                .doesNotContain("LEAK:");
        assertThat(r.problems()).as("soak problems").isEmpty();
        assertThat(r.ok()).isPositive();
        assertThat(r.churned()).isPositive();
        assertThat(r.samples()).allSatisfy(s -> assertThat(s.heapAfterGcKb()).as("heap sampled").isPositive());
    }

    /** The soft "Max open files" limit of this process. */
    private static long openFilesLimit() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                String v = line.substring("Max open files".length()).trim().split("\\s+")[0];
                return v.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(v);
            }
        }
        return 1024;
    }
}

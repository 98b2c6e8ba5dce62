package io.usher.it;

import io.usher.ShutdownMode;
import io.usher.testing.LoopbackPorts;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;

/** so_reuseport: a new Usher starts beside the old one on the same port, the old one drains and goes. */
class RollingRestartTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    private static long transactions(UsherInstance u) {
        return u.usher().stats().forDatabase("appdb").totals().transactions();
    }

    // two Ushers bind one port with so_reuseport; once the old one shuts down (SIGTERM's mode), every new
    // connection reaches the new one, while the old one keeps serving the client it already has
    @Test
    void newUsherTakesOverThePortWhileTheOldOneDrains() throws Exception {
        int port = LoopbackPorts.pickFree();
        UsherInstance.Builder config = UsherInstance.builder(pg).set("listen_port", port).set("so_reuseport", 1);
        try (UsherInstance old = config.start(); UsherInstance fresh = config.start()) {
            CountDownLatch oldStopped = new CountDownLatch(1);
            old.usher().onShutdownRequest(oldStopped::countDown);
            try (Connection kept = old.connect(MD5, "appdb")) {
                // the kernel spreads connections over both listeners
                for (int i = 0; i < 40 && (transactions(old) == 0 || transactions(fresh) == 0); i++) {
                    try (Connection c = fresh.connect(MD5, "appdb")) {
                        one(c, "SELECT 1");
                    }
                }
                assertThat(transactions(old)).as("the old Usher served some").isPositive();
                assertThat(transactions(fresh)).as("the new Usher served some").isPositive();
                // make sure "kept" is a client of the old one
                long before = transactions(old);
                one(kept, "SELECT 1");
                boolean keptOnOld = transactions(old) > before;

                old.usher().shutdown(ShutdownMode.WAIT_FOR_CLIENTS);
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> !old.usher().accepting());
                long freshBefore = transactions(fresh);
                for (int i = 0; i < 30; i++) {
                    try (Connection c = fresh.connect(MD5, "appdb")) {
                        assertThat(one(c, "SELECT " + i)).isEqualTo(String.valueOf(i));
                    }
                }
                assertThat(transactions(fresh) - freshBefore).as("every new connection reached the new Usher").isEqualTo(30);
                assertThat(one(kept, "SELECT 'still served'")).isEqualTo("still served");
                if (keptOnOld) {
                    assertThat(oldStopped.await(200, TimeUnit.MILLISECONDS)).as("old one waits for its client").isFalse();
                }
            }
            assertThat(oldStopped.await(Duration.ofSeconds(5).toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        }
    }
}

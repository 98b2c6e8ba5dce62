package io.usher.it;

import io.netty.channel.unix.FileDescriptor;
import io.usher.Usher;
import io.usher.takeover.TakeoverClient;
import io.usher.takeover.TakeoverProtocol;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The takeover exchange within one JVM: a successor that goes away before confirming changes
 * nothing; one that confirms gets sockets the old Usher no longer accepts on but never closed, and a
 * second Usher started on them serves the port. ({@link TakeoverTest} runs it between processes.)
 */
class TakeoverHandshakeTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    @Test
    void onlyAConfirmedSuccessorTakesTheSocketsAndTheyStayOpen() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "usher-hs-");
        UsherInstance.Builder config = UsherInstance.builder(pg).set("pidfile", dir.resolve("u.pid"));
        try (UsherInstance old = config.start()) {
            old.usher().listenForTakeover();
            Path control = TakeoverProtocol.controlSocket(old.usher().config().settings());
            assertThat(control).isEqualTo(dir.resolve("u.pid.takeover"));

            // a successor that goes away without confirming: the old one carries on
            try (TakeoverClient quitter = TakeoverClient.fetch(control, Duration.ofSeconds(10))) {
                assertThat(quitter.sockets()).extracting(TakeoverClient.Inherited::kind)
                        .containsExactly(TakeoverProtocol.Kind.TCP);
                for (TakeoverClient.Inherited s : quitter.sockets()) {
                    new FileDescriptor(s.fd()).close(); // our copies only
                }
            }
            Thread.sleep(200);
            assertThat(old.usher().handedOver()).isFalse();
            assertThat(old.usher().accepting()).isTrue();
            try (Connection c = old.connect(MD5, APPDB)) {
                assertThat(one(c, "SELECT 'still the old one'")).isEqualTo("still the old one");
            }

            // a successor that confirms: the old one stops accepting, a client it has is still served
            try (Connection kept = old.connect(MD5, APPDB);
                 TakeoverClient successor = TakeoverClient.fetch(control, Duration.ofSeconds(10))) {
                Usher fresh = Usher.start(old.usher().config(), successor.sockets());
                try {
                    successor.confirm();
                    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> old.usher().handedOver());
                    assertThat(old.usher().accepting()).isFalse();
                    long before = fresh.stats().forDatabase(APPDB).totals().transactions();
                    for (int i = 0; i < 5; i++) {
                        try (Connection c = old.connect(MD5, APPDB)) { // same port: now the new Usher's
                            assertThat(one(c, "SELECT " + i)).isEqualTo(String.valueOf(i));
                        }
                    }
                    assertThat(fresh.stats().forDatabase(APPDB).totals().transactions() - before).isEqualTo(5);
                    assertThat(one(kept, "SELECT 'kept'")).isEqualTo("kept");
                } finally {
                    fresh.close();
                }
            }
        } finally {
            io.usher.testing.FileTrees.deleteRecursively(dir);
        }
    }
}

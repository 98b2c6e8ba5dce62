package io.usher.it;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.usher.client.ClientConnection;
import io.usher.net.Transport;
import io.usher.pool.Pool;
import io.usher.server.ServerConnection;
import io.usher.testing.PostgresCluster;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;

import static io.usher.it.Sql.one;
import static io.usher.testing.TestRoles.APPDB;
import static io.usher.testing.TestRoles.MD5;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The socket settings as the kernel has them: TCP options read back from client and server sockets,
 * the Unix socket file's mode and group.
 */
class SocketSettingsTest {
    private final PostgresCluster pg = PostgresCluster.shared();

    private static Channel clientChannel(UsherInstance u) {
        List<Channel> channels = new ArrayList<>();
        for (ClientConnection c : u.usher().clients()) {
            channels.add(c.channel());
        }
        assertThat(channels).hasSize(1);
        return channels.get(0);
    }

    private static Channel serverChannel(UsherInstance u) {
        List<Channel> channels = new ArrayList<>();
        for (Pool p : u.usher().pools().poolsOf(APPDB)) {
            for (ServerConnection s : p.servers()) {
                channels.add(s.channel());
            }
        }
        assertThat(channels).hasSize(1);
        return channels.get(0);
    }

    // tcp_keepalive with tcp_keepidle/keepintvl/keepcnt, tcp_user_timeout and tcp_socket_buffer on both sides
    @Test
    void tcpOptionsAreSetOnClientAndServerSockets() throws Exception {
        assumeTrue(Transport.isEpoll(), "TCP_KEEPIDLE and friends are read back through the epoll transport");
        try (UsherInstance u = UsherInstance.builder(pg).set("tcp_keepalive", 1).set("tcp_keepidle", 77)
                .set("tcp_keepintvl", 11).set("tcp_keepcnt", 4).set("tcp_user_timeout", 12345)
                .set("tcp_socket_buffer", 65536).start();
             Connection c = u.connect(MD5, APPDB)) {
            assertThat(one(c, "SELECT 1")).isEqualTo("1");
            for (Channel ch : List.of(clientChannel(u), serverChannel(u))) {
                String side = ch == clientChannel(u) ? "client socket" : "server socket";
                assertThat(ch.config().getOption(ChannelOption.SO_KEEPALIVE)).as(side).isTrue();
                assertThat(ch.config().getOption(EpollChannelOption.TCP_KEEPIDLE)).as(side).isEqualTo(77);
                assertThat(ch.config().getOption(EpollChannelOption.TCP_KEEPINTVL)).as(side).isEqualTo(11);
                assertThat(ch.config().getOption(EpollChannelOption.TCP_KEEPCNT)).as(side).isEqualTo(4);
                assertThat(ch.config().getOption(EpollChannelOption.TCP_USER_TIMEOUT)).as(side).isEqualTo(12345);
                assertThat(ch.config().getOption(ChannelOption.TCP_NODELAY)).as(side).isTrue();
                // Linux reports twice the size asked for (the kernel's bookkeeping share)
                assertThat(ch.config().getOption(ChannelOption.SO_SNDBUF)).as(side).isBetween(65536, 2 * 65536);
                assertThat(ch.config().getOption(ChannelOption.SO_RCVBUF)).as(side).isBetween(65536, 2 * 65536);
            }
        }
    }

    // tcp_keepalive = 0 turns keepalive off, and the keepalive timings are then not applied
    @Test
    void keepaliveOffLeavesTheTimingsAlone() throws Exception {
        assumeTrue(Transport.isEpoll());
        try (UsherInstance u = UsherInstance.builder(pg).set("tcp_keepalive", 0).set("tcp_keepidle", 77).start();
             Connection c = u.connect(MD5, APPDB)) {
            assertThat(one(c, "SELECT 1")).isEqualTo("1");
            for (Channel ch : List.of(clientChannel(u), serverChannel(u))) {
                assertThat(ch.config().getOption(ChannelOption.SO_KEEPALIVE)).isFalse();
                assertThat(ch.config().getOption(EpollChannelOption.TCP_KEEPIDLE)).isNotEqualTo(77);
            }
        }
    }

    // the settings are reloadable: SET applies to sockets opened afterwards
    @Test
    void changedSettingsApplyToNewSockets() throws Exception {
        assumeTrue(Transport.isEpoll());
        try (UsherInstance u = UsherInstance.builder(pg).set("tcp_keepidle", 30).start()) {
            assertThat(u.usher().set("tcp_keepidle", "45")).isNull();
            try (Connection c = u.connect(MD5, APPDB)) {
                assertThat(one(c, "SELECT 1")).isEqualTo("1");
                assertThat(clientChannel(u).config().getOption(EpollChannelOption.TCP_KEEPIDLE)).isEqualTo(45);
                assertThat(serverChannel(u).config().getOption(EpollChannelOption.TCP_KEEPIDLE)).isEqualTo(45);
            }
        }
    }

    // unix_socket_mode and unix_socket_group on the listening socket file
    @Test
    void unixSocketFileGetsModeAndGroup() throws Exception {
        assumeTrue(Transport.supportsUnixSockets());
        String group = otherGroup();
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "usher-sock-");
        try (UsherInstance u = UsherInstance.builder(pg).set("unix_socket_dir", dir).set("unix_socket_mode", "0660")
                .set("unix_socket_group", group).start()) {
            Path socket = dir.resolve(".s.PGSQL." + u.port());
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-rw----");
            GroupPrincipal owner = (GroupPrincipal) Files.getAttribute(socket, "posix:group");
            assertThat(owner.getName()).isEqualTo(group);
        } finally {
            deleteDir(dir);
        }
    }

    // a group that does not exist stops Usher from starting, with the setting's name in the message
    @Test
    void unknownUnixSocketGroupIsAnError() throws Exception {
        assumeTrue(Transport.supportsUnixSockets());
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "usher-sock-");
        try {
            assertThatThrownBy(() -> UsherInstance.builder(pg).set("unix_socket_dir", dir)
                    .set("unix_socket_group", "no_such_group_usher").start().close())
                    .hasMessageContaining("unix_socket_group").hasMessageContaining("no_such_group_usher");
        } finally {
            deleteDir(dir);
        }
    }

    /**
     * A group the test may give a file to, other than the default one where possible: as root any group
     * ("daemon", "nogroup"), else one of the user's supplementary groups, else the user's own.
     */
    private static String otherGroup() throws IOException {
        Path probe = Files.createTempFile("usher-group-", "");
        try {
            String own = ((GroupPrincipal) Files.getAttribute(probe, "posix:group")).getName();
            List<String> candidates = new ArrayList<>();
            if ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0) {
                candidates.addAll(List.of("daemon", "nogroup", "users"));
            }
            for (String g : new String(new ProcessBuilder("id", "-Gn").start().getInputStream().readAllBytes()).trim()
                    .split("\\s+")) {
                candidates.add(g);
            }
            for (String g : candidates) {
                if (g.isEmpty() || g.equals(own)) {
                    continue;
                }
                try {
                    Files.setAttribute(probe, "posix:group",
                            probe.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(g));
                    return g;
                } catch (IOException notPossible) {
                    // try the next one
                }
            }
            return own;
        } finally {
            Files.deleteIfExists(probe);
        }
    }

    private static void deleteDir(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(f);
            }
        }
        Files.deleteIfExists(dir);
    }
}

package io.usher.prepared;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.usher.stats.StatsRegistry;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The tracker asks ClientConnection to cut a server read (to put in an answer of Usher's own) only when
 * such an answer is really due. Saying "due" after every answered message cut each extended-protocol
 * response into one write per message.
 */
class StatementTrackerSegmentsTest {
    private final StatementRegistry registry = new StatementRegistry();
    private final StatementTracker tracker = new StatementTracker(registry, UnpooledByteBufAllocator.DEFAULT,
            new StatsRegistry().forDatabase("t"), 1 << 20, 200);
    private final ServerStatements server = new ServerStatements(registry);
    private final EmbeddedChannel serverChannel = new EmbeddedChannel();
    private final EmbeddedChannel client = new EmbeddedChannel();

    @Test
    void anExtendedProtocolAnswerIsNeverCut() throws Exception {
        send(msg('P', "\0SELECT 1\0\0\0"), msg('B', "\0\0\0\0\0\0\0\0"), msg('D', "P\0"), msg('E', "\0\0\0\0\0"), msg('S', ""));
        for (char type : "12TDCZ".toCharArray()) {
            int length = type == 'C' ? "SELECT 1\0".length() : type == 'Z' ? 1 : 0;
            assertThat(tracker.fakesDue()).as("before %s", type).isFalse();
            tracker.onServerHeader((byte) type, length);
        }
        assertThat(tracker.fakesDue()).isFalse();
        assertThat(tracker.isIdle()).isTrue();
        tracker.close();
    }

    @Test
    void aParseCompleteOfUshersOwnIsDueOnlyWhenItsTurnComes() throws Exception {
        // S1 is prepared on this server; a second client name for the same text is answered by Usher
        send(msg('P', "S1\0SELECT 2\0\0\0"), msg('S', ""));
        tracker.onServerHeader((byte) '1', 0);
        tracker.onServerHeader((byte) 'Z', 1);
        assertThat(tracker.fakesDue()).isFalse();
        send(msg('B', "\0S1\0\0\0\0\0\0\0"), msg('E', "\0\0\0\0\0"), msg('P', "S2\0SELECT 2\0\0\0"), msg('S', ""));
        tracker.onServerHeader((byte) '2', 0);
        assertThat(tracker.fakesDue()).isFalse();
        tracker.onServerHeader((byte) 'D', 10);
        tracker.onServerHeader((byte) 'C', "SELECT 1\0".length());
        assertThat(tracker.fakesDue()).as("S2's ParseComplete is next").isTrue();
        tracker.emitDueFakes(client);
        assertThat(tracker.fakesDue()).isFalse();
        tracker.onServerHeader((byte) 'Z', 1);
        assertThat(tracker.fakesDue()).isFalse();
        client.flush();
        ByteBuf fake = client.readOutbound();
        assertThat(fake.toString(StandardCharsets.ISO_8859_1)).isEqualTo("1\0\0\0\4");
        fake.release();
        tracker.close();
    }

    private static ByteBuf msg(char type, String payload) {
        byte[] p = payload.getBytes(StandardCharsets.ISO_8859_1);
        return Unpooled.buffer().writeByte(type).writeInt(4 + p.length).writeBytes(p);
    }

    private void send(ByteBuf... messages) throws Exception {
        tracker.toServer(Unpooled.wrappedBuffer(messages), server, serverChannel);
        serverChannel.flush();
        for (Object o; (o = serverChannel.readOutbound()) != null; ) {
            ((ByteBuf) o).release();
        }
    }
}

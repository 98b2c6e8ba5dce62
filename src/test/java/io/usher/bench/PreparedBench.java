package io.usher.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.usher.prepared.ServerStatements;
import io.usher.prepared.StatementRegistry;
import io.usher.prepared.StatementTracker;
import io.usher.protocol.ProtocolException;
import io.usher.stats.StatsRegistry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Transaction pooling's prepared-statement path (pgbench -M prepared): the client prepared S1 once;
 * each transaction is Bind(S1)/Execute/Sync, which {@link StatementTracker} rewrites to the server's
 * name for the statement, and PostgreSQL's BindComplete/DataRow/CommandComplete/ReadyForQuery, which it
 * follows. The servers and the client are EmbeddedChannels, so the figure includes Netty's
 * write/flush of the rewritten request but no system call.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PreparedBench {
    static final String QUERY = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";

    StatementTracker tracker;
    ServerStatements server;
    EmbeddedChannel serverChannel;
    EmbeddedChannel clientChannel;
    ByteBuf bindExecuteSync;
    ByteBuf answer;

    @Setup(Level.Trial)
    public void setUp() throws ProtocolException {
        StatementRegistry registry = new StatementRegistry();
        tracker = new StatementTracker(registry, PooledByteBufAllocator.DEFAULT, new StatsRegistry().forDatabase("bench"),
                1 << 20, 200);
        server = new ServerStatements(registry);
        serverChannel = new EmbeddedChannel();
        clientChannel = new EmbeddedChannel();
        ByteBuf parse = new Wire().msg('P', "S1", QUERY, (short) 1, 23).msg('S').direct();
        tracker.toServer(parse, server, serverChannel);
        drainServer();
        deliver(new Wire().msg('1').msg('Z', (byte) 'I').direct());
        drainClient();
        bindExecuteSync = new Wire()
                .msg('B', "", "S1", (short) 1, (short) 0, (short) 1, 5, "12345".getBytes(StandardCharsets.UTF_8),
                        (short) 1, (short) 0)
                .msg('E', "", 0)
                .msg('S')
                .direct();
        answer = new Wire()
                .msg('2')
                .msg('D', (short) 1, 4, "1234".getBytes(StandardCharsets.UTF_8))
                .msg('C', "SELECT 1")
                .msg('Z', (byte) 'I')
                .direct();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        tracker.close();
        bindExecuteSync.release();
        answer.release();
        serverChannel.finishAndReleaseAll();
        clientChannel.finishAndReleaseAll();
    }

    /** One transaction: request rewritten and sent, answer followed. Returns bytes sent to the server. */
    @Benchmark
    public int preparedTransaction() throws ProtocolException {
        tracker.toServer(bindExecuteSync.retainedDuplicate(), server, serverChannel);
        int sent = drainServer();
        deliver(answer);
        drainClient();
        return sent;
    }

    /** Feeds the server's messages to the tracker as ClientConnection does, header by header. */
    private void deliver(ByteBuf messages) throws ProtocolException {
        int i = messages.readerIndex();
        while (i < messages.writerIndex()) {
            byte type = messages.getByte(i);
            int length = messages.getInt(i + 1);
            if (tracker.fakesDue()) {
                tracker.emitDueFakes(clientChannel);
            }
            int action = tracker.onServerHeader(type, length - 4);
            if (action == StatementTracker.FORWARD_WANT_PAYLOAD) {
                tracker.onCommandComplete(messages.slice(i + 5, length - 4));
            }
            i += 1 + length;
        }
        tracker.emitDueFakes(clientChannel);
        if (messages != answer) {
            messages.release();
        }
    }

    private int drainServer() {
        serverChannel.flush();
        int bytes = 0;
        for (Object o; (o = serverChannel.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) o;
            bytes += b.readableBytes();
            b.release();
        }
        return bytes;
    }

    private void drainClient() {
        clientChannel.flush();
        for (Object o; (o = clientChannel.readOutbound()) != null; ) {
            ((ByteBuf) o).release();
        }
    }
}

package io.usher.bench;

import io.netty.buffer.ByteBuf;
import io.usher.protocol.MessageScanner;
import io.usher.protocol.MessageType;
import io.usher.protocol.ProtocolException;
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

import java.util.concurrent.TimeUnit;

/**
 * Framing on the hot path: {@link MessageScanner} over one read of each direction, with listeners that
 * want what Usher's want (the client side: nothing but Terminate; the server side: ReadyForQuery,
 * ParameterStatus, and CommandComplete's tag). A read cut inside a header is scanned too, as a socket
 * may deliver it. Each benchmark returns what the listener saw, so nothing is optimised away, and
 * {@code BenchmarksWorkTest} checks those values.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FramingBench {
    ByteBuf request;
    ByteBuf response;
    ByteBuf large;
    ByteBuf firstPart;
    ByteBuf secondPart;
    final MessageScanner clientScanner = new MessageScanner(Integer.MAX_VALUE);
    final MessageScanner serverScanner = new MessageScanner(Integer.MAX_VALUE);
    final ClientListener clientListener = new ClientListener();
    final ServerListener serverListener = new ServerListener();

    @Setup(Level.Trial)
    public void setUp() {
        request = Wire.extendedRequest().direct();
        response = Wire.extendedResponse().direct();
        large = Wire.largeResponse(100, 100).direct();
        int cut = response.readableBytes() - 3; // inside ReadyForQuery's header
        firstPart = response.retainedSlice(0, cut);
        secondPart = response.retainedSlice(cut, response.readableBytes() - cut);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        firstPart.release();
        secondPart.release();
        request.release();
        response.release();
        large.release();
    }

    /** pgbench -M extended's request (Parse/Bind/Describe/Execute/Sync): messages counted. */
    @Benchmark
    public int clientExtended() throws ProtocolException {
        clientListener.messages = 0;
        clientScanner.scan(request, clientListener);
        return clientListener.messages;
    }

    /** PostgreSQL's answer to it in one read: the ReadyForQuery status seen. */
    @Benchmark
    public int serverExtended() throws ProtocolException {
        serverListener.reset();
        serverScanner.scan(response, serverListener);
        return serverListener.result();
    }

    /** The same answer cut inside ReadyForQuery's header, over two reads. */
    @Benchmark
    public int serverExtendedSplit() throws ProtocolException {
        serverListener.reset();
        serverScanner.scan(firstPart, serverListener);
        serverScanner.scan(secondPart, serverListener);
        return serverListener.result();
    }

    /** 100 rows of 100 bytes (11 kB) in one read: the per-message cost where nothing is wanted. */
    @Benchmark
    public int serverLargeResult() throws ProtocolException {
        serverListener.reset();
        serverScanner.scan(large, serverListener);
        return serverListener.result();
    }

    /** As ClientConnection's client side: counts messages, wants only Terminate. */
    static final class ClientListener implements MessageScanner.Listener {
        int messages;

        @Override
        public boolean onHeader(byte type, int payloadLength, int start) {
            messages++;
            return type == MessageType.TERMINATE;
        }

        @Override
        public boolean onMessage(byte type, ByteBuf payload, int start, int end) {
            return false;
        }
    }

    /** As ClientConnection's server side: wants ReadyForQuery, ParameterStatus and CommandComplete. */
    static final class ServerListener implements MessageScanner.Listener {
        int messages;
        int readyStatus;
        int tagLength;

        void reset() {
            messages = 0;
            readyStatus = 0;
            tagLength = 0;
        }

        /** Messages, tag length and ReadyForQuery status in one number. */
        int result() {
            return messages << 16 | tagLength << 8 | readyStatus;
        }

        @Override
        public boolean onHeader(byte type, int payloadLength, int start) {
            messages++;
            return type == MessageType.READY_FOR_QUERY || type == MessageType.PARAMETER_STATUS
                    || type == MessageType.COMMAND_COMPLETE;
        }

        @Override
        public boolean onMessage(byte type, ByteBuf payload, int start, int end) {
            if (type == MessageType.READY_FOR_QUERY) {
                readyStatus = payload.getByte(payload.readerIndex());
            } else if (type == MessageType.COMMAND_COMPLETE) {
                tagLength = payload.readableBytes();
            }
            return true;
        }
    }
}

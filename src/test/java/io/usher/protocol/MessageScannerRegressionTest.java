package io.usher.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

/** Findings of MessageScannerFuzzTest (docs/fuzzing.md), kept as named tests. */
class MessageScannerRegressionTest {

    /**
     * A header announcing a 2 GB message of a type the listener wants (a client's Parse, a server's
     * ReadyForQuery) made the scanner allocate the whole payload up front: OutOfMemoryError on the
     * event loop, with max_packet_size at its default (2147483647), from a few bytes of input.
     */
    @Test
    void aHugeLengthFieldDoesNotReserveTheWholePayload() throws ProtocolException {
        MessageScanner scanner = new MessageScanner(Integer.MAX_VALUE);
        ByteBuf read = Unpooled.buffer().writeByte('P').writeInt(Integer.MAX_VALUE).writeBytes(new byte[100]);
        int[] headers = {0};
        try {
            assertThat(scanner.scan(read, new MessageScanner.Listener() {
                @Override
                public boolean onHeader(byte type, int payloadLength, int start) {
                    headers[0]++;
                    return true;
                }

                @Override
                public boolean onMessage(byte type, ByteBuf payload, int start, int end) {
                    throw new AssertionError("the message is not complete");
                }
            })).isEqualTo(read.writerIndex());
            assertThat(headers[0]).isOne();
            assertThat(scanner.atBoundary()).isFalse();
        } finally {
            scanner.release();
            read.release();
        }
    }
}

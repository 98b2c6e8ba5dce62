package io.usher.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.usher.testing.FuzzBytes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * MessageScanner against a reference framer, with the stream cut into reads of any size: the same
 * headers in order with the right start index (or -1), the wanted payloads whole and byte-exact with
 * the right end index, {@code partialHeaderBytes()} and {@code atBoundary()} right after every read, the
 * buffer's indexes untouched, ProtocolException exactly at the first bad length and nothing else, and
 * every payload copy released once handed over.
 *
 * <p>Client side: the listener wants Parse, Bind, Describe and Close (as the statement tracker does).
 * Server side: it wants ReadyForQuery, ParameterStatus and CommandComplete (as the client connection
 * does) and may stop the scan at a ReadyForQuery (statement pooling cuts the stream there).
 *
 * <p>Input: one flags byte (bits 0-1: the length limit, 5, 64, 8192 or 2^31-1; bits 2-4: junk bytes before
 * each read's reader index; bit 5: stop at ReadyForQuery 'T'), chunk sizes ({@link FuzzBytes#chunkSizes()}),
 * then the stream.
 */
class MessageScannerFuzzTest {

    private static final int[] LIMITS = {5, 64, 8192, Integer.MAX_VALUE};

    @FuzzTest(maxDuration = "2m")
    void clientFraming(byte[] input) {
        run(input, "PBDC", false);
    }

    @FuzzTest(maxDuration = "2m")
    void serverFraming(byte[] input) {
        run(input, "ZSC", true);
    }

    /** One message of the reference framing. */
    private record Frame(int offset, byte type, int payloadLength) {
        long end() {
            return offset + 5L + payloadLength;
        }
    }

    private static void run(byte[] input, String wantedTypes, boolean mayStop) {
        FuzzBytes in = new FuzzBytes(input);
        int flags = in.u8();
        int maxLength = LIMITS[flags & 3];
        int junk = (flags >> 2) & 7;
        boolean stopAtT = mayStop && (flags & 0x20) != 0;
        int[] sizes = in.chunkSizes();
        byte[] stream = in.rest();

        // reference framing: whole messages, then where a bad length makes the scanner throw
        List<Frame> frames = new ArrayList<>();
        int errorAt = -1; // offset of the header whose length is bad
        int p = 0;
        while (p + 5 <= stream.length) {
            int len = readInt(stream, p + 1);
            if (len < 4 || (long) len > maxLength) {
                errorAt = p;
                break;
            }
            frames.add(new Frame(p, stream[p], len - 4));
            if (p + 1L + len > stream.length) {
                break; // last message incomplete
            }
            p += 1 + len;
        }

        MessageScanner scanner = new MessageScanner(maxLength);
        List<ByteBuf> copies = new ArrayList<>();
        int[] nextHeader = {0};
        int[] nextMessage = {0};
        boolean[] stopped = {false};
        int chunkStart = 0;
        try {
            for (byte[] bytes : FuzzBytes.split(stream, sizes)) {
                final int base = chunkStart;
                ByteBuf chunk = Unpooled.buffer(junk + bytes.length);
                chunk.writeZero(junk).writeBytes(bytes).readerIndex(junk);
                final int shift = junk - base; // buffer index = stream offset + shift
                try {
                    MessageScanner.Listener listener = new MessageScanner.Listener() {
                        @Override
                        public boolean onHeader(byte type, int payloadLength, int start) {
                            assertThat(nextHeader[0]).as("a header past the reference framing").isLessThan(frames.size());
                            Frame f = frames.get(nextHeader[0]++);
                            assertThat(type).isEqualTo(f.type);
                            assertThat(payloadLength).isEqualTo(f.payloadLength);
                            assertThat(start).isEqualTo(f.offset >= base ? f.offset + shift : -1);
                            return wantedTypes.indexOf(type) >= 0;
                        }

                        @Override
                        public boolean onMessage(byte type, ByteBuf payload, int start, int end) {
                            Frame f = frames.get(nextHeader[0] - 1);
                            assertThat(nextMessage[0]).isLessThan(nextHeader[0]);
                            nextMessage[0] = nextHeader[0];
                            assertThat(type).isEqualTo(f.type);
                            assertThat(ByteBufUtil.getBytes(payload))
                                    .isEqualTo(Arrays.copyOfRange(stream, f.offset + 5, (int) f.end()));
                            assertThat(start).isEqualTo(f.offset >= base ? f.offset + shift : -1);
                            assertThat((long) end).isEqualTo(f.end() + shift);
                            if (payload.unwrap() != chunk && payload != chunk) {
                                copies.add(payload); // a copy of a payload that straddled reads
                            }
                            if (stopAtT && type == 'Z' && f.payloadLength == 1 && stream[f.offset + 5] == 'T') {
                                stopped[0] = true;
                                return false;
                            }
                            return true;
                        }
                    };
                    int stoppedAt;
                    try {
                        stoppedAt = scanner.scan(chunk, listener);
                    } catch (ProtocolException e) {
                        assertThat(errorAt).as("scan threw %s", e.getMessage()).isGreaterThanOrEqualTo(0);
                        assertThat(errorAt + 5).isGreaterThan(base).isLessThanOrEqualTo(base + bytes.length);
                        assertThat(e.getMessage()).startsWith("invalid message length");
                        return;
                    }
                    assertThat(chunk.readerIndex()).isEqualTo(junk);
                    assertThat(chunk.writerIndex()).isEqualTo(junk + bytes.length);
                    if (stopped[0]) {
                        assertThat((long) stoppedAt).isEqualTo(frames.get(nextHeader[0] - 1).end() + shift);
                        return; // the connection is closed
                    }
                    assertThat(stoppedAt).isEqualTo(chunk.writerIndex());
                    int end = base + bytes.length;
                    if (errorAt >= 0) {
                        assertThat(errorAt + 5).as("the bad length was not noticed").isGreaterThan(end);
                    }
                    // where the stream stands after this read
                    int partial = 0;
                    boolean boundary = true;
                    for (Frame f : frames) {
                        if (f.offset < end && f.end() > end) {
                            boundary = false;
                            partial = end - f.offset < 5 ? end - f.offset : 0;
                        }
                    }
                    long lastEnd = frames.isEmpty() ? 0 : frames.get(frames.size() - 1).end();
                    if (end > lastEnd) {
                        // inside a header the reference could not frame yet (or a bad one not complete)
                        boundary = false;
                        partial = (int) (end - lastEnd);
                    }
                    assertThat(scanner.partialHeaderBytes()).isEqualTo(partial);
                    assertThat(scanner.atBoundary()).isEqualTo(boundary);
                } finally {
                    chunk.release();
                    chunkStart += bytes.length;
                }
            }
            if (errorAt >= 0) {
                fail("the bad length at %d was not noticed", errorAt);
            }
        } finally {
            scanner.release();
            for (ByteBuf b : copies) {
                assertThat(b.refCnt()).as("payload copy released").isZero();
            }
        }
    }

    private static int readInt(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }
}

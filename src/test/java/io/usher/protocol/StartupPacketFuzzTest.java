package io.usher.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.usher.testing.FuzzBytes;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

/**
 * The first packets of a client connection, as the bytes arrive in reads of any size: decoding either
 * waits for more (consuming nothing), returns a packet and consumes exactly its length, or throws
 * ProtocolException (the connection is closed); nothing else. A reference decoder over the whole
 * stream says which of these must happen.
 *
 * <p>Input: chunk sizes ({@link FuzzBytes#chunkSizes()}), then the client's bytes.
 */
class StartupPacketFuzzTest {

    @FuzzTest(maxDuration = "2m")
    void startupPacket(byte[] input) {
        FuzzBytes in = new FuzzBytes(input);
        int[] sizes = in.chunkSizes();
        byte[] stream = in.rest();
        ByteBuf inbound = Unpooled.buffer();
        int streamPos = 0; // position in stream of inbound's reader index
        try {
            for (byte[] chunk : FuzzBytes.split(stream, sizes)) {
                inbound.writeBytes(chunk);
                while (true) {
                    int before = inbound.readerIndex();
                    Expected expected = Expected.at(stream, streamPos, inbound.readableBytes());
                    StartupPacket p;
                    try {
                        p = StartupPacket.decode(inbound);
                    } catch (ProtocolException e) {
                        assertThat(expected.error).as("decode threw %s", e.getMessage()).isTrue();
                        return; // the connection is closed
                    }
                    assertThat(expected.error).as("decode accepted a bad packet").isFalse();
                    if (p == null) {
                        assertThat(expected.length).as("decode waited for a complete packet").isZero();
                        assertThat(inbound.readerIndex()).isEqualTo(before);
                        break;
                    }
                    assertThat(inbound.readerIndex() - before).isEqualTo(expected.length);
                    assertThat(p.kind()).isEqualTo(expected.kind);
                    if (p.kind() == StartupPacket.Kind.CANCEL) {
                        assertThat(p.cancelPid()).isEqualTo(readInt(stream, streamPos + 8));
                        assertThat(p.cancelKey()).isEqualTo(readInt(stream, streamPos + 12));
                    } else if (p.kind() == StartupPacket.Kind.STARTUP) {
                        assertThat(p.parameters().size()).isLessThanOrEqualTo(expected.pairs);
                        if (expected.distinctNames) {
                            assertThat(p.parameters()).hasSize(expected.pairs);
                        }
                        p.parameters().forEach((k, v) -> {
                            assertThat(k).doesNotContain("\0");
                            assertThat(v).doesNotContain("\0");
                        });
                        assertThat(p.toString()).startsWith("STARTUP");
                        return; // authentication follows: other code reads the rest
                    }
                    streamPos += expected.length;
                }
            }
        } finally {
            inbound.release();
        }
    }

    private static int readInt(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }

    /** What decoding {@code readable} bytes at {@code at} must do, by PostgreSQL's rules. */
    private record Expected(boolean error, int length, StartupPacket.Kind kind, int pairs, boolean distinctNames) {
        static final Expected WAIT = new Expected(false, 0, null, 0, false);
        static final Expected ERROR = new Expected(true, 0, null, 0, false);

        static Expected at(byte[] s, int at, int readable) {
            if (readable < 4) {
                return WAIT;
            }
            int length = readInt(s, at);
            if (length < 8 || length > StartupPacket.MAX_LENGTH) {
                return ERROR;
            }
            if (readable < 8 || readable < length) {
                return WAIT;
            }
            int code = readInt(s, at + 4);
            switch (code) {
                case Messages.SSL_REQUEST_CODE:
                    return length == 8 ? new Expected(false, 8, StartupPacket.Kind.SSL_REQUEST, 0, true) : ERROR;
                case Messages.GSSENC_REQUEST_CODE:
                    return length == 8 ? new Expected(false, 8, StartupPacket.Kind.GSSENC_REQUEST, 0, true) : ERROR;
                case Messages.CANCEL_REQUEST_CODE:
                    return length == 16 ? new Expected(false, 16, StartupPacket.Kind.CANCEL, 0, true) : ERROR;
                default:
                    if (code >> 16 != 3) {
                        return ERROR;
                    }
            }
            // name NUL value NUL ... NUL, ending exactly at the packet's end
            int end = at + length;
            int i = at + 8;
            int pairs = 0;
            Set<String> names = new HashSet<>();
            boolean distinct = true;
            while (true) {
                if (i >= end) {
                    return ERROR;
                }
                if (s[i] == 0) {
                    i++;
                    break;
                }
                for (int k = 0; k < 2; k++) {
                    int nul = i;
                    while (nul < end && s[nul] != 0) {
                        nul++;
                    }
                    if (nul >= end) {
                        return ERROR;
                    }
                    if (k == 0) {
                        String name = new String(s, i, nul - i, StandardCharsets.ISO_8859_1);
                        distinct &= name.chars().allMatch(c -> c < 0x80) && names.add(name);
                    }
                    i = nul + 1;
                }
                pairs++;
            }
            if (i != end) {
                return ERROR;
            }
            return new Expected(false, length, StartupPacket.Kind.STARTUP, pairs, distinct);
        }
    }
}

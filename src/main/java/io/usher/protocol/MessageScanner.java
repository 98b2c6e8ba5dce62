package io.usher.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Finds message boundaries in a stream of protocol-3.0 messages without copying or consuming it,
 * so the bytes can be forwarded as they arrived. Only the messages a {@link Listener} asks for are
 * handed over whole; their payload is a slice of the input when it lies within one read, and a small
 * copy only when it straddles reads. Headers that straddle reads are assembled here.
 * <p>Not thread-safe: one scanner per direction of one connection, used on one thread at a time.
 */
public final class MessageScanner {

    /** Receives message events in stream order. Indexes refer to the buffer passed to {@link #scan}. */
    public interface Listener {
        /**
         * A message header was read. {@code start} is the index of its type byte in the current buffer,
         * or -1 if the header began in an earlier buffer. Return true to receive the payload whole via
         * {@link #onMessage}. Throwing stops the scan.
         */
        boolean onHeader(byte type, int payloadLength, int start) throws ProtocolException;

        /**
         * A message the listener asked for is complete. {@code payload} is only valid during the call
         * (the listener retains it if it must). {@code end} is the index just past the message in the
         * current buffer. Return false to stop scanning (the rest of the buffer is left unscanned).
         */
        boolean onMessage(byte type, ByteBuf payload, int start, int end) throws ProtocolException;
    }

    /** Initial capacity of a payload copy; it grows up to the message's length as bytes arrive. */
    private static final int CAPTURE_INITIAL = 8192;

    private final int maxLength;
    private final byte[] header = new byte[5];
    private int headerFill;          // bytes of the current header seen so far; 5 = inside the payload
    private byte type;
    private int payloadRemaining;
    private int payloadLength;
    private boolean wanted;
    private int messageStart;        // index of the type byte in the current buffer, or -1
    private ByteBuf capture;         // payload of a wanted message that straddles reads

    /** @param maxLength the largest length field accepted (PgBouncer's max_packet_size) */
    public MessageScanner(int maxLength) {
        this.maxLength = maxLength;
    }

    /** Bytes of a message header seen so far when the last read ended inside one (1-4), else 0. */
    public int partialHeaderBytes() {
        return headerFill < 5 ? headerFill : 0;
    }

    /** True when the stream is between two messages. */
    public boolean atBoundary() {
        return headerFill == 0;
    }

    /**
     * Scans the readable bytes of {@code buf}; does not move its indexes.
     * @return the index where scanning stopped (the writer index unless the listener stopped it)
     */
    public int scan(ByteBuf buf, Listener listener) throws ProtocolException {
        int i = buf.readerIndex();
        final int end = buf.writerIndex();
        while (i < end) {
            if (headerFill < 5) {
                if (headerFill == 0 && end - i >= 5) {
                    messageStart = i;
                    type = buf.getByte(i);
                    payloadLength = buf.getInt(i + 1) - 4;
                    i += 5;
                } else {
                    if (headerFill == 0) {
                        messageStart = i;
                    } else {
                        messageStart = -1;
                    }
                    int n = Math.min(5 - headerFill, end - i);
                    buf.getBytes(i, header, headerFill, n);
                    headerFill += n;
                    i += n;
                    if (headerFill < 5) {
                        return i;
                    }
                    type = header[0];
                    payloadLength = ((header[1] & 0xff) << 24 | (header[2] & 0xff) << 16
                            | (header[3] & 0xff) << 8 | (header[4] & 0xff)) - 4;
                }
                headerFill = 5;
                if (payloadLength < 0 || payloadLength > maxLength - 4) {
                    throw new ProtocolException("invalid message length " + (payloadLength + 4)
                            + " for message type " + MessageType.printable(type));
                }
                payloadRemaining = payloadLength;
                wanted = listener.onHeader(type, payloadLength, messageStart);
                if (wanted && end - i >= payloadLength) {
                    // the common case: the whole payload is in this read
                    headerFill = 0;
                    int start = messageStart;
                    i += payloadLength;
                    if (!listener.onMessage(type, buf.slice(i - payloadLength, payloadLength), start, i)) {
                        return i;
                    }
                    continue;
                }
                if (wanted) {
                    // grows as the payload arrives: a length field alone must not reserve max_packet_size
                    capture = ByteBufAllocator.DEFAULT.heapBuffer(Math.min(payloadLength, CAPTURE_INITIAL), payloadLength);
                }
            }
            int n = Math.min(payloadRemaining, end - i);
            if (wanted && n > 0) {
                capture.writeBytes(buf, i, n);
            }
            i += n;
            payloadRemaining -= n;
            if (payloadRemaining == 0) {
                headerFill = 0;
                if (wanted) {
                    ByteBuf payload = capture;
                    capture = null;
                    try {
                        if (!listener.onMessage(type, payload, messageStart, i)) {
                            return i;
                        }
                    } finally {
                        payload.release();
                    }
                }
            }
        }
        if (headerFill == 5) {
            messageStart = -1; // the message continues in the next read: its start is not in that buffer
        }
        return i;
    }

    /** Frees a partially captured payload; call when the connection closes. */
    public void release() {
        if (capture != null) {
            capture.release();
            capture = null;
        }
    }
}

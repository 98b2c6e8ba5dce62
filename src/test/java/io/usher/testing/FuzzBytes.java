package io.usher.testing;

import java.util.Arrays;

/**
 * A fuzz input read as a small program: numbers from the front, 0 once the input is used up, so that
 * every byte string means something and a corpus file keeps its meaning (see docs/fuzzing.md for each
 * target's layout). Not thread-safe.
 */
public final class FuzzBytes {
    private final byte[] data;
    private int pos;

    public FuzzBytes(byte[] data) {
        this.data = data == null ? new byte[0] : data;
    }

    public boolean more() {
        return pos < data.length;
    }

    public int remaining() {
        return data.length - pos;
    }

    /** The next byte, 0..255; 0 when the input is used up. */
    public int u8() {
        return pos < data.length ? data[pos++] & 0xff : 0;
    }

    /** The next two bytes, big-endian. */
    public int u16() {
        return u8() << 8 | u8();
    }

    /** A number in [0, n): one byte (n &lt;= 256). */
    public int below(int n) {
        return u8() % n;
    }

    public boolean bool() {
        return (u8() & 1) != 0;
    }

    /** Up to {@code n} bytes (fewer at the end of the input). */
    public byte[] take(int n) {
        int k = Math.max(0, Math.min(n, remaining()));
        byte[] b = Arrays.copyOfRange(data, pos, pos + k);
        pos += k;
        return b;
    }

    /** Everything not read yet. */
    public byte[] rest() {
        return take(remaining());
    }

    /**
     * Chunk sizes for splitting a stream as reads would: one count byte, then that many size bytes
     * (each size is the byte + 1); a count of 0 means the whole stream in one read.
     */
    public int[] chunkSizes() {
        int n = u8() % 17;
        int[] sizes = new int[n];
        for (int i = 0; i < n; i++) {
            sizes[i] = u8() + 1;
        }
        return sizes;
    }

    /** Splits {@code stream} with the sizes of {@link #chunkSizes()}, cycling through them. */
    public static byte[][] split(byte[] stream, int[] sizes) {
        if (sizes.length == 0) {
            return new byte[][] {stream};
        }
        java.util.List<byte[]> chunks = new java.util.ArrayList<>();
        int at = 0;
        for (int i = 0; at < stream.length; i++) {
            int n = Math.min(sizes[i % sizes.length], stream.length - at);
            chunks.add(Arrays.copyOfRange(stream, at, at + n));
            at += n;
        }
        return chunks.toArray(new byte[0][]);
    }
}

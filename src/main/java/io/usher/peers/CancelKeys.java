package io.usher.peers;

/**
 * The cancel key (BackendKeyData's process id and secret) laid out as PgBouncer 1.19+ lays it out
 * when {@code peer_id} is set, so that Usher and PgBouncer instances can be peers of each other.
 *
 * <p>PgBouncer treats the key as 8 bytes, the pid's 4 then the secret's 4, big-endian. Byte 1 is the
 * peer id's low byte and byte 2 its high byte (so, in the pid as an int, bits 16..23 hold the low
 * byte and bits 8..15 the high byte). The two lowest bits of byte 7 (the secret's lowest bits) are a
 * time-to-live: a fresh key has both set, each forward to a peer subtracts one, and a request that
 * arrives with 0 is not forwarded again, so a misconfigured ring of peers cannot loop a request.
 * Byte 0's top bit is cleared, since some clients (pg_basebackup) break on a negative pid.
 */
public final class CancelKeys {
    /** The TTL bits of the secret (PgBouncer's CANCELLATION_TTL_MASK). */
    public static final int TTL_MASK = 0x03;

    private CancelKeys() {
    }

    /** A pid from {@code random} bits carrying {@code peerId} (none when it is 0); never negative. */
    public static int pid(int random, int peerId) {
        int pid = random & 0x7fffffff;
        if (peerId > 0) {
            pid = (pid & 0xff0000ff) | ((peerId & 0xff) << 16) | (((peerId >> 8) & 0xff) << 8);
        }
        return pid;
    }

    /** A secret from {@code random} bits, with a full TTL when peering is on. */
    public static int secret(int random, int peerId) {
        return peerId > 0 ? random | TTL_MASK : random;
    }

    /** The peer id a pid carries (meaningful only for keys made with peering on). */
    public static int peerId(int pid) {
        return ((pid >>> 16) & 0xff) | (((pid >>> 8) & 0xff) << 8);
    }

    /** The forwards left: 0..3. */
    public static int ttl(int secret) {
        return secret & TTL_MASK;
    }

    /** The secret as the next peer gets it: one forward fewer (ttl must be above 0, so no borrow). */
    public static int forwarded(int secret) {
        return secret - 1;
    }

    /** The secret as this instance stored it: the TTL bits as they were when the key was made. */
    public static int asIssued(int secret) {
        return secret | TTL_MASK;
    }
}

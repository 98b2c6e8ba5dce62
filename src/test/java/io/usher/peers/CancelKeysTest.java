package io.usher.peers;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The cancel key's bytes as PgBouncer's welcome_client writes them with peer_id set. */
class CancelKeysTest {

    /** The 8 bytes of BackendKeyData's pid and secret, as they go on the wire. */
    private static byte[] wire(int pid, int secret) {
        return ByteBuffer.allocate(8).putInt(pid).putInt(secret).array();
    }

    @Test
    void peerIdSitsInBytesOneAndTwoLowByteFirst() {
        Random r = new Random(1);
        for (int peer : new int[] {1, 2, 255, 256, 0x1234, 65535}) {
            for (int i = 0; i < 200; i++) {
                int randomPid = r.nextInt();
                int randomSecret = r.nextInt();
                byte[] b = wire(CancelKeys.pid(randomPid, peer), CancelKeys.secret(randomSecret, peer));
                byte[] random = wire(randomPid, randomSecret);
                assertThat(b[1] & 0xff).isEqualTo(peer & 0xff);
                assertThat(b[2] & 0xff).isEqualTo(peer >> 8);
                assertThat(b[0]).isEqualTo((byte) (random[0] & 0x7f));
                assertThat(b[3]).isEqualTo(random[3]);
                assertThat(b[7] & CancelKeys.TTL_MASK).as("full TTL").isEqualTo(3);
                assertThat(b[7] & ~CancelKeys.TTL_MASK).isEqualTo(random[7] & ~CancelKeys.TTL_MASK);
                // what PgBouncer's accept_cancel_request reads back
                int readBack = (b[1] & 0xff) + ((b[2] & 0xff) << 8);
                assertThat(readBack).isEqualTo(peer);
                assertThat(CancelKeys.peerId(CancelKeys.pid(randomPid, peer))).isEqualTo(peer);
            }
        }
    }

    @Test
    void withoutPeeringTheKeyIsRandomButThePidPositive() {
        assertThat(CancelKeys.pid(0xdeadbeef, 0)).isEqualTo(0xdeadbeef & 0x7fffffff);
        assertThat(CancelKeys.secret(0xdeadbeec, 0)).isEqualTo(0xdeadbeec);
    }

    @Test
    void eachForwardUsesUpOneOfThreeHops() {
        int secret = CancelKeys.secret(0x12345678, 7);
        assertThat(CancelKeys.ttl(secret)).isEqualTo(3);
        int once = CancelKeys.forwarded(secret);
        int twice = CancelKeys.forwarded(once);
        int thrice = CancelKeys.forwarded(twice);
        assertThat(new int[] {CancelKeys.ttl(once), CancelKeys.ttl(twice), CancelKeys.ttl(thrice)}).containsExactly(2, 1, 0);
        // only the TTL bits change, so the owner recognises its key after any number of hops
        assertThat(CancelKeys.asIssued(thrice)).isEqualTo(secret);
        assertThat(thrice >>> 2).isEqualTo(secret >>> 2);
    }
}

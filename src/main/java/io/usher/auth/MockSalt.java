package io.usher.auth;

import com.ongres.scram.common.ScramFunctions;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The salt shown to a client whose user is unknown or has no usable SCRAM secret (PostgreSQL's
 * scram_mock_salt, PgBouncer's copy of it): SHA-256(user name || process secret), cut to the salt length.
 * The same user name always gets the same salt, as a real user would, so the salt does not tell whether
 * the user exists; the process secret keeps it unpredictable from outside.
 */
final class MockSalt {

    private static final byte[] PROCESS_SECRET = randomBytes(32);

    private MockSalt() {
    }

    static byte[] forUser(String user) {
        byte[] name = user.getBytes(StandardCharsets.UTF_8);
        byte[] input = Arrays.copyOf(name, name.length + PROCESS_SECRET.length);
        System.arraycopy(PROCESS_SECRET, 0, input, name.length, PROCESS_SECRET.length);
        return Arrays.copyOf(ScramFunctions.hash(ScramCrypto.MECHANISM, input), ScramVerifier.SALT_LENGTH);
    }

    private static byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        new SecureRandom().nextBytes(bytes);
        return bytes;
    }
}

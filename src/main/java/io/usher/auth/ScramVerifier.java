package io.usher.auth;

import com.ongres.scram.common.ScramFunctions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Objects;

/**
 * Builds and reads SCRAM-SHA-256 verifiers in PostgreSQL's pg_authid format:
 * {@code SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>}, all binary parts base64-encoded.
 */
public final class ScramVerifier {

    private static final String PREFIX = "SCRAM-SHA-256$";
    /** PostgreSQL's SCRAM_DEFAULT_SALT_LEN. */
    public static final int SALT_LENGTH = 16;

    private ScramVerifier() {
    }

    /** A verifier with a fresh random salt, as CREATE ROLE ... PASSWORD does with password_encryption=scram-sha-256. */
    public static StoredSecret.Scram generate(String password, int iterations, SecureRandom random) {
        byte[] salt = new byte[SALT_LENGTH];
        random.nextBytes(salt);
        return derive(password, salt, iterations);
    }

    /** The verifier of a (non-empty) password for a given salt and iteration count. */
    public static StoredSecret.Scram derive(String password, byte[] salt, int iterations) {
        Objects.requireNonNull(password, "password");
        ScramKeys keys = ScramCrypto.keysFromPassword(password, salt, iterations);
        byte[] storedKey = ScramFunctions.storedKey(ScramCrypto.MECHANISM, keys.clientKey());
        return new StoredSecret.Scram(iterations, salt, storedKey, keys.serverKey());
    }

    /** The verifier as PostgreSQL stores it (and as userlist.txt holds it). */
    public static String encode(StoredSecret.Scram verifier) {
        Base64.Encoder b64 = Base64.getEncoder();
        return PREFIX + verifier.iterations() + ":" + b64.encodeToString(verifier.salt())
                + "$" + b64.encodeToString(verifier.storedKey()) + ":" + b64.encodeToString(verifier.serverKey());
    }

    /** The verifier in {@code s}, or null when {@code s} is not a well-formed verifier (PgBouncer then treats it as plain text). */
    static StoredSecret.Scram decode(String s) {
        if (!s.startsWith(PREFIX)) {
            return null;
        }
        String[] parameterAndKeys = s.substring(PREFIX.length()).split("\\$", -1);
        if (parameterAndKeys.length != 2) {
            return null;
        }
        String[] iterationsAndSalt = parameterAndKeys[0].split(":", -1);
        String[] storedAndServerKey = parameterAndKeys[1].split(":", -1);
        if (iterationsAndSalt.length != 2 || storedAndServerKey.length != 2) {
            return null;
        }
        try {
            // Like PostgreSQL's strtol, take a sign; the Scram constructor refuses anything below 1.
            int iterations = Integer.parseInt(iterationsAndSalt[0]);
            Base64.Decoder b64 = Base64.getDecoder();
            return new StoredSecret.Scram(iterations, b64.decode(iterationsAndSalt[1]),
                    b64.decode(storedAndServerKey[0]), b64.decode(storedAndServerKey[1]));
        } catch (IllegalArgumentException malformed) {
            // bad number, bad base64, empty salt or wrong key length
            return null;
        }
    }
}

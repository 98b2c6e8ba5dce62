package io.usher.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Checks a cleartext password (auth_type=plain, or a cleartext password a client sent) against any stored
 * secret: Plain (equals), Md5 (encrypt and compare), Scram (derive keys with its salt/iterations and compare
 * StoredKey and ServerKey). Constant-time. Empty passwords never match, as in PostgreSQL and PgBouncer.
 */
public final class PasswordCheck {

    private PasswordCheck() {
    }

    public static boolean matches(StoredSecret secret, String user, String password) {
        if (secret == null || password == null || password.isEmpty()) {
            return false;
        }
        if (secret instanceof StoredSecret.Plain plain) {
            return !plain.password().isEmpty() && sameDigest(plain.password(), password);
        }
        if (secret instanceof StoredSecret.Md5 md5) {
            return MessageDigest.isEqual(
                    md5.hash().getBytes(StandardCharsets.US_ASCII),
                    Md5Password.encrypt(user, password).getBytes(StandardCharsets.US_ASCII));
        }
        StoredSecret.Scram scram = (StoredSecret.Scram) secret;
        StoredSecret.Scram candidate = ScramVerifier.derive(password, scram.salt(), scram.iterations());
        // PostgreSQL compares only the ServerKey; checking both also refuses a verifier whose halves disagree.
        return MessageDigest.isEqual(candidate.storedKey(), scram.storedKey())
                & MessageDigest.isEqual(candidate.serverKey(), scram.serverKey());
    }

    /** Compares digests rather than the strings so that neither the content nor the length leaks through timing. */
    private static boolean sameDigest(String a, String b) {
        try {
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            byte[] digestA = sha256.digest(a.getBytes(StandardCharsets.UTF_8));
            byte[] digestB = sha256.digest(b.getBytes(StandardCharsets.UTF_8));
            return MessageDigest.isEqual(digestA, digestB);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}

package io.usher.auth;

import com.ongres.scram.common.ScramFunctions;
import com.ongres.scram.common.ScramMechanism;
import com.ongres.scram.common.StringPreparation;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

/** SCRAM-SHA-256 key derivation shared by the server side, the client side and the plain-password check. */
final class ScramCrypto {

    static final ScramMechanism MECHANISM = ScramMechanism.SCRAM_SHA_256;
    static final int KEY_LENGTH = 32;
    /** PostgreSQL's SCRAM_RAW_NONCE_LEN: nonces are this many random bytes, base64-encoded. */
    private static final int RAW_NONCE_LENGTH = 18;

    private ScramCrypto() {
    }

    /** ClientKey and ServerKey for a password, as libpq computes them from the server's salt and iteration count. */
    static ScramKeys keysFromPassword(String password, byte[] salt, int iterations) {
        byte[] saltedPassword = saltedPassword(password, salt, iterations);
        try {
            return new ScramKeys(
                    ScramFunctions.clientKey(MECHANISM, saltedPassword),
                    ScramFunctions.serverKey(MECHANISM, saltedPassword));
        } finally {
            Arrays.fill(saltedPassword, (byte) 0);
        }
    }

    /**
     * SaltedPassword := Hi(SASLprep(password), salt, i), with PostgreSQL's SASLprep fallback.
     *
     * <p>We run PBKDF2 (which is Hi) through the JDK rather than ScramFunctions.saltedPassword because the
     * latter always re-normalizes its input, and ongres' StringPreparation.POSTGRESQL_PREPARATION does not
     * fall back to the raw password in every case PostgreSQL does: a password that SASLprep maps to nothing
     * (e.g. a lone soft hyphen) makes it throw, where PostgreSQL hashes the raw bytes.
     */
    static byte[] saltedPassword(String password, byte[] salt, int iterations) {
        if (password.isEmpty()) {
            throw new IllegalArgumentException("SCRAM cannot use an empty password");
        }
        char[] prepared = saslPrep(password);
        PBEKeySpec spec = new PBEKeySpec(prepared, salt, iterations, KEY_LENGTH * 8);
        try {
            // The JDK's PBKDF2 encodes the chars as UTF-8, which is what PostgreSQL hashes.
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 is not available", e);
        } finally {
            spec.clearPassword();
            Arrays.fill(prepared, '\0');
        }
    }

    /**
     * SASLprep as PostgreSQL's pg_saslprep applies it to passwords: when the password is not valid for
     * SASLprep (prohibited or unassigned characters, or nothing left after mapping), use it unchanged.
     */
    static char[] saslPrep(String password) {
        try {
            return StringPreparation.SASL_PREPARATION.normalize(password.toCharArray());
        } catch (RuntimeException notPreparable) {
            // ongres signals "not preparable" with IllegalArgumentException, and with
            // ArrayIndexOutOfBoundsException when mapping leaves nothing: both mean "use the raw password".
            return password.toCharArray();
        }
    }

    /** A nonce as PostgreSQL and libpq make them: 18 random bytes, base64-encoded (24 printable characters). */
    static String nonce(SecureRandom random) {
        byte[] raw = new byte[RAW_NONCE_LENGTH];
        random.nextBytes(raw);
        return Base64.getEncoder().encodeToString(raw);
    }

    /** ClientKey = ClientProof XOR ClientSignature (and the other way round). */
    static byte[] xor(byte[] a, byte[] b) {
        byte[] result = new byte[a.length];
        for (int i = 0; i < a.length; i++) {
            result[i] = (byte) (a[i] ^ b[i]);
        }
        return result;
    }

    /** Copy of a SHA-256 sized key, or IllegalArgumentException naming the parameter (never its content). */
    static byte[] checkKey(byte[] key, String name) {
        if (key == null || key.length != KEY_LENGTH) {
            throw new IllegalArgumentException(name + " must be " + KEY_LENGTH + " bytes");
        }
        return key.clone();
    }
}

package io.usher.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * PostgreSQL's md5 password scheme. Strings are hashed as UTF-8, the encoding PostgreSQL sees in practice
 * (it hashes whatever bytes the client sent).
 */
public final class Md5Password {

    private static final String PREFIX = "md5";
    private static final int SALT_LENGTH = 4;

    private Md5Password() {
    }

    /** "md5" + hex(md5(password + user)), as PostgreSQL stores it. */
    public static String encrypt(String user, String password) {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(password, "password");
        return PREFIX + md5Hex(password.getBytes(StandardCharsets.UTF_8), user.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The client's answer to AuthenticationMD5Password: "md5" + hex(md5(hexPart(md5Secret) + salt)).
     * md5Secret is the "md5..." string.
     */
    public static String response(String md5Secret, byte[] salt4) {
        if (!StoredSecret.Md5.isMd5Hash(md5Secret)) {
            throw new IllegalArgumentException("not an md5 secret");
        }
        if (salt4 == null || salt4.length != SALT_LENGTH) {
            throw new IllegalArgumentException("md5 salt must be " + SALT_LENGTH + " bytes");
        }
        return PREFIX + md5Hex(md5Secret.substring(PREFIX.length()).getBytes(StandardCharsets.US_ASCII), salt4);
    }

    /**
     * Checks a client's md5 response against a stored secret (Plain or Md5; Scram -> false, as an md5
     * response cannot be checked against a SCRAM verifier). Constant-time compare.
     */
    public static boolean verify(StoredSecret secret, String user, byte[] salt4, String clientResponse) {
        if (clientResponse == null) {
            return false;
        }
        String md5Secret;
        if (secret instanceof StoredSecret.Md5 md5) {
            md5Secret = md5.hash();
        } else if (secret instanceof StoredSecret.Plain plain && !plain.password().isEmpty()) {
            md5Secret = encrypt(user, plain.password());
        } else {
            return false; // Scram, unknown user, or an empty password, which PgBouncer never accepts
        }
        return MessageDigest.isEqual(
                response(md5Secret, salt4).getBytes(StandardCharsets.UTF_8),
                clientResponse.getBytes(StandardCharsets.UTF_8));
    }

    /** One digest per thread: looking MD5 up among the providers for every login showed in profiles. */
    private static final ThreadLocal<MessageDigest> MD5 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is not available", e);
        }
    });

    private static String md5Hex(byte[] first, byte[] second) {
        MessageDigest md5 = MD5.get();
        md5.update(first);
        md5.update(second);
        return HexFormat.of().formatHex(md5.digest()); // digest() also resets it for the next use
    }
}

package io.usher.auth;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;

/** A secret as stored in userlist.txt (or returned by auth_query). */
public sealed interface StoredSecret permits StoredSecret.Plain, StoredSecret.Md5, StoredSecret.Scram {

    /**
     * Classifies a stored secret the way PgBouncer's get_password_type does:
     * "md5" + 32 lowercase hex -> Md5; a well-formed
     * "SCRAM-SHA-256$&lt;iter&gt;:&lt;salt b64&gt;$&lt;StoredKey b64&gt;:&lt;ServerKey b64&gt;" -> Scram;
     * anything else (including a malformed verifier) -> Plain. Never null.
     */
    static StoredSecret parse(String s) {
        Objects.requireNonNull(s, "secret");
        if (Md5.isMd5Hash(s)) {
            return new Md5(s);
        }
        Scram scram = ScramVerifier.decode(s);
        return scram != null ? scram : new Plain(s);
    }

    /** A cleartext password. An empty one never authenticates anybody (PgBouncer "disallows empty passwords"). */
    record Plain(String password) implements StoredSecret {
        public Plain {
            Objects.requireNonNull(password, "password");
        }

        @Override
        public String toString() {
            return "Plain[***]";
        }
    }

    /** PostgreSQL's md5 hash: the full "md5" + hex(md5(password + user)) string. */
    record Md5(String hash) implements StoredSecret {
        private static final int LENGTH = 35;

        public Md5 {
            if (!isMd5Hash(hash)) {
                throw new IllegalArgumentException("not an md5 hash: expected \"md5\" followed by 32 lowercase hex digits");
            }
        }

        static boolean isMd5Hash(String s) {
            return s != null && s.length() == LENGTH && s.startsWith("md5") && s.chars().skip(3).allMatch(Md5::isLowerHex);
        }

        private static boolean isLowerHex(int c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        }

        @Override
        public String toString() {
            return "Md5[***]";
        }
    }

    /**
     * A SCRAM-SHA-256 verifier. The arrays are copied in and out, so an instance cannot be altered
     * by whoever handed the arrays in or got them back.
     */
    record Scram(int iterations, byte[] salt, byte[] storedKey, byte[] serverKey) implements StoredSecret {
        public Scram {
            if (iterations < 1) {
                throw new IllegalArgumentException("iterations must be positive");
            }
            if (salt == null || salt.length == 0) {
                throw new IllegalArgumentException("salt must not be empty");
            }
            storedKey = ScramCrypto.checkKey(storedKey, "storedKey");
            serverKey = ScramCrypto.checkKey(serverKey, "serverKey");
            salt = salt.clone();
        }

        @Override
        public byte[] salt() {
            return salt.clone();
        }

        @Override
        public byte[] storedKey() {
            return storedKey.clone();
        }

        @Override
        public byte[] serverKey() {
            return serverKey.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Scram other
                    && iterations == other.iterations
                    && Arrays.equals(salt, other.salt)
                    && MessageDigest.isEqual(storedKey, other.storedKey)
                    && MessageDigest.isEqual(serverKey, other.serverKey);
        }

        @Override
        public int hashCode() {
            // Salt and iterations are public anyway (sent in every server-first-message); the keys stay out.
            return 31 * iterations + Arrays.hashCode(salt);
        }

        @Override
        public String toString() {
            return "Scram[***]";
        }
    }
}

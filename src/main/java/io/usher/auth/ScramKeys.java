package io.usher.auth;

import java.security.MessageDigest;

/**
 * ClientKey and ServerKey recovered from a successful SCRAM exchange, enough to log in to a PostgreSQL
 * server that holds the same verifier (SCRAM pass-through as PgBouncer does). toString hides them.
 *
 * <p>The keys are bound to the salt and iteration count they were derived with: they only work against a
 * server whose verifier has the same salt, i.e. the same verifier as in userlist.txt / auth_query.
 */
public record ScramKeys(byte[] clientKey, byte[] serverKey) {

    public ScramKeys {
        clientKey = ScramCrypto.checkKey(clientKey, "clientKey");
        serverKey = ScramCrypto.checkKey(serverKey, "serverKey");
    }

    @Override
    public byte[] clientKey() {
        return clientKey.clone();
    }

    @Override
    public byte[] serverKey() {
        return serverKey.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ScramKeys other
                && MessageDigest.isEqual(clientKey, other.clientKey)
                && MessageDigest.isEqual(serverKey, other.serverKey);
    }

    @Override
    public int hashCode() {
        // Deliberately constant: a hash of a key is a piece of the key.
        return 0;
    }

    @Override
    public String toString() {
        return "ScramKeys[***]";
    }
}

package io.usher.server;

import io.usher.auth.ScramKeys;
import io.usher.auth.StoredSecret;

/**
 * How server connections of one login user authenticate to PostgreSQL: the secret from the
 * [databases] entry or auth_file, and, where that is only a SCRAM verifier, the keys a client proved
 * in its own SCRAM exchange (SCRAM pass-through, as PgBouncer does).
 */
public final class ServerCredentials {
    private final String user;
    private final StoredSecret secret;
    private volatile ScramKeys scramKeys;

    public ServerCredentials(String user, StoredSecret secret) {
        this.user = user;
        this.secret = secret;
    }

    public String user() { return user; }

    /** May be null: no password known (trust on the server, or pass-through keys only). */
    public StoredSecret secret() { return secret; }

    public ScramKeys scramKeys() { return scramKeys; }

    public void rememberScramKeys(ScramKeys keys) {
        this.scramKeys = keys;
    }

    @Override
    public String toString() {
        return "ServerCredentials[" + user + "]";
    }
}

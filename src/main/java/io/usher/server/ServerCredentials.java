package io.usher.server;

import io.usher.auth.ScramKeys;
import io.usher.auth.StoredSecret;

import java.util.Objects;

/**
 * How server connections of one login user authenticate to PostgreSQL: the secret from the
 * [databases] entry, auth_file or auth_query, and, where that is only a SCRAM verifier, the keys a
 * client proved in its own SCRAM exchange (SCRAM pass-through, as PgBouncer does).
 *
 * <p>The secret of a user found through auth_query is replaced by what the query returns at each
 * of that user's logins ({@link #update}); every other secret stays as it was made.
 */
public final class ServerCredentials {
    private final String user;
    private volatile StoredSecret secret;
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

    /**
     * A fresh secret for the user (auth_query answered at a login). SCRAM keys proved against an
     * older verifier do not fit a new one (another salt), so they are forgotten when it changes.
     */
    public void update(StoredSecret fresh) {
        if (!Objects.equals(secret, fresh)) {
            secret = fresh;
            scramKeys = null;
        }
    }

    @Override
    public String toString() {
        return "ServerCredentials[" + user + "]";
    }
}

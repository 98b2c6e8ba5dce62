package io.usher.server;

import io.usher.protocol.PgError;

/**
 * What auth_query answered on a server connection. The password is a secret: it is never logged
 * and {@link #toString} hides it.
 *
 * @param found       whether the query returned a row with a user name (no rows, or a NULL user
 *                    name, means "no such user", as PgBouncer's docs define it)
 * @param password    the second column of the row (the last row when there are several, as in
 *                    PgBouncer); null when NULL, which refuses every password
 * @param failure     null on success; else PgBouncer's reason, e.g. "error response from auth_query"
 * @param serverError the server's ErrorResponse, when that was the failure
 */
public record AuthQueryResult(boolean found, String password, String failure, PgError serverError) {

    static AuthQueryResult failed(String reason, PgError serverError) {
        return new AuthQueryResult(false, null, reason, serverError);
    }

    public boolean ok() {
        return failure == null;
    }

    @Override
    public String toString() {
        return ok() ? "AuthQueryResult[found=" + found + ", password=" + (password == null ? "NULL" : "***") + "]"
                : "AuthQueryResult[failed: " + failure + "]";
    }
}

package io.usher.protocol;

/**
 * An error the pooler reports to a client: severity, SQLSTATE and message, as in an ErrorResponse.
 * PgBouncer sends 08P01 for everything; Usher uses the code PostgreSQL itself uses for the condition.
 */
public record PgError(String severity, String sqlState, String message) {

    public static PgError fatal(String sqlState, String message) {
        return new PgError("FATAL", sqlState, message);
    }

    public static PgError error(String sqlState, String message) {
        return new PgError("ERROR", sqlState, message);
    }

    public boolean isFatal() {
        return "FATAL".equals(severity) || "PANIC".equals(severity);
    }
}

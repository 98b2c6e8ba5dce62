package io.usher;

/** PgBouncer's ways to stop (console SHUTDOWN [mode], SIGINT, SIGTERM). */
public enum ShutdownMode {
    /** SHUTDOWN: close every connection and exit now. */
    IMMEDIATE,
    /**
     * SHUTDOWN WAIT_FOR_SERVERS and SIGINT: stop listening, let running transactions (or sessions,
     * in session mode) finish, disconnect clients that ask for a server again, then exit.
     */
    WAIT_FOR_SERVERS,
    /**
     * SHUTDOWN WAIT_FOR_CLIENTS and SIGTERM: stop listening, keep serving every connected client
     * normally, exit when the last one has gone (rolling restarts behind so_reuseport).
     */
    WAIT_FOR_CLIENTS
}

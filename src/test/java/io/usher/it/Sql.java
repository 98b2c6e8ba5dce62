package io.usher.it;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** One-line helpers for tests. */
final class Sql {
    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    /** current_user@current_database. */
    static String whoami(Connection c) throws SQLException {
        return one(c, "SELECT current_user || '@' || current_database()");
    }

    /** The error of a login that must fail (an AssertionError if it succeeds). */
    static SQLException loginError(UsherInstance u, String user, String password, String db) {
        try (Connection c = u.connect(user, password, db, new java.util.Properties())) {
            throw new AssertionError("login of " + user + " succeeded");
        } catch (SQLException e) {
            return e;
        }
    }

    static int pid(Connection c) throws SQLException {
        return Integer.parseInt(one(c, "SELECT pg_backend_pid()"));
    }

    static void exec(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    /** Runs a one-value query in the background; completes with the value, or the error's message. */
    static java.util.concurrent.CompletableFuture<String> oneAsync(Connection c, String sql) {
        return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return one(c, sql);
            } catch (SQLException e) {
                return e.getMessage();
            }
        });
    }

    /** The backend pid a query of this connection runs on, asked in the background. */
    static java.util.concurrent.CompletableFuture<Integer> pidAsync(Connection c) {
        return oneAsync(c, "SELECT pg_backend_pid()").thenApply(Integer::parseInt);
    }

    private Sql() {}
}

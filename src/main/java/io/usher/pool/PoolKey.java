package io.usher.pool;

/** A pool is per (database name as clients see it, user the server connections log in as). */
public record PoolKey(String database, String user) {
    @Override
    public String toString() {
        return database + "/" + user;
    }
}

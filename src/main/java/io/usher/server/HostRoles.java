package io.usher.server;

import java.net.SocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The role each server address of a pool was last seen with (target_session_attrs). Any connection
 * that learns a role, at its login or at a periodic recheck, records it here, so that the other
 * connections to the same address are retired when released once it no longer fits: a client that
 * holds a connection through a failover cannot hide it from the pool.
 */
public final class HostRoles {
    private final Map<SocketAddress, ServerRole> roles = new ConcurrentHashMap<>();

    void observe(SocketAddress address, ServerRole role) {
        if (address != null && role != null) {
            roles.put(address, role);
        }
    }

    /** The role last seen at {@code address}, or null if none was. */
    ServerRole current(SocketAddress address) {
        return address == null ? null : roles.get(address);
    }
}

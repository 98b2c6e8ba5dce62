package io.usher.server;

import io.usher.config.TargetSessionAttrs;

import java.util.Map;

/**
 * What a server said about itself: whether it is in recovery (a hot standby) and whether its
 * sessions are read-only by default. Read from the ParameterStatus messages PostgreSQL 14+ sends
 * at login ({@code in_hot_standby}, {@code default_transaction_read_only}) when both are there,
 * else from {@link RoleProbe#SQL}, as libpq does for target_session_attrs.
 */
public record ServerRole(boolean inRecovery, boolean readOnly) {

    /** The role from login parameters, or null when the server did not report both (before 14). */
    static ServerRole fromParameters(Map<String, String> parameters) {
        String hotStandby = parameters.get("in_hot_standby");
        String readOnly = parameters.get("default_transaction_read_only");
        if (hotStandby == null || readOnly == null) {
            return null;
        }
        boolean recovery = "on".equals(hotStandby);
        return new ServerRole(recovery, recovery || "on".equals(readOnly));
    }

    /**
     * Whether a connection to a server of this role may be used under {@code target}. With
     * {@code fallback} (the second pass of prefer-standby, after no standby answered) any role does.
     */
    public boolean satisfies(TargetSessionAttrs target, boolean fallback) {
        return switch (target) {
            case ANY -> true;
            case READ_WRITE -> !readOnly;
            case READ_ONLY -> readOnly;
            case PRIMARY -> !inRecovery;
            case STANDBY -> inRecovery;
            case PREFER_STANDBY -> inRecovery || fallback;
        };
    }

    /** For logs and errors: "primary", "standby" or "read-only primary". */
    public String describe() {
        return inRecovery ? "standby" : readOnly ? "read-only primary" : "primary";
    }
}

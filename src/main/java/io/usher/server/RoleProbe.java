package io.usher.server;

import io.netty.buffer.ByteBuf;
import io.usher.protocol.ErrorFields;
import io.usher.protocol.MessageType;
import io.usher.protocol.Messages;
import io.usher.protocol.PgError;
import io.usher.protocol.ProtocolException;
import io.usher.protocol.SqlState;

import java.nio.charset.StandardCharsets;

/**
 * Reads the answer to {@link #SQL}, the query that tells a server's role when the login did not
 * (servers before 14, and every periodic recheck: an idle connection is not told of a promotion
 * until it runs a query). One probe per query; {@link #onMessage} returns false at ReadyForQuery.
 */
final class RoleProbe {
    /** libpq asks "SHOW transaction_read_only" and "SELECT pg_is_in_recovery()"; one round trip here. */
    static final String SQL = "SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting('transaction_read_only')";

    private Boolean inRecovery;
    private Boolean readOnly;
    private PgError error;

    /** Handles one message of the answer; false once the answer is complete (ReadyForQuery). */
    boolean onMessage(byte type, ByteBuf payload, ServerConnection server) throws ProtocolException {
        switch (type) {
            case 'D': { // DataRow
                if (payload.readableBytes() < 2 || payload.readUnsignedShort() != 2) {
                    throw new ProtocolException("unexpected answer to the role query");
                }
                inRecovery = "t".equals(column(payload));
                readOnly = "on".equals(column(payload));
                return true;
            }
            case MessageType.ERROR_RESPONSE:
                if (error == null) {
                    error = ErrorFields.parse(payload).toError();
                }
                return true;
            case MessageType.PARAMETER_STATUS:
                server.parameterStatus(Messages.readCString(payload), Messages.readCString(payload));
                return true;
            case MessageType.READY_FOR_QUERY:
                return false;
            default: // RowDescription, CommandComplete, notices
                return true;
        }
    }

    /** The role the answer gave; null when the query failed (see {@link #failure}). */
    ServerRole role() {
        return error != null || inRecovery == null ? null : new ServerRole(inRecovery, inRecovery || readOnly);
    }

    /** Why there is no role: the server's error, or a missing row. */
    PgError failure() {
        return error != null ? error
                : PgError.fatal(SqlState.CONNECTION_FAILURE, "the role query returned no row");
    }

    private static String column(ByteBuf payload) throws ProtocolException {
        if (payload.readableBytes() < 4) {
            throw new ProtocolException("bad packet");
        }
        int length = payload.readInt();
        if (length < 0) {
            return null;
        }
        if (length > payload.readableBytes()) {
            throw new ProtocolException("bad packet");
        }
        return payload.readCharSequence(length, StandardCharsets.UTF_8).toString();
    }
}

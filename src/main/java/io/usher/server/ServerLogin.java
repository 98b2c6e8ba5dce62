package io.usher.server;

import io.netty.buffer.ByteBuf;
import io.usher.auth.Md5Password;
import io.usher.auth.ScramClientExchange;
import io.usher.auth.ScramException;
import io.usher.auth.ScramKeys;
import io.usher.auth.StoredSecret;
import io.usher.config.TargetSessionAttrs;
import io.usher.protocol.ErrorFields;
import io.usher.protocol.MessageScanner;
import io.usher.protocol.MessageType;
import io.usher.protocol.Messages;
import io.usher.protocol.PgError;
import io.usher.protocol.ProtocolException;
import io.usher.protocol.SqlState;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The login of one server connection: StartupMessage, then whatever authentication PostgreSQL asks
 * for (trust, cleartext, md5, SCRAM-SHA-256 with a password or with pass-through keys), then
 * ParameterStatus and BackendKeyData up to the first ReadyForQuery; then, when target_session_attrs
 * needs the server's role and the login did not tell it, the role query.
 */
final class ServerLogin implements MessageScanner.Listener {
    private final ServerConnection server;
    private final ServerEndpoint endpoint;
    private ScramClientExchange scram;
    private int pid;
    private int key;
    /** The role query in flight after the login, when target_session_attrs needs one; else null. */
    private RoleProbe probe;

    ServerLogin(ServerConnection server, ServerEndpoint endpoint) {
        this.server = server;
        this.endpoint = endpoint;
    }

    ByteBuf startupMessage() {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("user", endpoint.user());
        params.put("database", endpoint.database());
        params.putAll(endpoint.startupParameters());
        return Messages.startup(params);
    }

    @Override
    public boolean onHeader(byte type, int payloadLength, int start) throws ProtocolException {
        if (payloadLength > 64 * 1024) {
            throw new ProtocolException("login message too large: " + payloadLength);
        }
        return true;
    }

    @Override
    public boolean onMessage(byte type, ByteBuf payload, int start, int end) throws ProtocolException {
        if (probe != null) {
            if (probe.onMessage(type, payload, server)) {
                return true;
            }
            ServerRole role = probe.role();
            if (role == null) {
                server.roleUnknown(probe.failure());
            } else {
                server.loginSucceeded(pid, key, role);
            }
            return false;
        }
        switch (type) {
            case MessageType.AUTHENTICATION:
                return authenticate(payload);
            case MessageType.PARAMETER_STATUS:
                server.parameterStatus(Messages.readCString(payload), Messages.readCString(payload));
                return true;
            case MessageType.BACKEND_KEY_DATA:
                pid = payload.readInt();
                key = payload.readInt();
                return true;
            case MessageType.ERROR_RESPONSE:
                server.loginRefused(ErrorFields.parse(payload).toError());
                return false;
            case MessageType.READY_FOR_QUERY: {
                ServerRole role = ServerRole.fromParameters(server.parameters());
                if (role == null && endpoint.target() != TargetSessionAttrs.ANY) {
                    // before PostgreSQL 14 the login does not tell: ask, as libpq does
                    probe = new RoleProbe();
                    server.write(Messages.query(RoleProbe.SQL));
                    return false;
                }
                server.loginSucceeded(pid, key, role);
                return false;
            }
            case MessageType.NOTICE_RESPONSE:
            case 'v': // NegotiateProtocolVersion: we ask for nothing optional
                return true;
            default:
                throw new ProtocolException("unexpected message " + MessageType.printable(type) + " during server login");
        }
    }

    private boolean authenticate(ByteBuf payload) throws ProtocolException {
        int code = payload.readInt();
        StoredSecret secret = endpoint.credentials().secret();
        switch (code) {
            case Messages.AUTH_OK:
                return true;
            case Messages.AUTH_CLEARTEXT:
                if (!(secret instanceof StoredSecret.Plain)) {
                    return fail("server asked for a cleartext password, but no plain password is known for user \""
                            + endpoint.user() + "\"");
                }
                server.write(Messages.passwordMessage(((StoredSecret.Plain) secret).password()));
                return true;
            case Messages.AUTH_MD5: {
                byte[] salt = new byte[4];
                payload.readBytes(salt);
                String md5Secret;
                if (secret instanceof StoredSecret.Plain) {
                    md5Secret = Md5Password.encrypt(endpoint.user(), ((StoredSecret.Plain) secret).password());
                } else if (secret instanceof StoredSecret.Md5) {
                    md5Secret = ((StoredSecret.Md5) secret).hash();
                } else {
                    return fail("server asked for md5 authentication, but only a SCRAM secret is known for user \""
                            + endpoint.user() + "\"");
                }
                server.write(Messages.passwordMessage(Md5Password.response(md5Secret, salt)));
                return true;
            }
            case Messages.AUTH_SASL: {
                boolean offered = false;
                while (payload.isReadable() && payload.getByte(payload.readerIndex()) != 0) {
                    if ("SCRAM-SHA-256".equals(Messages.readCString(payload))) {
                        offered = true;
                    }
                }
                if (!offered) {
                    return fail("server offered no supported SASL mechanism");
                }
                ScramKeys keys = endpoint.credentials().scramKeys();
                if (secret instanceof StoredSecret.Plain) {
                    scram = ScramClientExchange.withPassword(((StoredSecret.Plain) secret).password());
                } else if (keys != null) {
                    scram = ScramClientExchange.withKeys(keys);
                } else {
                    return fail("server asked for SCRAM authentication, but no password or SCRAM keys are known for user \""
                            + endpoint.user() + "\"");
                }
                server.write(Messages.saslInitialResponse("SCRAM-SHA-256", scram.clientFirstMessage()));
                return true;
            }
            case Messages.AUTH_SASL_CONTINUE:
                if (scram == null) {
                    throw new ProtocolException("SASL continue without SASL start");
                }
                try {
                    server.write(Messages.saslResponse(scram.handleServerFirst(text(payload))));
                } catch (ScramException e) {
                    return fail("SCRAM exchange with server failed: " + e.getMessage());
                }
                return true;
            case Messages.AUTH_SASL_FINAL:
                if (scram == null) {
                    throw new ProtocolException("SASL final without SASL start");
                }
                try {
                    scram.verifyServerFinal(text(payload));
                } catch (ScramException e) {
                    return fail("SCRAM server signature did not verify: " + e.getMessage());
                }
                return true;
            default:
                return fail("server asked for unsupported authentication method " + code);
        }
    }

    private static String text(ByteBuf payload) {
        return payload.toString(payload.readerIndex(), payload.readableBytes(), StandardCharsets.UTF_8);
    }

    private boolean fail(String message) {
        server.loginFailed(PgError.fatal(SqlState.INVALID_PASSWORD, message));
        return false;
    }
}

package io.usher.client;

import io.netty.buffer.ByteBuf;
import io.usher.auth.Md5Password;
import io.usher.auth.PasswordCheck;
import io.usher.auth.ScramException;
import io.usher.auth.ScramKeys;
import io.usher.auth.ScramServerExchange;
import io.usher.auth.StoredSecret;
import io.usher.auth.ThreadRandom;
import io.usher.config.AuthType;
import io.usher.protocol.Messages;
import io.usher.protocol.ProtocolException;

import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/**
 * The password exchange with one client, with PgBouncer's rules for which stored secret works with
 * which method: md5 with a SCRAM verifier switches to SCRAM; SCRAM cannot use an md5 hash. An
 * unknown user goes through the same exchange and fails at the end, so user names cannot be probed.
 */
final class ClientAuthenticator {

    enum Outcome { CONTINUE, OK, FAILED }

    /** What to do after a client message: send {@code reply} (may be null) and go on, succeed or fail. */
    record Step(Outcome outcome, ByteBuf reply, String failure) {
        static Step next(ByteBuf reply) { return new Step(Outcome.CONTINUE, reply, null); }
        static Step ok(ByteBuf reply) { return new Step(Outcome.OK, reply, null); }
        static Step fail(String why) { return new Step(Outcome.FAILED, null, why); }
    }

    private enum Method { NONE, CLEARTEXT, MD5, SCRAM }

    static final String PASSWORD_FAILED = "password authentication failed";
    static final String SASL_FAILED = "SASL authentication failed";


    private final String user;
    private final StoredSecret secret;   // null: unknown user
    private final Method method;
    private final Function<StoredSecret.Plain, StoredSecret.Scram> verifiers;
    private byte[] md5Salt;
    private ScramServerExchange scram;
    private boolean scramStarted;
    private ScramKeys scramKeys;

    /**
     * @param verifiers turns a plain password into a SCRAM verifier; cached per user by the caller, so
     *                  a user's salt stays the same between logins and PBKDF2 runs once, as in PgBouncer
     */
    ClientAuthenticator(AuthType type, String user, StoredSecret secret,
                        Function<StoredSecret.Plain, StoredSecret.Scram> verifiers) {
        this.user = user;
        this.secret = secret;
        this.verifiers = verifiers;
        this.method = chooseMethod(type, secret);
    }

    private static Method chooseMethod(AuthType type, StoredSecret secret) {
        switch (type) {
            case TRUST:
            case ANY:
            case CERT: // the certificate was checked before (ClientConnection)
                return Method.NONE;
            case PLAIN:
                return Method.CLEARTEXT;
            case MD5:
                return secret instanceof StoredSecret.Scram ? Method.SCRAM : Method.MD5;
            case SCRAM_SHA_256:
                return Method.SCRAM;
            default:
                throw new IllegalArgumentException("auth_type " + type.configName() + " is not supported");
        }
    }

    boolean needsPassword() {
        return method != Method.NONE;
    }

    /** The first authentication request to send. */
    ByteBuf start() {
        switch (method) {
            case CLEARTEXT:
                return Messages.authRequest(Messages.AUTH_CLEARTEXT);
            case MD5:
                md5Salt = new byte[4];
                ThreadRandom.current().nextBytes(md5Salt);
                return Messages.authMd5(md5Salt);
            case SCRAM:
                // an md5 hash cannot do SCRAM: run the exchange as for an unknown user, which fails
                StoredSecret usable = secret instanceof StoredSecret.Md5 ? null
                        : secret instanceof StoredSecret.Plain ? verifiers.apply((StoredSecret.Plain) secret) : secret;
                scram = new ScramServerExchange(usable, user, 4096, ThreadRandom.current());
                return Messages.authSasl("SCRAM-SHA-256");
            default:
                throw new IllegalStateException("no password exchange for trust");
        }
    }

    /** Handles the payload of a PasswordMessage / SASLInitialResponse / SASLResponse ('p'). */
    Step onPasswordMessage(ByteBuf payload) throws ProtocolException {
        switch (method) {
            case CLEARTEXT: {
                String password = Messages.readCString(payload);
                return secret != null && !password.isEmpty() && PasswordCheck.matches(secret, user, password)
                        ? Step.ok(null) : Step.fail(PASSWORD_FAILED);
            }
            case MD5: {
                String response = Messages.readCString(payload);
                return secret != null && !response.isEmpty() && Md5Password.verify(secret, user, md5Salt, response)
                        ? Step.ok(null) : Step.fail(PASSWORD_FAILED);
            }
            case SCRAM:
                return scramStep(payload);
            default:
                throw new ProtocolException("unexpected password message");
        }
    }

    private Step scramStep(ByteBuf payload) throws ProtocolException {
        try {
            if (!scramStarted) {
                scramStarted = true;
                String mechanism = Messages.readCString(payload);
                if (!"SCRAM-SHA-256".equals(mechanism)) {
                    return Step.fail("client selected an invalid SASL authentication mechanism");
                }
                if (payload.readableBytes() < 4) {
                    throw new ProtocolException("malformed SASLInitialResponse");
                }
                int length = payload.readInt();
                if (length < 0 || length > payload.readableBytes()) {
                    throw new ProtocolException("malformed SASLInitialResponse");
                }
                String first = payload.readCharSequence(length, StandardCharsets.UTF_8).toString();
                return Step.next(Messages.authSaslData(Messages.AUTH_SASL_CONTINUE, scram.handleClientFirst(first)));
            }
            String last = payload.readCharSequence(payload.readableBytes(), StandardCharsets.UTF_8).toString();
            String serverFinal = scram.handleClientFinal(last);
            scramKeys = scram.keys();
            return Step.ok(Messages.authSaslData(Messages.AUTH_SASL_FINAL, serverFinal));
        } catch (ScramException e) {
            return Step.fail(SASL_FAILED);
        }
    }

    /** After a successful SCRAM exchange against a verifier: the keys for SCRAM pass-through. */
    ScramKeys scramKeys() {
        return secret instanceof StoredSecret.Scram ? scramKeys : null;
    }
}

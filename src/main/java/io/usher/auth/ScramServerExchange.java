package io.usher.auth;

import com.ongres.scram.common.ScramFunctions;
import com.ongres.scram.common.ServerFinalMessage;
import com.ongres.scram.common.ServerFirstMessage;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Server side of SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL and PgBouncer run it towards a client.
 * One instance per login attempt. Not thread-safe.
 */
public final class ScramServerExchange {

    private enum Stage { AWAITING_CLIENT_FIRST, AWAITING_CLIENT_FINAL, SUCCEEDED, FAILED }

    /** The same text whether the password was wrong or the user unknown, so that callers cannot leak the difference. */
    private static final String AUTHENTICATION_FAILED = "password authentication failed (invalid SCRAM proof)";

    private final StoredSecret.Scram verifier;
    /** True when the exchange only goes through the motions and must fail (PostgreSQL's "doomed"). */
    private final boolean doomed;
    private final Supplier<String> serverNonces;

    private Stage stage = Stage.AWAITING_CLIENT_FIRST;
    private ClientScramMessages.First clientFirst;
    private String serverNonce;
    private String serverFirstMessage;
    private ScramKeys keys;

    /**
     * @param secret the user's stored secret: Scram (use its salt/iterations/keys) or Plain (derive a verifier with a random salt and `iterations`);
     *               null or Md5 = unknown user / unusable secret: run a FAKE exchange (deterministic fake salt per user name, like PostgreSQL's
     *               scram_mock_salt) that always fails at the end, so user names cannot be probed. An empty Plain password counts as unusable.
     * @param iterations used for a Plain secret and for the fake exchange; a Scram secret brings its own
     */
    public ScramServerExchange(StoredSecret secret, String user, int iterations, SecureRandom random) {
        this(secret, user, iterations, random, () -> ScramCrypto.nonce(random));
    }

    /** For tests: fixes the server nonce. */
    ScramServerExchange(StoredSecret secret, String user, int iterations, SecureRandom random, Supplier<String> serverNonces) {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(random, "random");
        if (iterations < 1) {
            throw new IllegalArgumentException("iterations must be positive");
        }
        this.serverNonces = Objects.requireNonNull(serverNonces, "serverNonces");
        if (secret instanceof StoredSecret.Scram scram) {
            this.verifier = scram;
            this.doomed = false;
        } else if (secret instanceof StoredSecret.Plain plain && !plain.password().isEmpty()) {
            // As PgBouncer's build_adhoc_scram_secret: a throwaway verifier, so the client proves the password.
            this.verifier = ScramVerifier.generate(plain.password(), iterations, random);
            this.doomed = false;
        } else {
            // As PostgreSQL's mock_scram_secret: the keys are never matched, so zeros do.
            byte[] noKey = new byte[ScramCrypto.KEY_LENGTH];
            this.verifier = new StoredSecret.Scram(iterations, MockSalt.forUser(user), noKey, noKey);
            this.doomed = true;
        }
    }

    /** Parses client-first-message (gs2 header "n,," or "y,," ; "p=" channel binding is refused: we don't advertise -PLUS), returns server-first-message. */
    public String handleClientFirst(String clientFirstMessage) throws ScramException {
        requireStage(Stage.AWAITING_CLIENT_FIRST, "client-first-message");
        stage = Stage.FAILED; // until this message has been handled
        clientFirst = ClientScramMessages.parseFirst(clientFirstMessage);
        serverNonce = serverNonces.get();
        serverFirstMessage = new ServerFirstMessage(clientFirst.nonce(), serverNonce,
                Base64.getEncoder().encodeToString(verifier.salt()), verifier.iterations()).toString();
        stage = Stage.AWAITING_CLIENT_FINAL;
        return serverFirstMessage;
    }

    /** Verifies client-final-message (channel binding data must match the gs2 header, nonce must match, proof must verify); returns server-final-message "v=...". Throws ScramException on any failure, including the fake exchange. */
    public String handleClientFinal(String clientFinalMessage) throws ScramException {
        requireStage(Stage.AWAITING_CLIENT_FINAL, "client-final-message");
        stage = Stage.FAILED; // a client gets one try
        ClientScramMessages.Final clientFinal = ClientScramMessages.parseFinal(clientFinalMessage);

        // Without channel binding, "c=" must be the base64 of the gs2 header sent first ("biws" for "n,,",
        // "eSws" for "y,,"): a client cannot change its mind about channel binding halfway.
        String expectedBinding = Base64.getEncoder().encodeToString(clientFirst.gs2Header().getBytes(StandardCharsets.US_ASCII));
        if (!clientFinal.channelBinding().equals(expectedBinding)) {
            throw new ScramException("unexpected SCRAM channel-binding attribute in client-final-message");
        }
        if (!clientFinal.nonce().equals(clientFirst.nonce() + serverNonce)) {
            throw new ScramException("invalid SCRAM response (nonce mismatch)");
        }

        String authMessage = clientFirst.bare() + "," + serverFirstMessage + "," + clientFinal.withoutProof();
        byte[] storedKey = verifier.storedKey();
        byte[] clientSignature = ScramFunctions.clientSignature(ScramCrypto.MECHANISM, storedKey, authMessage);
        byte[] clientKey = ScramCrypto.xor(clientFinal.proof(), clientSignature);
        boolean proofVerified = MessageDigest.isEqual(ScramFunctions.storedKey(ScramCrypto.MECHANISM, clientKey), storedKey);
        // The proof is checked even in a doomed exchange so that both take the same time (as PostgreSQL does).
        if (!proofVerified || doomed) {
            throw new ScramException(AUTHENTICATION_FAILED);
        }

        keys = new ScramKeys(clientKey, verifier.serverKey());
        stage = Stage.SUCCEEDED;
        return new ServerFinalMessage(
                ScramFunctions.serverSignature(ScramCrypto.MECHANISM, verifier.serverKey(), authMessage)).toString();
    }

    /**
     * After success: the client's ClientKey (ClientProof XOR ClientSignature) and the ServerKey.
     * They only open servers holding the same verifier: with a Plain secret the verifier was made up for
     * this exchange, so log in to servers with the password instead, as PgBouncer does.
     */
    public ScramKeys keys() {
        if (stage != Stage.SUCCEEDED) {
            throw new IllegalStateException("SCRAM keys are only known after a successful exchange");
        }
        return keys;
    }

    private void requireStage(Stage expected, String message) throws ScramException {
        if (stage != expected) {
            throw new ScramException("unexpected " + message + " in SCRAM exchange state " + stage);
        }
    }
}

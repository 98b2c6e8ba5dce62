package io.usher.auth;

import com.ongres.scram.client.ScramClient;
import com.ongres.scram.common.ClientFirstMessage;
import com.ongres.scram.common.exception.ScramInvalidServerSignatureException;
import java.security.SecureRandom;
import java.util.List;
import java.util.Objects;

/**
 * Client side of SCRAM-SHA-256 towards a PostgreSQL server, from a password or from ScramKeys (pass-through).
 * One instance per login. Not thread-safe.
 *
 * <p>The exchange itself is ongres' {@link ScramClient}, always fed with ClientKey/ServerKey. With a
 * password those keys depend on the server's salt, so the ScramClient is only built once the
 * server-first-message is in; the client-first-message sent before is the same text, built by the same
 * library class from the same user name and nonce.
 */
public final class ScramClientExchange {

    /**
     * PostgreSQL ignores the SCRAM user name (it has the startup packet's). libpq sends an empty one, which
     * ongres refuses, so this sends "*" as pgjdbc does.
     */
    static final String IGNORED_USER_NAME = "*";
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Where the keys come from once the server has told its salt and iteration count. */
    @FunctionalInterface
    interface KeySource {
        ScramKeys keysFor(byte[] salt, int iterations) throws ScramException;
    }

    private enum Stage { NOT_STARTED, AWAITING_SERVER_FIRST, AWAITING_SERVER_FINAL, DONE }

    private final KeySource keySource;
    private final String userName;
    private final String clientNonce;

    private Stage stage = Stage.NOT_STARTED;
    private String clientFirstMessage;
    private ScramClient client;

    ScramClientExchange(KeySource keySource, String userName, String clientNonce) {
        this.keySource = Objects.requireNonNull(keySource, "keySource");
        this.userName = Objects.requireNonNull(userName, "userName");
        this.clientNonce = Objects.requireNonNull(clientNonce, "clientNonce");
    }

    public static ScramClientExchange withPassword(String password) {
        return withPassword(password, IGNORED_USER_NAME, ScramCrypto.nonce(RANDOM));
    }

    /** For tests: fixes the user name and the client nonce. */
    static ScramClientExchange withPassword(String password, String userName, String clientNonce) {
        Objects.requireNonNull(password, "password");
        return new ScramClientExchange((salt, iterations) -> {
            if (password.isEmpty()) {
                // libpq refuses too: no PostgreSQL role can have an empty password.
                throw new ScramException("SCRAM authentication requires a non-empty password");
            }
            return ScramCrypto.keysFromPassword(password, salt, iterations);
        }, userName, clientNonce);
    }

    public static ScramClientExchange withKeys(ScramKeys keys) {
        Objects.requireNonNull(keys, "keys");
        return new ScramClientExchange((salt, iterations) -> keys, IGNORED_USER_NAME, ScramCrypto.nonce(RANDOM));
    }

    /** "n,,n=*,r=&lt;nonce&gt;": no channel binding, the ignored user name, 18 random bytes of nonce in base64. */
    public String clientFirstMessage() {
        if (stage == Stage.NOT_STARTED) {
            clientFirstMessage = new ClientFirstMessage(userName, clientNonce).toString();
            stage = Stage.AWAITING_SERVER_FIRST;
        }
        return clientFirstMessage;
    }

    /** Returns client-final-message. */
    public String handleServerFirst(String serverFirstMessage) throws ScramException {
        requireStage(Stage.AWAITING_SERVER_FIRST, "server-first-message");
        stage = Stage.DONE; // unless the client-final-message gets built
        ServerScramMessages.First serverFirst = ServerScramMessages.parseFirst(serverFirstMessage, clientNonce);
        ScramKeys keys = keySource.keysFor(serverFirst.salt(), serverFirst.iterations());
        try {
            client = ScramClient.builder()
                    .advertisedMechanisms(List.of(ScramCrypto.MECHANISM.getName()))
                    .username(userName)
                    .clientAndServerKey(keys.clientKey(), keys.serverKey())
                    .nonceSupplier(() -> clientNonce)
                    .build();
            client.clientFirstMessage(); // the message already sent, for ScramClient's state machine
            client.serverFirstMessage(serverFirstMessage);
            String clientFinal = client.clientFinalMessage().toString();
            stage = Stage.AWAITING_SERVER_FINAL;
            return clientFinal;
        } catch (com.ongres.scram.common.exception.ScramException | RuntimeException e) {
            // Not expected once ServerScramMessages accepted the message; still, never let a library surprise out.
            throw new ScramException("SCRAM client failed on server-first-message: " + e.getMessage());
        }
    }

    /** Checks "v=" with ServerKey; "e=..." -> ScramException with that error. */
    public void verifyServerFinal(String serverFinalMessage) throws ScramException {
        requireStage(Stage.AWAITING_SERVER_FINAL, "server-final-message");
        stage = Stage.DONE;
        ServerScramMessages.checkFinal(serverFinalMessage);
        try {
            client.serverFinalMessage(serverFinalMessage);
        } catch (ScramInvalidServerSignatureException e) {
            throw new ScramException("incorrect SCRAM server signature");
        } catch (com.ongres.scram.common.exception.ScramException | RuntimeException e) {
            throw new ScramException("SCRAM client failed on server-final-message: " + e.getMessage());
        }
    }

    private void requireStage(Stage expected, String message) throws ScramException {
        if (stage != expected) {
            throw new ScramException("unexpected " + message + " in SCRAM exchange state " + stage);
        }
    }
}

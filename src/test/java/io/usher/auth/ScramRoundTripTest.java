package io.usher.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.ongres.scram.common.ScramFunctions;
import java.security.SecureRandom;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** Our client against our server, as PgBouncer's clients and servers talk to it. */
class ScramRoundTripTest {

    private static final int ITERATIONS = 4096;
    private static final SecureRandom RANDOM = new SecureRandom();

    @Test
    void passwordLogsInAgainstAPlainSecret() throws ScramException {
        ScramServerExchange server = new ScramServerExchange(new StoredSecret.Plain("pencil"), "alice", ITERATIONS, RANDOM);

        assertThat(login(ScramClientExchange.withPassword("pencil"), server)).isNotNull();
    }

    @Test
    void passwordLogsInAgainstAVerifierOfTheSamePassword() throws ScramException {
        ScramServerExchange server = new ScramServerExchange(
                ScramVerifier.generate("pencil", ITERATIONS, RANDOM), "alice", ITERATIONS, RANDOM);

        assertThat(login(ScramClientExchange.withPassword("pencil"), server)).isNotNull();
    }

    @Test
    void passwordLogsInAgainstAVerifierMadeByPostgres() throws ScramException {
        ScramServerExchange server = new ScramServerExchange(
                StoredSecret.parse(PostgresVerifiers.PENCIL), "u_scram", ITERATIONS, RANDOM);

        assertThat(login(ScramClientExchange.withPassword("pencil"), server)).isNotNull();
    }

    @Test
    void saslPreparedPasswordLogsInAgainstAVerifierMadeByPostgres() throws ScramException {
        // The verifier was made from "I" SOFT HYPHEN "X"; SASLprep turns ROMAN NUMERAL NINE into the same "IX".
        ScramServerExchange server = new ScramServerExchange(
                StoredSecret.parse(PostgresVerifiers.SOFT_HYPHEN_INSIDE), "u_nfkc", ITERATIONS, RANDOM);

        assertThat(login(ScramClientExchange.withPassword("\u2168"), server)).isNotNull();
    }

    @Test
    void wrongPasswordFails() throws ScramException {
        for (StoredSecret secret : new StoredSecret[] {
                new StoredSecret.Plain("pencil"), StoredSecret.parse(PostgresVerifiers.PENCIL)}) {
            ScramServerExchange server = new ScramServerExchange(secret, "alice", ITERATIONS, RANDOM);
            ScramClientExchange client = ScramClientExchange.withPassword("pencils");
            String clientFinal = client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage()));

            assertThatThrownBy(() -> server.handleClientFinal(clientFinal))
                    .isInstanceOf(ScramException.class)
                    .hasMessageContaining("password authentication failed");
        }
    }

    @Test
    void recoveredKeysLogInToAnotherServerHoldingTheSameVerifier() throws ScramException {
        StoredSecret.Scram verifier = ScramVerifier.generate("pencil", ITERATIONS, RANDOM);
        ScramKeys recovered = login(ScramClientExchange.withPassword("pencil"),
                new ScramServerExchange(verifier, "alice", ITERATIONS, RANDOM));

        // What a client gives us is what the server behind us will ask for: pass-through.
        ScramServerExchange backend = new ScramServerExchange(verifier, "alice", ITERATIONS, RANDOM);
        ScramKeys seenByBackend = login(ScramClientExchange.withKeys(recovered), backend);

        assertThat(seenByBackend).isEqualTo(recovered);
    }

    @Test
    void recoveredKeysFailAgainstAVerifierWithAnotherSalt() throws ScramException {
        ScramKeys recovered = login(ScramClientExchange.withPassword("pencil"), new ScramServerExchange(
                ScramVerifier.generate("pencil", ITERATIONS, RANDOM), "alice", ITERATIONS, RANDOM));
        ScramServerExchange backend = new ScramServerExchange(
                ScramVerifier.generate("pencil", ITERATIONS, RANDOM), "alice", ITERATIONS, RANDOM);
        ScramClientExchange client = ScramClientExchange.withKeys(recovered);
        String clientFinal = client.handleServerFirst(backend.handleClientFirst(client.clientFirstMessage()));

        assertThatThrownBy(() -> backend.handleClientFinal(clientFinal)).isInstanceOf(ScramException.class);
    }

    @Test
    void clientThatSupportsChannelBindingButWasNotOfferedItLogsIn() throws ScramException {
        // libpq over TLS to a server without SCRAM-SHA-256-PLUS sends "y,," and "c=eSws".
        StoredSecret.Scram verifier = ScramVerifier.derive("pencil", new byte[16], ITERATIONS);
        ScramServerExchange server = new ScramServerExchange(verifier, "alice", ITERATIONS, RANDOM);
        String serverFirst = server.handleClientFirst("y,,n=,r=clientnonce");
        String nonce = serverFirst.substring(2, serverFirst.indexOf(','));
        String withoutProof = "c=eSws,r=" + nonce;

        String serverFinal = server.handleClientFinal(withoutProof + ",p=" + proof("pencil", verifier,
                "n=,r=clientnonce," + serverFirst + "," + withoutProof));

        assertThat(serverFinal).startsWith("v=");
    }

    @Test
    void clientFirstMessageLooksLikePgjdbcs() {
        String first = ScramClientExchange.withPassword("pencil").clientFirstMessage();

        assertThat(first).matches("n,,n=\\*,r=[A-Za-z0-9+/]{24}");
        assertThat(ScramClientExchange.withPassword("pencil").clientFirstMessage()).isNotEqualTo(first);
    }

    @Test
    void emptyPasswordIsRefusedBeforeAnyProofIsSent() throws ScramException {
        ScramServerExchange server = new ScramServerExchange(new StoredSecret.Plain("pencil"), "alice", ITERATIONS, RANDOM);
        ScramClientExchange client = ScramClientExchange.withPassword("");
        String serverFirst = server.handleClientFirst(client.clientFirstMessage());

        assertThatThrownBy(() -> client.handleServerFirst(serverFirst))
                .isInstanceOf(ScramException.class)
                .hasMessageContaining("non-empty password");
    }

    @Test
    void serverErrorReachesTheClientAsScramException() throws ScramException {
        ScramServerExchange server = new ScramServerExchange(new StoredSecret.Plain("pencil"), "alice", ITERATIONS, RANDOM);
        ScramClientExchange client = ScramClientExchange.withPassword("pencil");
        client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage()));

        assertThatThrownBy(() -> client.verifyServerFinal("e=invalid-proof"))
                .isInstanceOf(ScramException.class)
                .hasMessageContaining("invalid-proof");
    }

    /** The full exchange; returns the keys the server recovered. */
    static ScramKeys login(ScramClientExchange client, ScramServerExchange server) throws ScramException {
        String serverFirst = server.handleClientFirst(client.clientFirstMessage());
        String clientFinal = client.handleServerFirst(serverFirst);
        String serverFinal = server.handleClientFinal(clientFinal);
        client.verifyServerFinal(serverFinal);
        return server.keys();
    }

    /** ClientProof for an AuthMessage, computed independently of ScramClientExchange. */
    static String proof(String password, StoredSecret.Scram verifier, String authMessage) {
        ScramKeys keys = ScramCrypto.keysFromPassword(password, verifier.salt(), verifier.iterations());
        byte[] signature = ScramFunctions.clientSignature(ScramCrypto.MECHANISM, verifier.storedKey(), authMessage);
        return Base64.getEncoder().encodeToString(ScramCrypto.xor(keys.clientKey(), signature));
    }
}

package io.usher.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.SecureRandom;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** The SCRAM-SHA-256 example of RFC 7677 section 3, replayed on both sides. */
class ScramRfc7677Test {

    private static final String CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO";
    private static final String SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    private static final byte[] SALT = Base64.getDecoder().decode("W22ZaJ0SNY7soEsUEjb6gQ==");

    private static final String CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    private static final String SERVER_FIRST =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    private static final String CLIENT_FINAL =
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    private static final String SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    @Test
    void serverSideReproducesTheExample() throws ScramException {
        ScramServerExchange server = rfcServer();

        assertThat(server.handleClientFirst(CLIENT_FIRST)).isEqualTo(SERVER_FIRST);
        assertThat(server.handleClientFinal(CLIENT_FINAL)).isEqualTo(SERVER_FINAL);
    }

    @Test
    void clientSideReproducesTheExample() throws ScramException {
        ScramClientExchange client = ScramClientExchange.withPassword("pencil", "user", CLIENT_NONCE);

        assertThat(client.clientFirstMessage()).isEqualTo(CLIENT_FIRST);
        assertThat(client.handleServerFirst(SERVER_FIRST)).isEqualTo(CLIENT_FINAL);
        client.verifyServerFinal(SERVER_FINAL);
    }

    @Test
    void clientWithTheKeysTheServerRecoveredSendsTheSameProof() throws ScramException {
        ScramServerExchange server = rfcServer();
        server.handleClientFirst(CLIENT_FIRST);
        server.handleClientFinal(CLIENT_FINAL);
        ScramKeys recovered = server.keys();

        assertThat(recovered).isEqualTo(ScramCrypto.keysFromPassword("pencil", SALT, 4096));
        ScramClientExchange client = new ScramClientExchange((salt, iterations) -> recovered, "user", CLIENT_NONCE);
        client.clientFirstMessage();
        assertThat(client.handleServerFirst(SERVER_FIRST)).isEqualTo(CLIENT_FINAL);
        client.verifyServerFinal(SERVER_FINAL);
    }

    @Test
    void clientRejectsAForgedServerSignature() throws ScramException {
        ScramClientExchange client = ScramClientExchange.withPassword("pencil", "user", CLIENT_NONCE);
        client.clientFirstMessage();
        client.handleServerFirst(SERVER_FIRST);

        assertThatThrownBy(() -> client.verifyServerFinal("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
                .isInstanceOf(ScramException.class)
                .hasMessageContaining("server signature");
    }

    @Test
    void serverRejectsAProofFromAnotherPassword() throws ScramException {
        ScramServerExchange server = rfcServer();
        server.handleClientFirst(CLIENT_FIRST);
        ScramClientExchange impostor = ScramClientExchange.withPassword("pencils", "user", CLIENT_NONCE);
        impostor.clientFirstMessage();
        String forgedFinal = impostor.handleServerFirst(SERVER_FIRST);

        assertThat(forgedFinal).isNotEqualTo(CLIENT_FINAL);
        assertThatThrownBy(() -> server.handleClientFinal(forgedFinal)).isInstanceOf(ScramException.class);
        assertThatThrownBy(server::keys).isInstanceOf(IllegalStateException.class);
    }

    private static ScramServerExchange rfcServer() {
        return new ScramServerExchange(ScramVerifier.derive("pencil", SALT, 4096), "user", 4096,
                new SecureRandom(), () -> SERVER_NONCE);
    }
}

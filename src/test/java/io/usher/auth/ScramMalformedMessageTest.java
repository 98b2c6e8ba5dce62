package io.usher.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.SecureRandom;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

/** Whatever a peer sends, the answer is a ScramException, never another exception. */
class ScramMalformedMessageTest {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String SERVER_NONCE = "SERVERNONCESERVERNONCE12";
    private static final StoredSecret.Scram VERIFIER = ScramVerifier.derive("pencil", new byte[16], 4096);
    private static final String ZERO_PROOF = Base64.getEncoder().encodeToString(new byte[32]);

    @ParameterizedTest
    @NullAndEmptySource
    @ValueSource(strings = {
            "p=tls-server-end-point,,n=,r=abc", // channel binding required: we don't offer -PLUS
            "x,,n=,r=abc",
            "n",
            "n,",
            "n;,n=,r=abc",
            "n,a=admin,n=,r=abc",               // authzid
            "n,x,n=,r=abc",
            "n,,m=ext,n=,r=abc",                // mandatory extension
            "n,,r=abc",                         // user name missing
            "n,,n=",                            // nonce missing
            "n,,n,r=abc",
            "n,,n=,r=",                         // empty nonce
            "n,,n=,r=ab c",                     // non-printable nonce
            "n,,n=,r=ab\u00e9",
            "n,,n=,r=abc,1=x",                  // extension names are letters
            "n,,n=,r=abc,x",
            "n,,n=,r=a\0bc",
    })
    void malformedClientFirstMessages(String message) {
        ScramServerExchange server = new ScramServerExchange(VERIFIER, "alice", 4096, RANDOM);

        assertThatThrownBy(() -> server.handleClientFirst(message)).isExactlyInstanceOf(ScramException.class);
    }

    @ParameterizedTest
    @CsvSource({
            "'p=tls-server-end-point,,n=,r=abc', channel binding",
            "'n,a=admin,n=,r=abc',               authorization identity",
            "'n,,m=ext,n=,r=abc',                extension",
    })
    void refusedFeaturesAreNamed(String message, String feature) {
        ScramServerExchange server = new ScramServerExchange(VERIFIER, "alice", 4096, RANDOM);

        assertThatThrownBy(() -> server.handleClientFirst(message))
                .isExactlyInstanceOf(ScramException.class)
                .hasMessageContaining(feature)
                .hasMessageContaining("not supported");
    }

    @Test
    void acceptsTheClientFirstMessagesOfLibpqAndPgjdbcAndExtensions() throws ScramException {
        for (String message : new String[] {"n,,n=,r=abc", "n,,n=*,r=abc", "n,,n=user,r=abc,x=ext,", "y,,n=,r=abc"}) {
            assertThat(new ScramServerExchange(VERIFIER, "alice", 4096, RANDOM).handleClientFirst(message))
                    .startsWith("r=abc");
        }
    }

    /**
     * PROOF stands for the proof that would be right for what precedes it, so that each message fails for
     * the one defect it has.
     */
    @ParameterizedTest
    @NullAndEmptySource
    @ValueSource(strings = {
            "r=abcNONCE,p=PROOF",                         // channel binding missing
            "c=biws,p=PROOF",                             // nonce missing
            "c=biws,r=abcNONCE",                          // proof missing
            "c=biws,r=abcNONCE,",
            "c=biws,r=abcNONCE,x=ext",
            "c=eSws,r=abcNONCE,p=PROOF",                  // "y,," binding after "n,,"
            "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=abcNONCE,p=PROOF", // "p=tls-server-end-point,,"
            "c=biws,r=abcSOMEOTHERNONCE,p=PROOF",         // wrong nonce
            "c=biws,r=abc,p=PROOF",                       // client nonce only
            "c=biws,r=abcNONCE,p=!!!notbase64!!!",        // bad base64
            "c=biws,r=abcNONCE,p=AAAA",                   // proof too short
            "c=biws,r=abcNONCE,p=PROOF,x=trailing",       // proof must be last
            "c=biws,r=abcNONCE,p",
            "c=biws,r=abcNONCE,p=PROOF\0",
            "c=biws,r=abcNONCE,1=x,p=PROOF",
    })
    void malformedClientFinalMessages(String template) throws ScramException {
        ScramServerExchange server = new ScramServerExchange(VERIFIER, "alice", 4096, RANDOM, () -> SERVER_NONCE);
        String serverFirst = server.handleClientFirst("n,,n=,r=abc");
        String message = template == null ? null : withProof(template.replace("NONCE", SERVER_NONCE), serverFirst);

        assertThatThrownBy(() -> server.handleClientFinal(message)).isExactlyInstanceOf(ScramException.class);
    }

    @Test
    void theProofPlaceholderGivesAnAcceptableMessage() throws ScramException {
        ScramServerExchange server = new ScramServerExchange(VERIFIER, "alice", 4096, RANDOM, () -> SERVER_NONCE);
        String serverFirst = server.handleClientFirst("n,,n=,r=abc");

        assertThat(server.handleClientFinal(withProof("c=biws,r=abc" + SERVER_NONCE + ",p=PROOF", serverFirst)))
                .startsWith("v=");
    }

    private static String withProof(String template, String serverFirst) {
        int proofAt = template.indexOf(",p=PROOF");
        if (proofAt < 0) {
            return template;
        }
        String authMessage = "n=,r=abc," + serverFirst + "," + template.substring(0, proofAt);
        return template.replace("PROOF", ScramRoundTripTest.proof("pencil", VERIFIER, authMessage));
    }

    @Test
    void extensionsBeforeTheProofAreSignedAndAccepted() throws ScramException {
        ScramServerExchange server = new ScramServerExchange(VERIFIER, "alice", 4096, RANDOM, () -> SERVER_NONCE);
        String serverFirst = server.handleClientFirst("n,,n=,r=abc");
        String withoutProof = "c=biws,r=abc" + SERVER_NONCE + ",x=extension";
        String proof = ScramRoundTripTest.proof("pencil", VERIFIER, "n=,r=abc," + serverFirst + "," + withoutProof);

        assertThat(server.handleClientFinal(withoutProof + ",p=" + proof)).startsWith("v=");
    }

    @Test
    void serverRefusesMessagesOutOfOrder() throws ScramException {
        ScramServerExchange fresh = new ScramServerExchange(VERIFIER, "alice", 4096, RANDOM);
        assertThatThrownBy(() -> fresh.handleClientFinal("c=biws,r=abc,p=" + ZERO_PROOF))
                .isExactlyInstanceOf(ScramException.class);

        ScramServerExchange started = new ScramServerExchange(VERIFIER, "alice", 4096, RANDOM);
        started.handleClientFirst("n,,n=,r=abc");
        assertThatThrownBy(() -> started.handleClientFirst("n,,n=,r=abc")).isExactlyInstanceOf(ScramException.class);
    }

    @Test
    void serverGivesOneTryOnly() throws ScramException {
        ScramServerExchange server = new ScramServerExchange(VERIFIER, "alice", 4096, RANDOM, () -> SERVER_NONCE);
        String serverFirst = server.handleClientFirst("n,,n=,r=abc");
        String withoutProof = "c=biws,r=abc" + SERVER_NONCE;
        String proof = ScramRoundTripTest.proof("pencil", VERIFIER, "n=,r=abc," + serverFirst + "," + withoutProof);
        assertThatThrownBy(() -> server.handleClientFinal(withoutProof + ",p=" + ZERO_PROOF)).isExactlyInstanceOf(ScramException.class);

        assertThatThrownBy(() -> server.handleClientFinal(withoutProof + ",p=" + proof)).isExactlyInstanceOf(ScramException.class);
    }

    @ParameterizedTest
    @NullAndEmptySource
    @ValueSource(strings = {
            "s=c2FsdA==,i=4096",
            "r=SOMEONEELSE,s=c2FsdA==,i=4096",   // nonce not starting with ours
            "r=CLIENT,s=c2FsdA==,i=4096",        // no server part in the nonce
            "r=CLIENTserver,s=!!!,i=4096",       // bad base64 salt
            "r=CLIENTserver,s=,i=4096",          // empty salt
            "r=CLIENTserver,s=c2FsdA==,i=0",
            "r=CLIENTserver,s=c2FsdA==,i=-1",
            "r=CLIENTserver,s=c2FsdA==,i=many",
            "r=CLIENTserver,s=c2FsdA==",
            "r=CLIENTserver,i=4096,s=c2FsdA==",
            "r=CLIENTserver,s=c2FsdA==,i=4096,x=extension",
            "r=CLIENTserver,s=c2FsdA==,i=4096,,",
            ",,,",
            "r=CLIENTserver,s=c2FsdA==,i=99999999999",
    })
    void malformedServerFirstMessages(String message) {
        ScramClientExchange client = ScramClientExchange.withPassword("pencil", "*", "CLIENT");
        client.clientFirstMessage();

        assertThatThrownBy(() -> client.handleServerFirst(message)).isExactlyInstanceOf(ScramException.class);
    }

    @ParameterizedTest
    @NullAndEmptySource
    @ValueSource(strings = {
            "v=", "v=!!!", "v=AAAA", "x=abc", "e=", "e=unknown-error", "garbage", ",", "v",
            "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",            // well-formed, wrong signature
            "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,x=extension",
    })
    void malformedServerFinalMessages(String message) throws ScramException {
        ScramClientExchange client = ScramClientExchange.withPassword("pencil", "*", "CLIENT");
        client.clientFirstMessage();
        client.handleServerFirst("r=CLIENTserver,s=c2FsdA==,i=4096");

        assertThatThrownBy(() -> client.verifyServerFinal(message)).isExactlyInstanceOf(ScramException.class);
    }

    @Test
    void clientRefusesMessagesOutOfOrder() throws ScramException {
        ScramClientExchange notStarted = ScramClientExchange.withPassword("pencil");
        assertThatThrownBy(() -> notStarted.handleServerFirst("r=x,s=c2FsdA==,i=4096")).isExactlyInstanceOf(ScramException.class);
        assertThatThrownBy(() -> notStarted.verifyServerFinal("v=AAAA")).isExactlyInstanceOf(ScramException.class);

        ScramClientExchange client = ScramClientExchange.withPassword("pencil", "*", "CLIENT");
        client.clientFirstMessage();
        client.handleServerFirst("r=CLIENTserver,s=c2FsdA==,i=4096");
        assertThatThrownBy(() -> client.handleServerFirst("r=CLIENTserver,s=c2FsdA==,i=4096"))
                .isExactlyInstanceOf(ScramException.class);
    }

    @Test
    void exceptionsDoNotCarryThePassword() throws ScramException {
        ScramClientExchange client = ScramClientExchange.withPassword("s3cr3t-pencil", "*", "CLIENT");
        client.clientFirstMessage();
        client.handleServerFirst("r=CLIENTserver,s=c2FsdA==,i=4096");

        assertThatThrownBy(() -> client.verifyServerFinal("v=AAAA"))
                .isExactlyInstanceOf(ScramException.class)
                .hasMessageNotContaining("s3cr3t");
    }
}

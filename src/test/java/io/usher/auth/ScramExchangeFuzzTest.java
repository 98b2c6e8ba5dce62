package io.usher.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.ongres.scram.common.ScramFunctions;
import io.usher.testing.FuzzBytes;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * Both sides of SCRAM-SHA-256 with the peer's messages taken from the fuzzer: each step returns the next
 * message or throws ScramException, nothing else, and never succeeds where it must not (an unknown user,
 * a wrong proof, a wrong server signature). So that the fuzzer also reaches the end of a good exchange,
 * the placeholders {@code PROOF} (server side) and {@code SIG} (client side) are replaced with the right
 * base64 value for the messages so far.
 *
 * <p>Input: one flags byte, then the peer's first and second message separated by a NUL byte (UTF-8).
 * Server side flags bits 0-1: the stored secret (0: SCRAM verifier of "pencil", 1: plain "pencil",
 * 2: none = unknown user, 3: parsed from a third NUL-separated part, as userlist.txt would give it).
 * Client side flag bit 0: log in with the password "pencil" (else with ScramKeys, pass-through).
 */
class ScramExchangeFuzzTest {

    private static final String PASSWORD = "pencil";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final StoredSecret.Scram VERIFIER = ScramVerifier.derive(PASSWORD, "saltsaltsaltsalt".getBytes(StandardCharsets.US_ASCII), 2);
    /** A password client's PBKDF2 runs as many rounds as the server asks; see docs/fuzzing.md. */
    private static final int MAX_CLIENT_ITERATIONS = 4096;

    @FuzzTest(maxDuration = "2m")
    void scramServer(byte[] input) throws ScramException {
        FuzzBytes in = new FuzzBytes(input);
        int flags = in.u8();
        String[] parts = new String(in.rest(), StandardCharsets.UTF_8).split("\0", 3);
        String first = parts[0];
        String fin = parts.length > 1 ? parts[1] : "";
        StoredSecret secret = switch (flags & 3) {
            case 0 -> VERIFIER;
            case 1 -> new StoredSecret.Plain(PASSWORD);
            case 2 -> null;
            default -> StoredSecret.parse(parts.length > 2 ? parts[2] : "");
        };
        boolean knownPassword = (flags & 3) < 2;
        boolean mayFail = (flags & 3) == 3;
        ScramServerExchange server = new ScramServerExchange(secret, "alice", 2, RANDOM, () -> "SERVER");
        String serverFirst;
        try {
            serverFirst = server.handleClientFirst(first);
        } catch (ScramException e) {
            assertThatThrownBy(() -> server.handleClientFinal(fin)).isExactlyInstanceOf(ScramException.class);
            return;
        }
        assertThat(serverFirst).startsWith("r=").contains("SERVER,s=").contains(",i=");
        String clientFinal = fin;
        int at = fin.indexOf(",p=PROOF");
        if (knownPassword && at >= 0 && first.length() >= 3) {
            byte[] salt = Base64.getDecoder().decode(serverFirst.replaceAll("(?s)^.*,s=([^,]*),.*$", "$1"));
            int iterations = Integer.parseInt(serverFirst.replaceAll("(?s)^.*,i=", ""));
            ScramKeys keys = ScramCrypto.keysFromPassword(PASSWORD, salt, iterations);
            String withoutProof = fin.substring(0, at);
            String authMessage = first.substring(3) + "," + serverFirst + "," + withoutProof;
            byte[] storedKey = ScramFunctions.storedKey(ScramCrypto.MECHANISM, keys.clientKey());
            byte[] signature = ScramFunctions.clientSignature(ScramCrypto.MECHANISM, storedKey, authMessage);
            String proof = Base64.getEncoder().encodeToString(ScramCrypto.xor(keys.clientKey(), signature));
            clientFinal = withoutProof + ",p=" + proof + fin.substring(at + ",p=PROOF".length());
        }
        String serverFinal;
        try {
            serverFinal = server.handleClientFinal(clientFinal);
        } catch (ScramException e) {
            assertThatThrownBy(server::keys).isInstanceOf(IllegalStateException.class);
            return;
        } finally {
            String again = clientFinal;
            assertThatThrownBy(() -> server.handleClientFinal(again)).isExactlyInstanceOf(ScramException.class);
        }
        assertThat(secret).as("an unknown user never logs in").isNotNull();
        assertThat(knownPassword || mayFail).isTrue();
        assertThat(serverFinal).startsWith("v=");
        assertThat(server.keys()).isNotNull();
    }

    @FuzzTest(maxDuration = "2m")
    void scramClient(byte[] input) throws ScramException {
        FuzzBytes in = new FuzzBytes(input);
        int flags = in.u8();
        boolean withPassword = (flags & 1) != 0;
        String[] parts = new String(in.rest(), StandardCharsets.UTF_8).split("\0", 2);
        String serverFirst = parts[0];
        String serverFinal = parts.length > 1 ? parts[1] : "";
        ScramKeys fixedKeys = ScramCrypto.keysFromPassword(PASSWORD, "salt".getBytes(StandardCharsets.US_ASCII), 1);
        int iterations = iterationsOf(serverFirst);
        if (withPassword && iterations > MAX_CLIENT_ITERATIONS) {
            return; // the server is trusted with its iteration count, as in libpq
        }
        ScramClientExchange client = withPassword
                ? ScramClientExchange.withPassword(PASSWORD, "*", "abc")
                : new ScramClientExchange((salt, i) -> fixedKeys, "*", "abc");
        String clientFirst = client.clientFirstMessage();
        assertThat(clientFirst).isEqualTo("n,,n=*,r=abc");
        String clientFinal;
        try {
            clientFinal = client.handleServerFirst(serverFirst);
        } catch (ScramException e) {
            assertThatThrownBy(() -> client.verifyServerFinal(serverFinal)).isExactlyInstanceOf(ScramException.class);
            return;
        }
        assertThat(clientFinal).startsWith("c=biws,r=abc").contains(",p=");
        String message = serverFinal;
        int at = serverFinal.indexOf("SIG");
        if (at >= 0) {
            ScramKeys keys = fixedKeys;
            if (withPassword) {
                byte[] salt = Base64.getDecoder().decode(serverFirst.replaceAll("(?s)^.*,s=([^,]*),.*$", "$1"));
                keys = ScramCrypto.keysFromPassword(PASSWORD, salt, iterations);
            }
            String authMessage = clientFirst.substring(3) + "," + serverFirst + ","
                    + clientFinal.substring(0, clientFinal.indexOf(",p="));
            String sig = Base64.getEncoder().encodeToString(
                    ScramFunctions.serverSignature(ScramCrypto.MECHANISM, keys.serverKey(), authMessage));
            message = serverFinal.substring(0, at) + sig + serverFinal.substring(at + 3);
        }
        boolean verified = false;
        try {
            client.verifyServerFinal(message);
            verified = true;
        } catch (ScramException e) {
            // refused
        }
        if (verified) {
            assertThat(at).as("verified a server signature nobody computed").isGreaterThanOrEqualTo(0);
        }
        String again = message;
        assertThatThrownBy(() -> client.verifyServerFinal(again)).isExactlyInstanceOf(ScramException.class);
    }

    /** The i= of a server-first-message (its value runs to the next comma, as the parser reads it), else 0. */
    private static int iterationsOf(String serverFirst) {
        int at = serverFirst.indexOf(",i=");
        if (at < 0) {
            return 0;
        }
        int end = serverFirst.indexOf(',', at + 3);
        try {
            return Integer.parseInt(serverFirst.substring(at + 3, end < 0 ? serverFirst.length() : end));
        } catch (NumberFormatException e) {
            return 0; // refused by the client's parser too
        }
    }
}
